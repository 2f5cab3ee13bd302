// The markets table: one row per exchange and symbol, with prices, spread, the day's range,
// volumes with their units, a sparkline of the last minutes and the age of the last update.
// A perpetual or dated future sits right after the spot market it is measured against, with
// its mark price, basis over that spot market (bps), funding rate with the time to the next
// funding, and open interest. Rows of a stale feed are dimmed. A search box filters as you
// type; a star pins a market to the top (the watchlist, kept in localStorage). A click opens
// the market's order book.
//
// The table is a CSS grid per row, each row a fixed-height, fully contained box skipped by
// the browser while off screen: updating a few cells never re-lays out a 2000-row table.
// Rows off screen are only marked and repainted once a second, or when scrolled into view.
import { $, el, isNum, now, setText, setClass, onFrame, schedule, storage, route } from './util.js';
import * as fmt from './format.js';
import { markets, on, state, serverNow, staleExchanges, spotOf, spotVenue, derivativesOf, basisOf, SPARK_EVERY } from './store.js';

const AGE_WARN = 5, AGE_BAD = 30;
const FLASH_MS = 450;
const every = { rows: 100, order: 250 };
// Venues whose 24 h change is not rolling: it runs from the day's open.
const CHANGE_BASIS = {
  upbit: "since 00:00 KST (the exchange's day open), not a rolling 24 h",
  bithumb: "since 00:00 KST (the exchange's day open), not a rolling 24 h",
};
const COLS = ['pin', 'exchange', 'symbol', 'last', 'bid', 'ask', 'spread', 'change', 'mark', 'basis', 'funding', 'oi',
  'high', 'low', 'volume', 'qvol', 'trend', 'age'];

const table = $('#market');
const body = table.tBodies[0];
const wrap = $('.market-wrap');
const search = $('#m-search');
const watchOnly = $('#m-watch-only');
let onOpen = () => {};
export function onOpenBook(fn) { onOpen = fn; }

const dirty = new Set();          // markets to repaint next frame
const stale = new Set();          // off-screen markets with changes not yet shown
let orderDirty = true, rangeDirty = false;
let nDeriv = 0;                   // derivatives in the table: their columns show while any is
let sort = { key: null, dir: 1 };
let selected = '';
const lastRun = { rows: 0, order: 0 };
const watch = new Set(storage.get('relay.watchlist', []).filter((k) => typeof k === 'string').slice(0, 500));
watchOnly.checked = !!storage.get('relay.watchOnly', false);

// Per market view state, kept off the store's objects.
const views = new WeakMap();
function view(mk) {
  let v = views.get(mk);
  if (!v) { v = { row: null, cells: null, index: -1, shown: {}, fmtGen: -1, sparkGen: -1, dim: false }; views.set(mk, v); }
  return v;
}

// While the rows wait for their next turn a timer is set: no frame is asked for meanwhile.
let waiting = false;
on('market', (mk) => { dirty.add(mk); if (!waiting) schedule(); });
on('added', (mk) => { if (mk.kind !== 'spot') nDeriv++; orderDirty = true; schedule(); });
on('removed', (mk) => {
  if (mk.kind !== 'spot') nDeriv--;
  dropRow(mk); dirty.delete(mk); stale.delete(mk); orderDirty = true; schedule();
});
on('clear', () => { nDeriv = 0; body.replaceChildren(); dirty.clear(); stale.clear(); orderDirty = true; schedule(); });

