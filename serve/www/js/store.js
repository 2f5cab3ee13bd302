// The page's data: one Market per exchange and symbol (latest ticker, book, derivative data,
// price history), one Feed per exchange (latest status, when data last came), message rates
// and the server's clock. Views subscribe to changes with on(kind, fn) and render later.
import { isNum, now, intParam } from './util.js';
import * as fmt from './format.js';

const MAX_MARKETS = 2000;      // rows in the markets table
const EVICT_AFTER = 60000;            // when full, a market silent this long gives way to a new one
export const STALE_MS = intParam('stale', 10, 2, 3600) * 1000;  // a feed silent this long is stale
const MAX_FEEDS = 100;
const MAX_SEEN = 300;                 // status lines kept for the Events page's offline view
export const SPARK_EVERY = 10000;     // price samples for the sparklines: one per 10 s...
const SPARK_N = 90;            // ...for 15 minutes
const MAX_CLOCK_SKEW = 10 * 60 * 1000;
const BOOK_DEC_LEVELS = 3;            // book levels whose prices teach a market its tick size
const RATE_WINDOW = 5;                // seconds of message-rate history

// ---- subscriptions
const subs = { market: [], trade: [], book: [], status: [], gap: [], clear: [], added: [], removed: [] };
export function on(kind, fn) { subs[kind].push(fn); }
function emit(kind, ...args) { for (const fn of subs[kind]) fn(...args); }

// ---- the server's clock as seen from here, so ages computed from local_ts are right even
// when this machine's clock is off: from /api/status when it answers, else from the lines
// themselves (the largest local_ts - now of a second is the skew minus the smallest delay).
export const clock = { offset: 0, fromStatus: false, lineMax: -Infinity };
export const serverNow = () => now() + clock.offset;
export function setStatusClock(offsetMs) {
  clock.fromStatus = Math.abs(offsetMs) <= MAX_CLOCK_SKEW;
  if (clock.fromStatus) clock.offset = offsetMs;
}
function rollClock() {
  if (!clock.fromStatus && Number.isFinite(clock.lineMax) && Math.abs(clock.lineMax) <= MAX_CLOCK_SKEW) clock.offset = clock.lineMax;
  clock.lineMax = -Infinity;
}

// ---- the connection's state, set by connection.js, read by the views that dim
export const link = { state: 'connecting', since: now(), lastSeq: null, gaps: 0 };

// ---- markets

// BTC-USDT spot, BTC-USDT-PERP perpetual, BTC-USDT-20261225 dated future.
function parseSymbol(sym) {
  const parts = sym.split('-');
  const base = parts[0] || sym, quote = parts[1] || '';
  let kind = 'spot';
  if (parts.length >= 3) kind = parts[2] === 'PERP' ? 'perp' : /^\d{8}$/.test(parts[2]) ? 'future' : 'other';
  return { base, quote, kind, spot: base + '-' + quote };
}

export class Market {
  constructor(exchange, symbol) {
    this.key = exchange + '|' + symbol;
    this.exchange = exchange;
    this.symbol = symbol;
    Object.assign(this, parseSymbol(symbol));
    this.p = fmt.precisionOf(this.key);      // decimals for prices and amounts
    this.last = this.bid = this.ask = this.open = this.high = this.low = undefined;
    this.volume = this.quoteVolume = undefined;
    this.t = 0;            // local_ts of the latest update, ms (server clock)
    this.book = null;      // { bids, asks, t }
    this.deriv = null;     // latest derivative fields
    this.pair = null;      // { gen, spot }: the spot market of a derivative (spotOf)
    this.spark = [];       // price samples, oldest first
    this.sparkGen = 0;     // bumped on every sample
    this.fmtGen = 0;       // bumped when the market's decimals grow: every cell repaints
  }
  get mid() {
    return isNum(this.bid) && isNum(this.ask) ? (this.bid + this.ask) / 2 : undefined;
  }
  get price() { return isNum(this.last) ? this.last : this.mid; }
  get spread() { return isNum(this.bid) && isNum(this.ask) ? this.ask - this.bid : undefined; }
  get spreadBps() {
    const m = this.mid, s = this.spread;
    return isNum(m) && isNum(s) && m > 0 ? (s / m) * 1e4 : undefined;
  }
  get change() {
    return isNum(this.last) && isNum(this.open) && this.open !== 0 ? (this.last / this.open - 1) * 100 : undefined;
  }
}

export const markets = new Map();
export const state = { capped: false };
let evictCheckAt = 0;

