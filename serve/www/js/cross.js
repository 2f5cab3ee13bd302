// The cross-exchange view: one row per base asset, a column per exchange and quote, the
// premium of each KRW market over the USDT market of the same base (through USDT-KRW),
// perpetuals beside spot with their premium over spot (the basis, in bps, over the same
// spot market as in the markets table) and funding, the age of every price, and the
// premium's history over the last hour from the page's own samples (one every 10 s).
import { $, el, isNum, setText, setClass, onFrame, schedule, route } from './util.js';
import * as fmt from './format.js';
import { markets, on, serverNow, basisOf, STALE_MS } from './store.js';
import { lines, PALETTE } from './chart.js';

const QUOTES = ['USDT', 'USDC', 'USD', 'KRW'];
const USDT_PREF = ['binance', 'okx', 'bybit', 'bitget', 'coinbase', 'kraken', 'gateio'];
const MAJORS = ['BTC', 'ETH', 'XRP', 'SOL', 'BNB', 'DOGE', 'ADA', 'TRX', 'AVAX', 'LINK', 'DOT', 'TON'];
const MAX_ROWS = 300, MAX_COLS = 24;
const SAMPLE_EVERY = 10000, HISTORY_MS = 3600 * 1000;
const every = { shown: 250, hidden: 1000 };

let dirty = true, lastRun = 0, shape = '';
let cells = new Map();          // "row|col" -> {td, v, age, sub}
let model = null;               // what the last render computed
let selectedBase = '';
const history = new Map();      // "base|exchange" -> [[tMs, premium %], ...]

on('market', () => { dirty = true; });
on('added', () => { dirty = true; });
on('clear', () => { dirty = true; shape = ''; });

function build() {
  const byBase = new Map(), usdtKrw = new Map(), cols = new Map();
  for (const mk of markets.values()) {
    if (!QUOTES.includes(mk.quote) || (mk.kind !== 'spot' && mk.kind !== 'perp')) continue;
    const p = mk.price;
    if (mk.kind === 'spot' && mk.base === 'USDT' && mk.quote === 'KRW') { if (isNum(p)) usdtKrw.set(mk.exchange, p); continue; }
    if (mk.base === 'USDT' || mk.base === 'USDC' || mk.base === 'USD') continue;
    const ck = mk.exchange + ' ' + mk.quote + (mk.kind === 'perp' ? '-PERP' : '');
    let b = byBase.get(mk.base);
    if (!b) byBase.set(mk.base, (b = new Map()));
    b.set(ck, mk);
    if (!cols.has(ck)) cols.set(ck, { key: ck, exchange: mk.exchange, quote: mk.quote, perp: mk.kind === 'perp' });
  }
  const qOrder = (q) => QUOTES.indexOf(q);
  const colList = [...cols.values()]
    .sort((a, b) => qOrder(a.quote) - qOrder(b.quote) || (a.perp - b.perp) || a.exchange.localeCompare(b.exchange))
    .slice(0, MAX_COLS);
  const krwCols = colList.filter((c) => c.quote === 'KRW' && !c.perp);
  const rank = (b) => { const i = MAJORS.indexOf(b); return i < 0 ? MAJORS.length : i; };
  const bases = [...byBase.keys()]
    .sort((a, b) => rank(a) - rank(b) || byBase.get(b).size - byBase.get(a).size || a.localeCompare(b))
    .slice(0, MAX_ROWS);
  const anyFx = usdtKrw.get('upbit') ?? usdtKrw.get('bithumb') ?? [...usdtKrw.values()][0];
  return { byBase, usdtKrw, anyFx, colList, krwCols, bases };
}
// The reference USDT spot market of a base: the preferred exchange that lists it, else any.
function refUsdt(mk) {
  for (const ex of USDT_PREF) { const s = mk.get(ex + ' USDT'); if (s && isNum(s.price)) return s; }
  for (const [k, s] of mk) if (k.endsWith(' USDT') && isNum(s.price)) return s;
  return null;
}
function premium(m, base, col) {
  const mk = m.byBase.get(base);
  const k = mk && mk.get(col.key);
  const ref = mk && refUsdt(mk);
  const fx = m.usdtKrw.get(col.exchange) ?? m.anyFx;
  if (!k || !isNum(k.price) || !ref || !isNum(fx) || fx <= 0 || !(ref.price > 0)) return { k, ref, fx };
  return { k, ref, fx, v: (k.price / (ref.price * fx) - 1) * 100 };
}

