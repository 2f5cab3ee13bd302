// The order book panel: the top 20 bids and asks of the market clicked in the table, with
// cumulative size and depth bars, spread (absolute and in basis points), mid and the age
// of the last update, repainted live at most 10 times a second. For a perpetual or a future
// also its mark and index prices, basis over its spot market, funding rate with the time to
// the next funding, and open interest.
import { $, el, isNum, setText, setClass, onFrame, schedule } from './util.js';
import * as fmt from './format.js';
import { on, serverNow, spotOf, basisOf } from './store.js';

const LEVELS = 20;
const EVERY = 100;

const panel = $('#book');
const asksBody = $('#book-asks');
const bidsBody = $('#book-bids');
let current = null;        // the Market shown
let dirty = false, lastRun = 0, fmtGen = -1;
const listeners = [];
export function onChange(fn) { listeners.push(fn); }

// Twenty rows per side, built once; each remembers what it shows. Asks are laid out best
// last (REVERSE), so the best ask sits on the spread line, just above the best bid.
function makeRows(tbody, side, reverse) {
  const rows = [];
  for (let i = 0; i < LEVELS; i++) {
    const tr = el('tr', 'lvl ' + side);
    const px = el('td', 'px'), sz = el('td', 'sz'), cum = el('td', 'cum');
    tr.append(px, sz, cum);
    if (reverse) tbody.prepend(tr); else tbody.append(tr);
    rows.push({ tr, px, sz, cum, shown: [undefined, undefined, undefined], depth: -1, level: null });
  }
  return rows;
}
const askRows = makeRows(asksBody, 'ask', true);
const bidRows = makeRows(bidsBody, 'bid');

// While a repaint waits for its turn a timer is set: no frame is asked for meanwhile.
let waiting = false;
const mark = (mk) => { if (mk === current) { dirty = true; if (!waiting) schedule(); } };
on('book', mark);
on('market', mark);   // the last price, with or without a book
// The spot price under a derivative's basis.
on('market', (mk) => { if (current && mk.kind === 'spot' && current.kind !== 'spot' && spotOf(current) === mk) mark(current); });
on('removed', (mk) => { if (mk === current) close(); });
on('clear', () => close());

export function open(mk) {
  current = mk;
  fmtGen = -1;
  panel.hidden = false;
  panel.dataset.key = mk.key;
  setText($('#book-title'), mk.symbol);
  setText($('#book-exchange'), mk.exchange);
  dirty = true;
  schedule();
  for (const fn of listeners) fn(mk.key);
  // On a narrow screen the panel sits below the table: bring it into view.
  if (window.matchMedia('(max-width: 1279px)').matches) panel.scrollIntoView({ block: 'start', behavior: 'auto' });
}
export function close() {
  current = null;
  panel.hidden = true;
  delete panel.dataset.key;
  for (const fn of listeners) fn('');
}
$('#book-close').addEventListener('click', close);

function paintSide(rows, levels, p, maxCum, reforce) {
  let cum = 0;
  for (let i = 0; i < LEVELS; i++) {
    const r = rows[i];
    const l = i < levels.length ? levels[i] : null;
    r.level = l;
    if (l) cum += l[1];
    const vals = l ? [l[0], l[1], cum] : [undefined, undefined, undefined];
    if (reforce || vals[0] !== r.shown[0]) r.px.textContent = l ? fmt.price(p, l[0]) : '';
    if (reforce || vals[1] !== r.shown[1]) r.sz.textContent = l ? fmt.size(p, l[1]) : '';
    if (reforce || vals[2] !== r.shown[2]) r.cum.textContent = l ? fmt.size(p, cum) : '';
    r.shown = vals;
    // The depth bar: cumulative size against the larger side's total, in whole percent.
    const depth = l && maxCum > 0 ? Math.round((cum / maxCum) * 100) : 0;
    if (depth !== r.depth) { r.depth = depth; r.tr.style.setProperty('--depth', depth + '%'); }
    r.tr.classList.toggle('empty', !l);
  }
}
function total(levels) {
  let s = 0;
  for (let i = 0; i < levels.length && i < LEVELS; i++) s += levels[i][1];
  return s;
}

