// One formatter for every number on the page, so a price reads the same in every view:
// thousands grouped, prices with the decimals of their market (the most the feed has shown
// for it: its tick size), amounts rounded for display (the exact value goes in a tooltip),
// volumes compact with their unit, KRW amounts without decimals.
import { isNum } from './util.js';

const MAX_DECIMALS = 12;

// A number exactly as the feed wrote it: the shortest round-trip text, with any exponent
// expanded (1e-7 -> 0.0000001). JSON numbers arrive as doubles, and the shortest text of a
// double parsed from the feed's decimal text is that text.
export function exact(n) {
  if (!isNum(n)) return '';
  const s = String(n);
  return s.includes('e') ? expandExp(s) : s;
}
function expandExp(s) {
  const m = /^(-?)(\d+)(?:\.(\d+))?e([+-]?\d+)$/.exec(s);
  if (!m) return s;
  const digits = m[2] + (m[3] || '');
  const point = m[2].length + Number(m[4]);
  let out;
  if (point <= 0) out = '0.' + '0'.repeat(-point) + digits;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = digits.slice(0, point) + '.' + digits.slice(point);
  return m[1] + out.replace(/^0+(?=\d)/, '');
}
// Decimal places of a number as the feed wrote it.
export function decimals(n) {
  if (!isNum(n)) return 0;
  if (Number.isInteger(n)) return 0;
  const s = exact(n);
  const i = s.indexOf('.');
  return i < 0 ? 0 : Math.min(MAX_DECIMALS, s.length - i - 1);
}
// Commas in the integer part of a decimal text.
function group(s) {
  const neg = s[0] === '-';
  const body = neg ? s.slice(1) : s;
  const dot = body.indexOf('.');
  const int = dot < 0 ? body : body.slice(0, dot);
  const g = int.length > 3 ? int.replace(/\B(?=(\d{3})+(?!\d))/g, ',') : int;
  return (neg ? '-' : '') + g + (dot < 0 ? '' : body.slice(dot));
}
// A value with DEC fixed decimals, grouped. toFixed only pads here: DEC is at least the
// value's own decimals for prices, so no digit the feed sent is ever rounded away.
export function fixed(v, dec) {
  if (!isNum(v)) return '';
  const d = Math.max(0, Math.min(MAX_DECIMALS, dec | 0));
  return group(Math.abs(v) >= 1e21 ? exact(v) : v.toFixed(d));
}

// ---- per-market precision

// Markets by "exchange|symbol": the most decimals seen in their prices and amounts, and
// whether any price was seen at all.
const prec = new Map();
export function precisionOf(key) {
  let p = prec.get(key);
  if (!p) { p = { px: 0, amt: 0, seen: false }; prec.set(key, p); }
  return p;
}
// Notes a traded or quoted price of a market (never a computed one: a mark or an index
// price carries as many decimals as the venue's arithmetic left, not the tick); true when
// its decimals grew, or on its first price (its cells need a repaint).
export function notePrice(p, v) {
  if (!isNum(v)) return false;
  const first = !p.seen;
  p.seen = true;
  const d = decimals(v);
  if (d <= p.px) return first;
  p.px = d;
  return true;
}
export function noteAmount(p, v) {
  if (!isNum(v)) return;
  const d = decimals(v);
  if (d > p.amt) p.amt = Math.min(d, 8);
}
export function forget(key) { prec.delete(key); }

// A price of the market P (from precisionOf).
export function price(p, v) { return fixed(v, p ? p.px : decimals(v)); }
// A price the venue computed (mark, index): rounded to the market's decimals, so it reads
// like the market's other prices (the exact value belongs in a tooltip); before the market
// has shown a price, with its own decimals, at most 8.
export function computed(p, v) {
  if (!isNum(v)) return '';
  return fixed(v, p && p.seen ? p.px : Math.min(8, decimals(v)));
}
// A price computed from others (a mid): one more decimal than the market's where it needs it
// (a mid between two ticks), so a KRW mid of whole won stays whole.
export function derived(p, v) {
  if (!isNum(v)) return '';
  const d = p ? p.px : decimals(v);
  const scaled = v * 10 ** d;
  return fixed(v, Math.abs(scaled - Math.round(scaled)) < 1e-9 * Math.max(1, Math.abs(scaled)) ? d : d + 1);
}

// ---- amounts and volumes

const nfCache = new Map();
function nf(maxFrac, minFrac = 0) {
  const k = maxFrac * 100 + minFrac;
  let f = nfCache.get(k);
  if (!f) {
    f = new Intl.NumberFormat('en-US', { maximumFractionDigits: maxFrac, minimumFractionDigits: minFrac });
    nfCache.set(k, f);
  }
  return f;
}
const sig4 = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 4 });