function buildRow(mk, v) {
  const tr = document.createElement('tr');
  tr.setAttribute('role', 'row');     // the table is styled as grid rows: keep its semantics explicit
  tr.dataset.exchange = mk.exchange;
  tr.dataset.symbol = mk.symbol;
  tr.dataset.key = mk.key;
  tr.tabIndex = -1;
  const c = {};
  for (const name of COLS) {
    const td = c[name] = tr.appendChild(el('td', name));
    td.setAttribute('role', 'cell');
  }
  const pin = el('button', 'pin');
  pin.type = 'button';
  c.pin.append(pin);
  c.pinBtn = pin;
  c.exchange.textContent = mk.exchange;
  c.exchange.title = mk.exchange;
  const sym = el('button', 'sym', mk.symbol);
  sym.type = 'button';
  sym.title = 'open the order book of ' + mk.exchange + ' ' + mk.symbol;
  c.symbol.append(sym);
  c.symbol.dataset.ex = mk.exchange;
  if (mk.kind !== 'spot') {
    tr.classList.add(mk.kind);
    c.fr = c.funding.appendChild(el('span', 'fr'));
    c.next = c.funding.appendChild(el('small', 'next'));
  }
  if (CHANGE_BASIS[mk.exchange]) { c.change.classList.add('day'); c.change.title = CHANGE_BASIS[mk.exchange]; }
  c.trend.innerHTML = '<svg viewBox="0 0 60 16" preserveAspectRatio="none" aria-hidden="true"><polyline/></svg>';
  c.line = c.trend.firstChild.firstChild;
  v.row = tr;
  v.cells = c;
  renderPin(mk, v);
  if (selected === mk.key) tr.classList.add('sel');
}
function renderPin(mk, v) {
  const on_ = watch.has(mk.key);
  v.cells.pinBtn.textContent = on_ ? '★' : '☆';
  v.cells.pinBtn.setAttribute('aria-pressed', on_ ? 'true' : 'false');
  v.cells.pinBtn.title = on_ ? 'remove from the watchlist' : 'pin to the watchlist';
  v.row.classList.toggle('pinned', on_);
}
function dropRow(mk) {
  const v = views.get(mk);
  if (!v || !v.row) return;
  flashing.delete(v.cells.last);
  v.row.remove();
  v.row = null;
  v.index = -1;
}

// A changed price lights up its cell for a moment: one class on, one class off, the "off"
// from a timer at the first expiry, so a busy table renders only when something changes
// (not a frame every 16 ms while any cell is lit).
const flashing = new Map();
let unflashAt = 0, unflashTimer = 0;
function flash(td, up) {
  const cls = up ? 'flash-up' : 'flash-down';
  if (!td.classList.contains(cls)) { td.classList.remove('flash-up', 'flash-down'); td.classList.add(cls); }
  const end = now() + FLASH_MS;
  flashing.set(td, end);
  armUnflash(end);
}
function armUnflash(end) {
  if (unflashTimer && unflashAt <= end) return;
  clearTimeout(unflashTimer);
  unflashAt = end;
  unflashTimer = setTimeout(() => { unflashTimer = 0; unflashDue = true; schedule(); }, Math.max(0, end - now()));
}
let unflashDue = false;
function unflash(t) {
  unflashDue = false;
  let next = Infinity;
  for (const [td, end] of flashing) {
    if (end > t) { if (end < next) next = end; continue; }
    td.classList.remove('flash-up', 'flash-down');
    flashing.delete(td);
  }
  if (next !== Infinity) armUnflash(next);
}