function marketFor(m) {
  const ex = m.exchange, sym = m.symbol;
  if (typeof ex !== 'string' || typeof sym !== 'string' || !ex || !sym || ex.length > 40 || sym.length > 40) return null;
  const key = ex + '|' + sym;
  let mk = markets.get(key);
  if (!mk) {
    if (markets.size >= MAX_MARKETS && !evictStale()) { state.capped = true; return null; }
    mk = new Market(ex, sym);
    markets.set(key, mk);
    pairGen++;
    emit('added', mk);
  }
  return mk;
}
// The table is full: make room only by dropping a market silent for a while (looked for at
// most once a second), so a busy table never churns its rows.
function evictStale() {
  const t = now();
  if (t < evictCheckAt) return false;
  evictCheckAt = t + 1000;
  let oldest = null;
  for (const mk of markets.values()) if (!oldest || mk.t < oldest.t) oldest = mk;
  if (!oldest || serverNow() - oldest.t < EVICT_AFTER) return false;
  markets.delete(oldest.key);
  pairGen++;
  fmt.forget(oldest.key);
  emit('removed', oldest);
  return true;
}
// ---- derivatives and the spot market each is measured against

// A derivatives venue's own spot market lives under the venue's spot id (binance-futures:
// binance, bybit-linear: bybit); OKX and Hyperliquid list both under one id.
export const spotVenue = (ex) => ex.replace(/-(futures|linear|inverse|swap|perp)$/, '');
// Where the venue lists no spot market of the base: the first of these that does.
export const REF_SPOT = ['binance', 'coinbase', 'okx', 'bybit', 'kraken', 'bitget', 'gateio', 'hyperliquid'];
const USD_QUOTES = ['USDT', 'USDC', 'USD'];
let pairGen = 0;          // bumped when markets come and go: pairings are looked up again
let pairIndex = null;     // spot Market -> its derivatives, for this pairGen

// The spot market whose price a derivative's basis is taken over, or null: the same base
// and quote on the venue's own spot id, else on the reference venues in order; for a
// dollar quote (USDT, USDC, USD) then another dollar quote, in that order. Looked up once
// per change of the market list.
export function spotOf(mk) {
  if (mk.kind === 'spot') return null;
  if (mk.pair && mk.pair.gen === pairGen) return mk.pair.spot;
  const quotes = USD_QUOTES.includes(mk.quote) ? [mk.quote, ...USD_QUOTES.filter((q) => q !== mk.quote)] : [mk.quote];
  const venues = [spotVenue(mk.exchange), ...REF_SPOT];
  let spot = null;
  for (const q of quotes) {
    for (const ex of venues) {
      const s = markets.get(ex + '|' + mk.base + '-' + q);
      if (s && s.kind === 'spot') { spot = s; break; }
    }
    if (spot) break;
  }
  mk.pair = { gen: pairGen, spot };
  return spot;
}
// The derivatives measured against a spot market (an empty list for most).
const NONE = [];
export function derivativesOf(spot) {
  if (!pairIndex || pairIndex.gen !== pairGen) {
    pairIndex = { gen: pairGen, map: new Map() };
    for (const mk of markets.values()) {
      if (mk.kind === 'spot') continue;
      const s = spotOf(mk);
      if (!s) continue;
      const list = pairIndex.map.get(s);
      if (list) list.push(mk); else pairIndex.map.set(s, [mk]);
    }
  }
  return pairIndex.map.get(spot) || NONE;
}
// A derivative's basis over its spot market, in basis points: its last price (its mark
// before it has traded) over the spot market's last price (its mid before it has traded).
// { bps, px, from: 'last'|'mark', spot, spotPx } or null.
export function basisOf(mk) {
  const spot = spotOf(mk);
  if (!spot) return null;
  const from = isNum(mk.last) ? 'last' : mk.deriv && isNum(mk.deriv.mark) ? 'mark' : '';
  const px = from === 'last' ? mk.last : from === 'mark' ? mk.deriv.mark : undefined;
  const spotPx = spot.price;
  if (!isNum(px) || !isNum(spotPx) || spotPx <= 0) return { spot, from, px, spotPx };
  return { bps: (px / spotPx - 1) * 1e4, px, from, spot, spotPx };
}

function notePrices(mk, ...vals) {
  let grew = false;
  for (const v of vals) if (fmt.notePrice(mk.p, v)) grew = true;
  if (grew) mk.fmtGen++;
}

// ---- feeds (one per exchange)