// An amount (trade size, book size): rounded by magnitude, grouped.
export function amount(v) {
  if (!isNum(v)) return '';
  const a = Math.abs(v);
  if (a >= 1e5) return nf(0).format(v);
  if (a >= 1000) return nf(2, 2).format(v);
  if (a >= 1) return nf(4, 4).format(v);
  return a === 0 ? '0' : sig4.format(v);
}
// Book sizes of one market: the same decimals on every level, at most 4, so columns align.
export function size(p, v) {
  if (!isNum(v)) return '';
  const d = Math.min(4, p ? p.amt : 4);
  return Math.abs(v) >= 1e5 ? nf(0).format(v) : fixed(v, d);
}
// A volume with its unit, to three significant digits: 1.08K BTC, 146B KRW, 0.52 ETH.
const sig3 = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 3 });
export function volume(v, unit) {
  if (!isNum(v)) return '';
  const a = Math.abs(v);
  let s;
  if (a >= 1e12) s = sig3.format(v / 1e12) + 'T';
  else if (a >= 1e9) s = sig3.format(v / 1e9) + 'B';
  else if (a >= 1e6) s = sig3.format(v / 1e6) + 'M';
  else if (a >= 1e3) s = sig3.format(v / 1e3) + 'K';
  else s = sig3.format(v);
  return unit ? s + ' ' + unit : s;
}
// An amount of quote currency (a trade's value): KRW without decimals, others with 2.
export function money(v, quote) {
  if (!isNum(v)) return '';
  return quote === 'KRW' || Math.abs(v) >= 1e5 ? nf(0).format(v) : nf(2, 2).format(v);
}

export function pct(p, digits = 2) {
  if (!isNum(p)) return '';
  const v = p.toFixed(digits);
  const zero = Number(v) === 0;
  return (p > 0 && !zero ? '+' : '') + (zero ? (0).toFixed(digits) : v) + '%';
}
// Basis points (0.01 %): fewer decimals as the figure grows, 3 significant digits or more.
export function bps(v) {
  if (!isNum(v)) return '';
  const a = Math.abs(v);
  return a >= 100 ? nf(0).format(v) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toFixed(3);
}
// A signed figure in basis points (a basis, a premium): +10.5, -0.250, 0.000.
export function bpsSigned(v) {
  if (!isNum(v)) return '';
  const s = bps(v);
  return Number(s.replace(/,/g, '')) === 0 ? bps(0) : (v > 0 ? '+' : '') + s;
}
// A funding rate (a fraction per funding period) in percent with 4 decimals: +0.0100%.
export function funding(rate) { return isNum(rate) ? pct(rate * 100, 4) : ''; }
// Time left until a moment (the next funding): 7h 59m, 42m 10s, 9s; "now" once it is due.
export function countdown(sec) {
  if (!isNum(sec)) return '';
  if (sec <= 0) return 'now';
  sec = Math.ceil(sec);
  const h = Math.floor(sec / 3600), m = Math.floor(sec / 60) % 60, s = sec % 60;
  if (h >= 48) return Math.round(h / 24) + 'd';
  if (h) return `${h}h ${m < 10 ? '0' : ''}${m}m`;
  if (m) return `${m}m ${s < 10 ? '0' : ''}${s}s`;
  return s + 's';
}
export function age(sec) {
  if (!isNum(sec)) return '';
  if (sec < 0) sec = 0;
  if (sec < 10) return sec.toFixed(1) + ' s';
  if (sec < 120) return Math.round(sec) + ' s';
  if (sec < 7200) return Math.round(sec / 60) + ' min';
  if (sec < 172800) return Math.round(sec / 3600) + ' h';
  return Math.round(sec / 86400) + ' d';
}
export function duration(sec) {
  if (!isNum(sec)) return '—';
  sec = Math.max(0, Math.floor(sec));
  const d = Math.floor(sec / 86400), h = Math.floor(sec / 3600) % 24, m = Math.floor(sec / 60) % 60, s = sec % 60;
  if (d) return `${d}d ${h}h ${m}m`;
  if (h) return `${h}h ${m}m ${s}s`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}
export function bytes(b) {
  if (!isNum(b)) return '—';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
  return (i ? b.toFixed(b < 10 ? 2 : 1) : String(b)) + ' ' + u[i];
}
export function rate(r) {
  if (!isNum(r)) return '—';
  return r >= 100 ? nf(0).format(r) : nf(1, 1).format(r);
}
export function count(n) { return isNum(n) ? nf(0).format(n) : '—'; }
export function ms(n) {
  if (!isNum(n)) return '—';
  return n >= 100 ? nf(0).format(n) : n >= 10 ? nf(1, 1).format(n) : nf(2, 2).format(n);
}
const pad2 = (n) => (n < 10 ? '0' : '') + n;
// Local time of day with milliseconds, from µs since the epoch.
export function clock(us) {
  if (!isNum(us)) return '';
  const d = new Date(us / 1000);
  const m = d.getMilliseconds();
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.${m < 10 ? '00' : m < 100 ? '0' : ''}${m}`;
}
export function clockShort(ms) {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}
// Date and time, for the event history.
export function stamp(us) {
  if (!isNum(us)) return '';
  const d = new Date(us / 1000);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${clockShort(us / 1000)}`;
}
