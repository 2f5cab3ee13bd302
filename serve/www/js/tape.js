// The trade tape: the latest 50 trades, newest first. It pauses with its button or while
// the pointer is over it (new trades wait, counted), filters by symbol and by a minimum
// value in US dollars (USD stablecoins at par, KRW through the USDT-KRW price), and marks
// a gap in the stream where the server says lines were missed. A liquidation stands out and
// says which position went: a sell order liquidates a long, a buy order a short.
import { $, el, isNum, setText, onFrame, schedule } from './util.js';
import * as fmt from './format.js';
import { markets, on } from './store.js';

const MAX_SHOWN = 50;
const MAX_RECENT = 400;        // kept to refill the tape when the filter changes
const EVERY = 250;             // the tape moves at most 4 times a second: readable, and cheap
const USD = new Set(['USD', 'USDT', 'USDC', 'FDUSD', 'BUSD', 'TUSD', 'DAI', 'USDP']);

const list = $('#trades');
const empty = $('#trades-empty');
const pauseBtn = $('#tape-pause');
const symInput = $('#tape-symbol');
const minInput = $('#tape-min');
const waiting = $('#tape-waiting');

const recent = [];             // {m, mk, liq} or {gap}, oldest first
let pending = 0;               // entries in recent not yet on the tape
let paused = false, hovering = false, rebuild = false, lastRun = 0;
let terms = [], minUsd = 0;
let throttled = false;         // a timer brings the next turn: no frame asked for meanwhile

on('trade', (m, mk, liq) => {
  recent.push({ m, mk, liq });
  if (recent.length > MAX_RECENT) recent.splice(0, recent.length - MAX_RECENT);
  pending = Math.min(pending + 1, MAX_RECENT);
  if (!throttled) schedule();
});
on('gap', (g) => {
  recent.push({ gap: g });
  pending = Math.min(pending + 1, MAX_RECENT);
  schedule();
});
on('clear', () => { recent.length = 0; pending = 0; rebuild = true; schedule(); });

// USDT-KRW of the exchange, else of any exchange that lists it.
function usdtKrw(exchange) {
  const own = markets.get(exchange + '|USDT-KRW');
  if (own && isNum(own.price)) return own.price;
  for (const mk of markets.values()) if (mk.symbol === 'USDT-KRW' && isNum(mk.price)) return mk.price;
  return undefined;
}
function usdValue(m, quote) {
  const v = m.price * m.amount;
  if (USD.has(quote)) return v;
  if (quote === 'KRW') { const fx = usdtKrw(m.exchange); return isNum(fx) && fx > 0 ? v / fx : undefined; }
  return undefined;
}
function quoteOf(sym) { const p = sym.split('-'); return p[1] || ''; }
function passes(e) {
  if (e.gap) return true;
  const m = e.m;
  if (terms.length) {
    const hay = (m.exchange + ' ' + m.symbol).toLowerCase() + (e.liq ? ' liquidation' : '');
    if (!terms.every((t) => hay.includes(t))) return false;
  }
  if (minUsd > 0) {
    const u = usdValue(m, quoteOf(m.symbol));
    if (!isNum(u) || u < minUsd) return false;
  }
  return true;
}