function renderRow(mk, animate) {
  const v = view(mk);
  if (!v.row) buildRow(mk, v);
  const c = v.cells;
  let shown = v.shown;
  if (v.fmtGen !== mk.fmtGen) { shown = v.shown = {}; v.fmtGen = mk.fmtGen; }
  for (const f of ['last', 'bid', 'ask']) {
    const val = mk[f];
    if (val === shown[f]) continue;
    c[f].textContent = fmt.price(mk.p, val);
    // Only the last price flashes: bid and ask move with every book, and lighting them up
    // ten times a second would be noise (and style work).
    if (f === 'last' && animate && isNum(val) && isNum(shown[f]) && v.row.isConnected) flash(c[f], val > shown[f]);
    shown[f] = val;
  }
  for (const f of ['high', 'low']) {
    if (mk[f] === shown[f]) continue;
    c[f].textContent = fmt.price(mk.p, mk[f]);
    shown[f] = mk[f];
  }
  const sp = mk.spreadBps;
  if (sp !== shown.spread) {
    c.spread.textContent = fmt.bps(sp);
    c.spread.title = isNum(sp) ? `${fmt.price(mk.p, mk.spread)} ${mk.quote} (${fmt.bps(sp)} bps)` : '';
    shown.spread = sp;
  }
  const ch = mk.change;
  if (ch !== shown.change) {
    c.change.textContent = fmt.pct(ch);
    setClass(c.change, 'change' + (ch > 0 ? ' up' : ch < 0 ? ' down' : '') + (CHANGE_BASIS[mk.exchange] ? ' day' : ''));
    shown.change = ch;
  }
  if (mk.volume !== shown.volume) {
    c.volume.textContent = fmt.volume(mk.volume, mk.base);
    c.volume.title = isNum(mk.volume) ? fmt.exact(mk.volume) + ' ' + mk.base : '';
    shown.volume = mk.volume;
  }
  if (mk.quoteVolume !== shown.qvol) {
    c.qvol.textContent = fmt.volume(mk.quoteVolume, mk.quote);
    c.qvol.title = isNum(mk.quoteVolume) ? fmt.exact(mk.quoteVolume) + ' ' + mk.quote : '';
    shown.qvol = mk.quoteVolume;
  }
  if (mk.kind !== 'spot') renderDeriv(mk, v, shown);
  if (mk.sparkGen !== v.sparkGen) { v.sparkGen = mk.sparkGen; drawSpark(mk, c); }
  const t = serverNow();
  renderAge(mk, v, t);
  if (c.next) renderNext(mk, v, t);
}
// A derivative's cells: mark, basis over its spot market, funding rate, open interest. The
// basis moves with either market, so it is compared by value, not by the line that came.
function renderDeriv(mk, v, shown) {
  const c = v.cells, d = mk.deriv;
  if (d && d.t !== shown.deriv) {
    shown.deriv = d.t;
    c.mark.textContent = fmt.computed(mk.p, d.mark);
    c.mark.title = [isNum(d.mark) ? 'mark ' + fmt.exact(d.mark) : '', isNum(d.index) ? 'index ' + fmt.exact(d.index) : ''].filter(Boolean).join(' · ');
    const fr = d.funding_rate;
    c.fr.textContent = fmt.funding(fr);
    setClass(c.funding, 'funding' + (fr > 0 ? ' up' : fr < 0 ? ' down' : ''));
    c.funding.title = isNum(fr) ? `funding rate ${fmt.funding(fr)} per period (${fr > 0 ? 'longs pay shorts' : fr < 0 ? 'shorts pay longs' : 'nobody pays'})`
      + (isNum(d.predicted_funding_rate) ? ` · predicted next ${fmt.funding(d.predicted_funding_rate)}` : '')
      + (isNum(d.funding_ts) ? ` · next funding ${fmt.stamp(d.funding_ts)}` : '') : '';
    c.oi.textContent = fmt.volume(d.open_interest, mk.base);
    c.oi.title = isNum(d.open_interest) ? `open interest ${fmt.exact(d.open_interest)} ${mk.base}`
      + (isNum(d.open_interest_value) ? ` (value ${fmt.volume(d.open_interest_value, mk.quote)})` : '') : '';
  }
  const b = basisOf(mk);
  const bps = b ? b.bps : undefined;
  if (bps !== shown.basis || (b && b.spot) !== shown.basisSpot) {
    shown.basis = bps;
    shown.basisSpot = b && b.spot;
    c.basis.textContent = fmt.bpsSigned(bps);
    setClass(c.basis, 'basis' + (bps > 0 ? ' up' : bps < 0 ? ' down' : ''));
    c.basis.title = !b ? `no spot market of ${mk.base} to measure ${mk.symbol} against`
      : !isNum(bps) ? `basis over ${b.spot.exchange} ${b.spot.symbol}: no price yet`
        : `basis ${fmt.bpsSigned(bps)} bps: ${mk.symbol} ${b.from} ${fmt.exact(b.px)} over ${b.spot.exchange} ${b.spot.symbol} ${fmt.exact(b.spotPx)}`;
  }
}
// Time to the next funding, from the venue's funding time on the server's clock.
function renderNext(mk, v, t) {
  const ts = mk.deriv && mk.deriv.funding_ts;
  setText(v.cells.next, isNum(ts) ? fmt.countdown((ts / 1000 - t) / 1000) : '');
}
function renderAge(mk, v, nowMs) {
  if (!v.cells) return;
  const a = mk.t ? Math.max(0, (nowMs - mk.t) / 1000) : undefined;
  setText(v.cells.age, fmt.age(a));
  setClass(v.cells.age, a === undefined ? 'age' : a >= AGE_BAD ? 'age bad' : a >= AGE_WARN ? 'age warn' : 'age');
}
// The samples, and the price now as the last point, across the cell's width: a page opened
// a minute ago shows its minute; the tooltip says how long the line covers.
function drawSpark(mk, c) {
  const s = mk.spark.slice();
  const now = mk.price;
  if (isNum(now)) s.push(now);
  let min = Infinity, max = -Infinity, n = 0, first = null, last = null;
  for (const p of s) {
    if (p === null) continue;
    n++;
    if (p < min) min = p;
    if (p > max) max = p;
    if (first === null) first = p;
    last = p;
  }
  if (n < 2) { c.line.setAttribute('points', ''); return; }
  const step = 60 / (s.length - 1);
  // A price that did not move is a line across the middle.
  const y = max > min ? (p) => 15 - ((p - min) / (max - min)) * 14 : () => 8;
  let pts = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === null) continue;
    pts += `${(i * step).toFixed(1)},${y(s[i]).toFixed(1)} `;
  }
  c.line.setAttribute('points', pts);
  setClass(c.trend, 'trend ' + (last > first ? 'up' : last < first ? 'down' : ''));
  const minutes = ((mk.spark.length * SPARK_EVERY) / 60000).toFixed(1).replace(/\.0$/, '');
  c.trend.title = `last ${minutes} min: ${fmt.price(mk.p, min)} – ${fmt.price(mk.p, max)}`;
}

