// What the page asks serve for: types, exchanges and symbols, kept in the page's URL
// (?types=&exchanges=&symbols=) so a reload keeps them.
import { params } from './util.js';

export const DATA_TYPES = ['trade', 'ticker', 'book', 'derivative', 'liquidation'];
const listParam = (k) => (params.get(k) || '').split(',').map((s) => s.trim()).filter(Boolean);

export const filter = {
  types: listParam('types').map((s) => s.toLowerCase()),
  exchanges: listParam('exchanges').map((s) => s.toLowerCase()),
  symbols: listParam('symbols').map((s) => s.toUpperCase()),
  test: null,
};
filter.test = compile(filter);

// Symbols given without a quote ("BTC") match every market of that base: serve cannot
// filter those, so they are matched here and serve is asked for all symbols.
export function serverFilter(f) {
  const exact = f.symbols.every((s) => s.includes('-'));
  return { types: f.types, exchanges: f.exchanges, symbols: exact ? f.symbols : [] };
}
// A query string with the filter's lists replaced, commas kept literal (types=trade,ticker).
export function withFilter(search, f) {
  const keep = search.replace(/^\?/, '').split('&').filter((p) => p && !/^(types|exchanges|symbols)(=|$)/.test(p));
  for (const k of ['types', 'exchanges', 'symbols']) {
    if (f[k].length) keep.push(k + '=' + f[k].map(encodeURIComponent).join(','));
  }
  return keep.length ? '?' + keep.join('&') : '';
}
function compile(f) {
  const types = f.types.length ? new Set(f.types) : null;
  const exs = f.exchanges.length ? new Set(f.exchanges) : null;
  const syms = f.symbols.length ? new Set(f.symbols) : null;
  return (m) => {
    if (types && !types.has(m.type) && DATA_TYPES.includes(m.type)) return false;
    if (exs && m.exchange && !exs.has(m.exchange)) return false;
    if (syms && m.symbol && m.type !== 'status') {
      if (syms.has(m.symbol)) return true;
      const dash = m.symbol.indexOf('-');
      return dash > 0 && syms.has(m.symbol.slice(0, dash));
    }
    return true;
  };
}
// Replaces the filter; true when it changed.
export function setFilter(f) {
  const same = ['types', 'exchanges', 'symbols'].every((k) => filter[k].join(',') === f[k].join(','));
  filter.types = f.types;
  filter.exchanges = f.exchanges;
  filter.symbols = f.symbols;
  filter.test = compile(filter);
  history.replaceState(null, '', location.pathname + withFilter(location.search, filter) + location.hash);
  return !same;
}