function item(e) {
  if (e.gap) {
    const li = el('li', 'gap');
    const n = isNum(e.gap.from) && isNum(e.gap.to) ? e.gap.to - e.gap.from : undefined;
    li.append(el('span', null, `gap: ${isNum(n) ? fmt.count(n) + ' lines' : 'lines'} missed (${e.gap.from ?? '?'}–${isNum(e.gap.to) ? e.gap.to - 1 : '?'}) while away`));
    return li;
  }
  const m = e.m, mk = e.mk;
  const side = m.side === 'buy' || m.side === 'sell' ? m.side : 'unknown';
  // A derivative's symbol is long: its exchange goes above it (the CSS), so it shows whole.
  const li = el('li', side + (e.liq ? ' liq' : '') + (mk && mk.kind !== 'spot' ? ' deriv' : ''));
  li.dataset.exchange = m.exchange;
  li.dataset.symbol = m.symbol;
  const tus = isNum(m.ts) ? m.ts : m.local_ts;
  const t = el('time', null, fmt.clock(tus));
  if (isNum(tus)) t.dateTime = new Date(tus / 1000).toISOString();
  const mkt = el('span', 'mk');
  mkt.append(el('span', 'ex', m.exchange), el('span', 'sym', m.symbol));
  const p = mk ? mk.p : null;
  li.append(t, mkt, el('span', 'px', fmt.price(p, m.price)), el('span', 'amt', fmt.amount(m.amount)));
  const quote = quoteOf(m.symbol);
  const usd = usdValue(m, quote);
  if (isNum(usd)) li.dataset.usd = usd.toFixed(2);
  const value = `${fmt.money(m.price * m.amount, quote)} ${quote}`;
  // The side of a liquidation line is its order's: the position it closed is the other one.
  const position = side === 'sell' ? 'long' : side === 'buy' ? 'short' : '';
  if (e.liq) {
    li.dataset.position = position || 'unknown';
    const what = el('span', 'liq-what');
    what.append(el('b', null, position ? position + ' liquidated' : 'liquidation'), ' ' + value);
    li.append(what);
  }
  li.title = (e.liq ? `liquidation${position ? ' of a ' + position : ''}: ${side} order ` : `${side} `)
    + `${fmt.exact(m.amount)} ${m.symbol.split('-')[0]} @ ${fmt.exact(m.price)} ${quote} = ${value} on ${m.exchange}` + (m.id ? ` (id ${m.id})` : '');
  return li;
}

function render() {
  if (rebuild) {
    rebuild = false;
    pending = 0;
    const out = [];
    for (let i = recent.length - 1; i >= 0 && out.length < MAX_SHOWN; i--) if (passes(recent[i])) out.push(item(recent[i]));
    list.replaceChildren(...out);
  } else if (pending) {
    const frag = document.createDocumentFragment();
    const from = Math.max(0, recent.length - pending);
    let added = 0;
    for (let i = recent.length - 1; i >= from && added < MAX_SHOWN; i--) {
      if (!passes(recent[i])) continue;
      frag.appendChild(item(recent[i]));
      added++;
    }
    pending = 0;
    for (const li of list.querySelectorAll('li.fresh')) li.classList.remove('fresh');
    for (const li of frag.children) li.classList.add('fresh');
    list.insertBefore(frag, list.firstChild);
    while (list.childElementCount > MAX_SHOWN) list.lastElementChild.remove();
  }
  empty.hidden = list.childElementCount > 0;
  setText(empty, recent.length ? 'no trade matches the filter yet' : 'waiting for trades…');
}

onFrame((t) => {
  const stopped = paused || hovering;
  setText(waiting, stopped && pending ? `${pending >= MAX_RECENT ? MAX_RECENT + '+' : pending} new` : '');
  throttled = false;
  if (stopped && !rebuild) return 0;
  if (!pending && !rebuild) return 0;
  if (t - lastRun < EVERY) { throttled = true; return EVERY - (t - lastRun); }
  lastRun = t;
  render();
  return 0;
});

function setPaused(p) {
  paused = p;
  pauseBtn.setAttribute('aria-pressed', p ? 'true' : 'false');
  pauseBtn.textContent = p ? 'Resume' : 'Pause';
  $('.tape').classList.toggle('paused', p || hovering);
  schedule();
}
pauseBtn.addEventListener('click', () => setPaused(!paused));
// Pause on hover, so a row can be read: pointers that hover only (not touch).
const wrap = $('.tape-wrap');
wrap.addEventListener('pointerenter', (ev) => { if (ev.pointerType === 'mouse') { hovering = true; $('.tape').classList.add('paused'); schedule(); } });
wrap.addEventListener('pointerleave', () => { hovering = false; $('.tape').classList.toggle('paused', paused); schedule(); });
symInput.addEventListener('input', () => {
  terms = symInput.value.toLowerCase().split(/[\s,]+/).filter(Boolean);
  rebuild = true;
  schedule();
});
minInput.addEventListener('input', () => {
  const v = Number(minInput.value);
  minUsd = Number.isFinite(v) && v > 0 ? v : 0;
  rebuild = true;
  schedule();
});