// ---- order, search and watchlist

const deriv = (m, k) => (m.deriv && isNum(m.deriv[k]) ? m.deriv[k] : undefined);
const sortValue = {
  exchange: (m) => m.exchange, symbol: (m) => m.symbol, last: (m) => m.last, bid: (m) => m.bid, ask: (m) => m.ask,
  spread: (m) => m.spreadBps, change: (m) => m.change, high: (m) => m.high, low: (m) => m.low,
  volume: (m) => m.volume, qvol: (m) => m.quoteVolume, age: (m) => (m.t ? -m.t : undefined),
  mark: (m) => deriv(m, 'mark'), funding: (m) => deriv(m, 'funding_rate'),
  basis: (m) => { const b = m.kind !== 'spot' && basisOf(m); return b ? b.bps : undefined; },
  // Open interest by value, so markets of different bases compare.
  oi: (m) => deriv(m, 'open_interest_value') ?? (isNum(deriv(m, 'open_interest')) && isNum(m.price) ? m.deriv.open_interest * m.price : undefined),
};
const KIND_ORDER = { spot: 0, perp: 1, future: 2, other: 3 };
function compare(a, b) {
  const pa = watch.has(a.key), pb = watch.has(b.key);
  if (pa !== pb) return pa ? -1 : 1;
  if (sort.key) {
    const va = sortValue[sort.key](a), vb = sortValue[sort.key](b);
    const ua = va === undefined, ub = vb === undefined;
    if (ua !== ub) return ua ? 1 : -1;        // unknown values last whatever the direction
    if (!ua && va !== vb) {
      const r = typeof va === 'string' ? va.localeCompare(vb) : va - vb;
      if (r) return r * sort.dir;
    }
  }
  // Default: by base, quote and exchange; a derivative right after the spot market it is
  // measured against (or where its venue's spot market would be).
  // Under one spot market: perpetuals, then futures; the venue's own first.
  const ga = groupOf(a), gb = groupOf(b);
  return cmp(a.base, b.base) || cmp(ga.quote, gb.quote) || cmp(ga.exchange, gb.exchange)
    || KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || (spotVenue(b.exchange) === gb.exchange) - (spotVenue(a.exchange) === ga.exchange)
    || cmp(a.exchange, b.exchange) || cmp(a.symbol, b.symbol);
}
const cmp = (x, y) => (x < y ? -1 : x > y ? 1 : 0);
function groupOf(m) {
  if (m.kind === 'spot') return m;
  return spotOf(m) || { quote: m.quote, exchange: spotVenue(m.exchange) };
}
let terms = [];
function matches(mk) {
  if (watchOnly.checked && !watch.has(mk.key)) return false;
  if (!terms.length) return true;
  const hay = (mk.exchange + ' ' + mk.symbol).toLowerCase();
  return terms.every((t) => hay.includes(t));
}
function reorder() {
  orderDirty = false;
  const list = [];
  for (const mk of markets.values()) {
    if (!matches(mk)) { const v = views.get(mk); if (v && v.row) { v.row.remove(); v.index = -1; } continue; }
    list.push(mk);
  }
  list.sort(compare);
  let node = body.firstChild;
  list.forEach((mk, i) => {
    const v = view(mk);
    if (!v.row || v.index < 0) { renderRow(mk, false); dirty.delete(mk); }   // new, or back from the search
    v.index = i;
    if (node === v.row) { node = node.nextSibling; return; }
    body.insertBefore(v.row, node);
  });
  rangeDirty = true;
  table.classList.toggle('deriv', nDeriv > 0);
  const shownN = list.length, total = markets.size;
  setText($('#market-count'), !total ? '' : (shownN === total ? `${total} market${total === 1 ? '' : 's'}` : `${shownN} of ${total} markets`)
    + (state.capped ? ' (limit reached: narrow the filter)' : ''));
  const empty = $('#market-empty');
  empty.hidden = shownN > 0;
  setText(empty, total ? (watchOnly.checked && !watch.size ? 'no market pinned yet: ☆ pins one' : 'no market matches the search') : 'waiting for data…');
}