export const feeds = new Map();
function feedFor(ex) {
  let f = feeds.get(ex);
  if (!f) {
    if (feeds.size >= MAX_FEEDS) return null;
    f = { exchange: ex, status: null, lastData: 0, api: null, rate: 0 };
    feeds.set(ex, f);
  }
  return f;
}
// What a feed's chip says, from its latest status, when data last came and /api/status.
export function feedState(f, t = serverNow()) {
  if (link.state !== 'connected') return { state: 'offline', text: 'no connection' };
  const st = f.status;
  const dataAge = f.lastData ? t - f.lastData : Infinity;
  // A disconnection or error newer than the last data is the state; data after it clears it.
  if (st && (st.event === 'disconnected' || st.event === 'error') && st.t >= f.lastData) {
    return { state: 'down', text: st.event, since: st.t };
  }
  if (dataAge <= STALE_MS) return { state: 'live', text: 'live' };
  if (f.api && f.api.connected === false) return { state: 'down', text: 'disconnected', since: f.lastData || undefined };
  if (f.lastData) return { state: 'stale', text: 'no data', since: f.lastData };
  if (st) return { state: 'waiting', text: st.event, since: st.t };
  if (f.api && f.api.connected) return { state: 'waiting', text: 'connected' };
  return { state: 'waiting', text: 'waiting' };
}
// Exchanges whose rows are dimmed: stale or down feeds, every one when the link is down.
export function staleExchanges(t = serverNow()) {
  const out = new Set();
  for (const f of feeds.values()) {
    const s = feedState(f, t).state;
    if (s === 'stale' || s === 'down' || s === 'offline') out.add(f.exchange);
  }
  return out;
}
// /api/status's view of the feeds (seeds the chips of a page opened late).
export function noteApiFeeds(list) {
  for (const x of list) {
    if (!x || typeof x.exchange !== 'string') continue;
    const f = feedFor(x.exchange);
    if (f) f.api = { connected: x.connected, age: x.last_frame_age_s, rate: x.rate, reconnects: x.reconnects };
  }
  emit('status', null);
}

// ---- status lines seen by this page (newest last)
export const seen = [];

// ---- message rates
// Overall, per exchange, and per exchange and line type (the dashboard's venue rows).
export const LINE_TYPES = ['trade', 'ticker', 'book', 'derivative', 'liquidation', 'status'];
const rates = { buckets: [], cur: new Map(), curType: new Map(), curTotal: 0, start: now() };
export const rate = { overall: 0, perEx: new Map(), perExType: new Map() };
function countRate(ex, type) {
  rates.curTotal++;
  if (typeof ex !== 'string') return;
  rates.cur.set(ex, (rates.cur.get(ex) || 0) + 1);
  let c = rates.curType.get(ex);
  if (!c) rates.curType.set(ex, (c = {}));
  c[type] = (c[type] || 0) + 1;
}
function rollRates() {
  const t = now();
  rates.buckets.push({ dur: Math.max(0.001, (t - rates.start) / 1000), total: rates.curTotal, perEx: rates.cur, perExType: rates.curType });
  if (rates.buckets.length > RATE_WINDOW) rates.buckets.shift();
  rates.cur = new Map();
  rates.curType = new Map();
  rates.curTotal = 0;
  rates.start = t;
  let d = 0, tot = 0;
  const per = new Map(), perType = new Map();
  for (const b of rates.buckets) {
    d += b.dur; tot += b.total;
    for (const [ex, n] of b.perEx) per.set(ex, (per.get(ex) || 0) + n);
    for (const [ex, c] of b.perExType) {
      let sum = perType.get(ex);
      if (!sum) perType.set(ex, (sum = {}));
      for (const k in c) sum[k] = (sum[k] || 0) + c[k];
    }
  }
  rate.overall = tot / d;
  rate.perEx = new Map([...per].map(([ex, n]) => [ex, n / d]));
  for (const c of perType.values()) for (const k in c) c[k] /= d;
  rate.perExType = perType;
  for (const f of feeds.values()) f.rate = rate.perEx.get(f.exchange) || 0;
}

// ---- lines

function stamp(m) {
  if (isNum(m.local_ts)) {
    const ms = m.local_ts / 1000;
    const d = ms - now();
    if (d > clock.lineMax) clock.lineMax = d;
    return ms;
  }
  return serverNow();
}
function dataArrived(ex, t) {
  const f = feedFor(ex);
  if (f && t > f.lastData) f.lastData = t;
}

// One parsed line from the server. Unknown types are ignored.
export function ingest(m) {
  switch (m.type) {
    case 'trade': return onTrade(m, false);
    case 'liquidation': return onTrade(m, true);
    case 'ticker': return onTicker(m);
    case 'book': return onBook(m);
    case 'derivative': return onDerivative(m);
    case 'status': return onStatus(m);
    default: return undefined;
  }
}