function cell(cls, market) {
  const td = el('td', cls);
  if (market) td.dataset.market = market;
  const v = el('span', 'v');
  td.append(v);
  const c = { td, v, age: null, sub: null };
  if (cls.includes('price')) { c.age = el('small', 'age'); td.append(c.age); }
  if (cls.includes('perp')) { c.sub = el('small', 'sub'); td.append(c.sub); }
  return c;
}

function render() {
  dirty = false;
  const m = model = build();
  const table = $('#cross');
  $('#cross-empty').hidden = m.bases.length > 0;
  setText($('#usdt-krw'), m.usdtKrw.size
    ? 'USDT-KRW: ' + [...m.usdtKrw].sort().map(([ex, p]) => {
      const mk = markets.get(ex + '|USDT-KRW');
      return `${ex} ${fmt.price(mk && mk.p, p)}`;
    }).join(' · ')
    : 'USDT-KRW: —');
  const sh = m.colList.map((c) => c.key).join(',') + '/' + m.bases.join(',');
  if (sh !== shape) {
    shape = sh;
    cells = new Map();
    const htr = el('tr');
    htr.append(el('th', null, 'Base'));
    for (const c of m.krwCols) {
      const th = el('th', 'n prem', c.exchange);
      th.append(el('small', null, 'KRW premium'));
      htr.append(th);
    }
    for (const c of m.colList) {
      const th = el('th', 'n' + (c.perp ? ' perp' : ''), c.exchange);
      th.append(el('small', null, c.quote + (c.perp ? ' perp · basis bps · funding' : '')));
      htr.append(th);
    }
    table.tHead.replaceChildren(htr);
    const rows = m.bases.map((base) => {
      const tr = el('tr');
      tr.dataset.base = base;
      if (base === selectedBase) tr.classList.add('sel');
      tr.append(el('td', 'base', base));
      for (const c of m.krwCols) {
        const x = cell('premium n', `${c.exchange}:${base}-KRW`);
        cells.set(base + '|prem ' + c.exchange, x);
        tr.append(x.td);
      }
      for (const c of m.colList) {
        const x = cell('n price' + (c.perp ? ' perp' : ''), `${c.exchange}:${base}-${c.quote}${c.perp ? '-PERP' : ''}`);
        cells.set(base + '|' + c.key, x);
        tr.append(x.td);
      }
      return tr;
    });
    table.tBodies[0].replaceChildren(...rows);
    if (!selectedBase || !m.bases.includes(selectedBase)) selectBase(m.bases[0] || '');
  }
  const t = serverNow();
  for (const base of m.bases) {
    const row = m.byBase.get(base);
    for (const c of m.colList) {
      const mk = row.get(c.key);
      const x = cells.get(base + '|' + c.key);
      setText(x.v, mk && isNum(mk.price) ? fmt.price(mk.p, mk.price) : '—');
      if (c.perp) {
        const b = mk && basisOf(mk);
        const bps = b ? b.bps : undefined;
        const f = mk && mk.deriv && mk.deriv.funding_rate;
        setText(x.sub, (isNum(bps) ? fmt.bpsSigned(bps) + ' bps' : '') + (isNum(f) ? (isNum(bps) ? ' · ' : '') + 'f ' + fmt.funding(f) : ''));
        setClass(x.sub, 'sub' + (bps > 0 ? ' up' : bps < 0 ? ' down' : ''));
        x.td.title = mk ? `${mk.exchange} ${mk.symbol}` + (isNum(bps) ? `: ${b.from} ${fmt.exact(b.px)}, basis ${fmt.bpsSigned(bps)} bps over ${b.spot.exchange} ${b.spot.symbol} ${fmt.derived(b.spot.p, b.spotPx)}` : '')
          + (isNum(f) ? `, funding rate ${fmt.funding(f)}` : '') : '';
      }
      cellAge(x, mk, t);
    }
    for (const c of m.krwCols) {
      const x = cells.get(base + '|prem ' + c.exchange);
      const p = premium(m, base, c);
      if (isNum(p.v)) {
        setText(x.v, fmt.pct(p.v));
        setClass(x.td, 'premium n' + (p.v > 0 ? ' up' : p.v < 0 ? ' down' : ''));
        x.td.title = `${c.exchange} ${base}-KRW ${fmt.price(p.k.p, p.k.price)} / (${p.ref.exchange} ${base}-USDT ${fmt.price(p.ref.p, p.ref.price)} × USDT-KRW ${fmt.exact(p.fx)}) − 1`;
      } else {
        setText(x.v, '—');
        setClass(x.td, 'premium n');
        x.td.title = !p.k ? `no ${c.exchange} ${base}-KRW market` : !p.ref ? `no ${base}-USDT price` : !isNum(p.fx) ? 'no USDT-KRW price' : 'no price yet';
      }
    }
  }
}
function cellAge(x, mk, t) {
  if (!x.age) return;
  const a = mk && mk.t ? (t - mk.t) / 1000 : undefined;
  setText(x.age, isNum(a) ? fmt.age(a) : '');
  setClass(x.td, x.td.className.replace(/ stale\b/g, '') + (isNum(a) && a * 1000 > STALE_MS ? ' stale' : ''));
}