// Rows on screen, as a range of row positions: rows have one fixed height, so one
// measurement of the body against its scroll box and the window is enough.
function visibleRange() {
  const n = body.childElementCount;
  if (!n || route.name !== 'monitor' || document.hidden) return [0, -1];
  const b = body.getBoundingClientRect();
  const w = wrap.getBoundingClientRect();
  const top = Math.max(w.top, 0), bottom = Math.min(w.bottom, window.innerHeight);
  if (bottom <= top || !b.height) return [0, -1];
  const h = b.height / n, margin = 5;
  return [Math.max(0, Math.floor((top - b.top) / h) - margin), Math.min(n - 1, Math.ceil((bottom - b.top) / h) + margin)];
}
const onScroll = () => { if (stale.size) { rangeDirty = true; schedule(); } };
wrap.addEventListener('scroll', onScroll, { passive: true });
window.addEventListener('scroll', onScroll, { passive: true });
window.addEventListener('resize', onScroll);
document.addEventListener('visibilitychange', onScroll);

onFrame((t) => {
  let wait = 0;
  waiting = false;
  const pace = (k) => { const w = every[k] - (t - lastRun[k]); if (!wait || w < wait) wait = w; };
  if (orderDirty) {
    // The first rows of a fresh table go in at once; later arrivals and re-sorts are paced.
    if (body.childElementCount < 50 || t - lastRun.order >= every.order) { lastRun.order = t; reorder(); } else pace('order');
  }
  if (dirty.size || (rangeDirty && stale.size)) {
    // At most ~10 repaints a second per row: faster than the eye, far cheaper than 60.
    if (t - lastRun.rows >= every.rows) {
      lastRun.rows = t;
      const [first, lastRow] = visibleRange();
      // A spot price moves the basis of the derivatives measured against it.
      if (nDeriv) for (const mk of [...dirty]) if (mk.kind === 'spot') for (const d of derivativesOf(mk)) dirty.add(d);
      for (const mk of dirty) {
        const v = view(mk);
        if (v.index < 0) continue;
        if (!v.row || (v.index >= first && v.index <= lastRow)) renderRow(mk, true);
        else stale.add(mk);
      }
      dirty.clear();
      if (rangeDirty) {
        for (const mk of stale) { const v = view(mk); if (v.index >= first && v.index <= lastRow) { renderRow(mk, false); stale.delete(mk); } }
      }
      rangeDirty = false;
    } else { pace('rows'); waiting = true; }
  }
  if (unflashDue) unflash(t);
  return wait;
});