function paint() {
  dirty = false;
  const mk = current;
  const b = mk.book;
  const reforce = fmtGen !== mk.fmtGen;
  fmtGen = mk.fmtGen;
  $('#book-empty').hidden = !!b;
  const bids = b ? b.bids : [], asks = b ? b.asks : [];
  const maxCum = Math.max(total(bids), total(asks));
  paintSide(bidRows, bids, mk.p, maxCum, reforce);
  paintSide(askRows, asks, mk.p, maxCum, reforce);
  const bestBid = bids.length ? bids[0][0] : mk.bid, bestAsk = asks.length ? asks[0][0] : mk.ask;
  const spread = isNum(bestBid) && isNum(bestAsk) ? bestAsk - bestBid : undefined;
  const mid = isNum(spread) ? (bestBid + bestAsk) / 2 : undefined;
  setText($('#book-spread'), isNum(spread) ? fmt.price(mk.p, spread) : '—');
  setText($('#book-spread-bps'), isNum(spread) && mid > 0 ? fmt.bps((spread / mid) * 1e4) + ' bps' : '');
  setText($('#book-mid'), isNum(mid) ? fmt.derived(mk.p, mid) : '—');
  setText($('#book-last'), isNum(mk.last) ? fmt.price(mk.p, mk.last) : '—');
  setClass($('#book-spread-row'), 'spread-row' + (isNum(spread) && spread < 0 ? ' crossed' : ''));
  setText($('#book-levels'), b ? `${Math.min(LEVELS, bids.length)} bids · ${Math.min(LEVELS, asks.length)} asks` : '');
  $('#book-deriv').hidden = mk.kind === 'spot';
  if (mk.kind !== 'spot') paintDeriv(mk);
  ageTick();
}
function paintDeriv(mk) {
  const d = mk.deriv || {};
  const val = (id, text, title) => { const e = $(id); setText(e, text || '—'); e.title = title || ''; };
  val('#book-mark', fmt.computed(mk.p, d.mark), isNum(d.mark) ? fmt.exact(d.mark) : '');
  val('#book-index', fmt.computed(mk.p, d.index), isNum(d.index) ? fmt.exact(d.index) : '');
  const b = basisOf(mk);
  val('#book-basis', b && isNum(b.bps) ? fmt.bpsSigned(b.bps) + ' bps' : '',
    b && isNum(b.bps) ? `${mk.symbol} ${b.from} over ${b.spot.exchange} ${b.spot.symbol} ${fmt.derived(b.spot.p, b.spotPx)}` : '');
  val('#book-funding', fmt.funding(d.funding_rate), isNum(d.predicted_funding_rate) ? 'predicted next ' + fmt.funding(d.predicted_funding_rate) : '');
  val('#book-oi', fmt.volume(d.open_interest, mk.base), isNum(d.open_interest) ? fmt.exact(d.open_interest) + ' ' + mk.base
    + (isNum(d.open_interest_value) ? ` (value ${fmt.volume(d.open_interest_value, mk.quote)})` : '') : '');
}
export function ageTick() {
  if (!current) return;
  const b = current.book;
  const t = serverNow();
  const a = b ? (t - b.t) / 1000 : undefined;
  setText($('#book-age'), isNum(a) ? fmt.age(a) : '—');
  setClass($('#book-age'), 'num' + (a >= 30 ? ' bad' : a >= 5 ? ' warn' : ''));
  const ts = current.deriv && current.deriv.funding_ts;
  if (current.kind !== 'spot') setText($('#book-next'), isNum(ts) ? fmt.countdown((ts / 1000 - t) / 1000) : '—');
}

onFrame((t) => {
  waiting = false;
  if (!dirty || !current || panel.hidden) return 0;
  if (t - lastRun < EVERY) { waiting = true; return EVERY - (t - lastRun); }
  lastRun = t;
  paint();
  return 0;
});

// Exact values on hover: sizes are rounded for display.
panel.addEventListener('mouseover', (ev) => {
  const td = ev.target.closest('td');
  if (!td || !current) return;
  const rows = td.closest('tbody') === asksBody ? askRows : td.closest('tbody') === bidsBody ? bidRows : null;
  if (!rows) return;
  const r = rows.find((x) => x.tr === td.parentNode);
  if (!r || !r.level) { td.title = ''; return; }
  td.title = td.classList.contains('cum') ? `${fmt.exact(r.shown[2])} ${current.base} up to ${fmt.exact(r.level[0])}`
    : `${fmt.exact(r.level[1])} ${current.base} at ${fmt.exact(r.level[0])} ${current.quote}`;
});