onFrame((t) => {
  if (!dirty) return 0;
  const due = route.name === 'cross' ? every.shown : every.hidden;
  if (t - lastRun < due) return due - (t - lastRun);
  lastRun = t;
  render();
  return 0;
});

// ---- history

let sampledAt = 0;
function sample() {
  const t = serverNow();
  const m = model && !dirty ? model : build();
  for (const base of m.bases) {
    for (const c of m.krwCols) {
      const p = premium(m, base, c);
      if (!isNum(p.v)) continue;
      const k = base + '|' + c.exchange;
      let h = history.get(k);
      if (!h) history.set(k, (h = []));
      h.push([t, p.v]);
    }
  }
  for (const [k, h] of history) {
    while (h.length && h[0][0] < t - HISTORY_MS) h.shift();
    if (!h.length) history.delete(k);
  }
}
function drawHistory() {
  const canvas = $('#cross-chart');
  const t1 = serverNow();
  const series = [];
  let i = 0, first = t1;
  for (const [k, h] of history) {
    const [base, ex] = k.split('|');
    if (base !== selectedBase) continue;
    series.push({ name: ex, color: PALETTE[i++ % PALETTE.length], points: h });
    if (h.length && h[0][0] < first) first = h[0][0];
  }
  // The hour, or since the first sample when the page is younger (at least 5 minutes).
  const t0 = Math.max(t1 - HISTORY_MS, Math.min(first, t1 - 5 * 60000));
  lines(canvas, series, t0, t1, (v) => fmt.pct(v));
  const legend = $('#cross-legend');
  legend.replaceChildren(...series.map((s) => {
    const li = el('li');
    const sw = el('span', 'swatch');
    sw.style.background = s.color;
    const last = s.points.length ? s.points[s.points.length - 1][1] : undefined;
    li.append(sw, `${s.name} ${isNum(last) ? fmt.pct(last) : ''}`);
    return li;
  }));
  setText($('#cross-chart-title'), selectedBase ? `${selectedBase} KRW premium, last hour` : 'KRW premium, last hour');
  setText($('#cross-samples'), series.length ? `${series.reduce((n, s) => n + s.points.length, 0)} samples` : '');
}
function selectBase(base) {
  selectedBase = base;
  for (const tr of $('#cross').tBodies[0].rows) tr.classList.toggle('sel', tr.dataset.base === base);
  if (route.name === 'cross') drawHistory();
}
$('#cross').tBodies[0].addEventListener('click', (ev) => {
  const tr = ev.target.closest('tr[data-base]');
  if (tr) selectBase(tr.dataset.base);
});

// Once a second: samples every 10 s, and the ages on screen.
export function tick() {
  const now = Date.now();
  if (now - sampledAt >= SAMPLE_EVERY) {
    sampledAt = now;
    sample();
    if (route.name === 'cross') drawHistory();
  }
  if (route.name !== 'cross' || !model) return;
  const t = serverNow();
  for (const base of model.bases) {
    const row = model.byBase.get(base);
    if (!row) continue;
    for (const c of model.colList) { const x = cells.get(base + '|' + c.key); if (x) cellAge(x, row.get(c.key), t); }
  }
}
export function shown() { dirty = true; lastRun = 0; schedule(); drawHistory(); }
window.addEventListener('resize', () => { if (route.name === 'cross') drawHistory(); });