// Once a second (and when the link changes): off-screen rows catch up, ages tick, stale
// feeds dim their rows. Returns the exchanges dimmed.
export function tick() {
  for (const mk of stale) if (view(mk).row) renderRow(mk, false);
  stale.clear();
  const t = serverNow();
  const dim = staleExchanges(t);
  for (const mk of markets.values()) {
    const v = views.get(mk);
    if (!v || !v.row) continue;
    if (v.index >= 0) { renderAge(mk, v, t); if (v.cells.next) renderNext(mk, v, t); }
    const d = dim.has(mk.exchange);
    if (d !== v.dim) { v.dim = d; v.row.classList.toggle('stale', d); }
    if (mk.sparkGen !== v.sparkGen && v.index >= 0) { v.sparkGen = mk.sparkGen; drawSpark(mk, v.cells); }
  }
  if (sort.key && sort.key !== 'exchange' && sort.key !== 'symbol') orderDirty = true;
  if (orderDirty) schedule();
  return dim;
}

// ---- events

table.tHead.addEventListener('click', (ev) => {
  const th = ev.target.closest('th[data-sort]');
  if (!th) return;
  const key = th.dataset.sort;
  const firstDir = key === 'exchange' || key === 'symbol' ? 1 : -1;   // text ascending, numbers largest first
  if (sort.key !== key) sort = { key, dir: firstDir };
  else if (sort.dir === firstDir) sort.dir = -firstDir;
  else sort = { key: null, dir: 1 };        // third click: back to the default order
  for (const h of table.tHead.querySelectorAll('th[data-sort]')) {
    h.setAttribute('aria-sort', h.dataset.sort === sort.key ? (sort.dir === 1 ? 'ascending' : 'descending') : 'none');
  }
  orderDirty = true;
  schedule();
});
body.addEventListener('click', (ev) => {
  const tr = ev.target.closest('tr[data-key]');
  if (!tr) return;
  const mk = markets.get(tr.dataset.key);
  if (!mk) return;
  if (ev.target.closest('button.pin')) {
    if (watch.has(mk.key)) watch.delete(mk.key); else watch.add(mk.key);
    storage.set('relay.watchlist', [...watch]);
    renderPin(mk, view(mk));
    orderDirty = true;
    schedule();
    return;
  }
  onOpen(mk);
});
search.addEventListener('input', () => {
  terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
  orderDirty = true;
  lastRun.order = 0;
  schedule();
});
watchOnly.addEventListener('change', () => {
  storage.set('relay.watchOnly', watchOnly.checked);
  orderDirty = true;
  lastRun.order = 0;
  schedule();
});

// The market whose book is open is marked in the table.
export function select(key) {
  if (selected) { const mk = markets.get(selected); const v = mk && views.get(mk); if (v && v.row) v.row.classList.remove('sel'); }
  selected = key || '';
  const mk = markets.get(selected);
  const v = mk && views.get(mk);
  if (v && v.row) v.row.classList.add('sel');
}
// Back on the monitor: rows repaint where they were left stale.
export function shown() { rangeDirty = true; schedule(); }