function onTrade(m, liq) {
  if (!isNum(m.price) || !isNum(m.amount)) return;
  const t = stamp(m);
  countRate(m.exchange, liq ? 'liquidation' : 'trade');
  const mk = marketFor(m);
  if (mk) {
    dataArrived(mk.exchange, t);
    if (!liq) {
      notePrices(mk, m.price);
      fmt.noteAmount(mk.p, m.amount);
      mk.last = m.price;
      if (t > mk.t) mk.t = t;
      emit('market', mk);
    }
  }
  emit('trade', m, mk, liq);
}
function onTicker(m) {
  const t = stamp(m);
  countRate(m.exchange, 'ticker');
  const mk = marketFor(m);
  if (!mk) return;
  dataArrived(mk.exchange, t);
  notePrices(mk, m.last, m.bid, m.ask, m.high, m.low, m.open);
  if (isNum(m.last)) mk.last = m.last;
  if (isNum(m.bid)) mk.bid = m.bid;
  if (isNum(m.ask)) mk.ask = m.ask;
  if (isNum(m.open)) mk.open = m.open;
  if (isNum(m.high)) mk.high = m.high;
  if (isNum(m.low)) mk.low = m.low;
  if (isNum(m.volume)) mk.volume = m.volume;
  if (isNum(m.quote_volume)) mk.quoteVolume = m.quote_volume;
  if (t > mk.t) mk.t = t;
  emit('market', mk);
}
const levelsOk = (a) => Array.isArray(a) && a.every((l) => Array.isArray(l) && isNum(l[0]) && isNum(l[1]));
function onBook(m) {
  if (!levelsOk(m.bids) || !levelsOk(m.asks)) return;
  const t = stamp(m);
  countRate(m.exchange, 'book');
  const mk = marketFor(m);
  if (!mk) return;
  dataArrived(mk.exchange, t);
  let grew = false;
  for (const side of [m.bids, m.asks]) {
    for (let i = 0; i < side.length && i < BOOK_DEC_LEVELS; i++) {
      if (fmt.notePrice(mk.p, side[i][0])) grew = true;
      fmt.noteAmount(mk.p, side[i][1]);
    }
  }
  if (grew) mk.fmtGen++;
  mk.book = { bids: m.bids, asks: m.asks, t, ts: isNum(m.ts) ? m.ts / 1000 : undefined };
  if (m.bids.length) mk.bid = m.bids[0][0];
  if (m.asks.length) mk.ask = m.asks[0][0];
  if (t > mk.t) mk.t = t;
  emit('book', mk);
  emit('market', mk);
}
const DERIV_FIELDS = ['mark', 'index', 'funding_rate', 'predicted_funding_rate', 'funding_ts', 'open_interest', 'open_interest_value'];
// Each field only when the line has it (venues send them on different channels), kept
// until the next line that has it. Mark and index prices are the venue's arithmetic, not
// quotes: they do not teach the market its decimals.
function onDerivative(m) {
  const t = stamp(m);
  countRate(m.exchange, 'derivative');
  const mk = marketFor(m);
  if (!mk) return;
  dataArrived(mk.exchange, t);
  const d = mk.deriv || (mk.deriv = {});
  for (const k of DERIV_FIELDS) if (isNum(m[k])) d[k] = m[k];
  d.t = t;
  if (t > mk.t) mk.t = t;
  emit('market', mk);
}
function onStatus(m) {
  // A resume beyond what serve still holds: keep what is shown and say what was missed.
  if (m.event === 'gap') {
    link.gaps++;
    emit('gap', { from: m.from, to: m.to, t: stamp(m) });
    return;
  }
  const ex = typeof m.exchange === 'string' && m.exchange ? m.exchange.slice(0, 40) : 'relay';
  const st = {
    exchange: ex,
    symbol: typeof m.symbol === 'string' ? m.symbol.slice(0, 40) : '',
    event: typeof m.event === 'string' ? m.event.slice(0, 24) : 'status',
    detail: m.detail == null ? '' : String(m.detail).slice(0, 500),
    t: stamp(m),
  };
  countRate(ex, 'status');
  const f = feedFor(ex);
  // A resync of one book says nothing about the feed's connection: keep it out of the
  // feed's state, but in the list of what happened.
  if (f && st.event !== 'resync' && (!f.status || st.t >= f.status.t)) f.status = st;
  seen.push(st);
  if (seen.length > MAX_SEEN) seen.splice(0, seen.length - MAX_SEEN);
  emit('status', st);
}

export function clearMarkets() {
  for (const mk of markets.values()) { fmt.forget(mk.key); emit('removed', mk); }
  markets.clear();
  pairGen++;
  state.capped = false;
  emit('clear');
}

// Once a second: rates, the clock, price samples.
let sparkAt = 0;
export function tick() {
  rollRates();
  rollClock();
  const t = now();
  if (t - sparkAt >= SPARK_EVERY) {
    sparkAt = t;
    for (const mk of markets.values()) {
      const p = mk.price;
      if (!isNum(p) && !mk.spark.length) continue;
      mk.spark.push(isNum(p) ? p : null);
      if (mk.spark.length > SPARK_N) mk.spark.shift();
      mk.sparkGen++;
    }
  }
}
