// Scenarios for tests/tools/browser-run: the web page with perpetuals and futures beside
// spot. serve is fed straight through its --input FIFO (the fake exchange's derivatives
// dialects are tested through ingest in tests/derivfeeds.bats) with lines in the contract's shape (design.md,
// "Derivatives"): spot tickers, perpetual and dated-future tickers, books, trades,
// `derivative` lines (mark, index, funding, open interest) and `liquidation` lines. A
// feeder writes the current state every 300 ms, so a page opened or refiltered later
// fills from live lines; a scenario changes the state to see the page follow.
// ARGS: the FIFO serve reads.
'use strict';
const fs = require('fs');

const ROWS = '#market tbody tr';
const rowSel = (ex, sym) => `${ROWS}[data-exchange="${ex}"][data-symbol="${sym}"]`;
const PERP = ['binance-futures', 'BTC-USDT-PERP'];

function feeder(t, fifo) {
  const fd = fs.openSync(fifo, 'a');
  const ts = () => Date.now() * 1000;
  const t0 = ts();
  // Funding times: Binance's in 2 h 30 min, OKX's 65 s after the start (a countdown that
  // moves each second); Hyperliquid sends none (hourly, no time on its socket).
  const st = {
    spot: 95000.5, mark: 95101.2, okxFunding: t0 + 65e6, bnFunding: t0 + (2 * 3600 + 30 * 60) * 1e6,
  };
  const levels = (best, step, n) => Array.from({ length: n }, (_, i) => [Math.round((best + i * step) * 10) / 10, Math.round((0.5 + i / 10) * 1000) / 1000]);
  let tradeId = 0;
  const batch = () => [
    { type: 'ticker', exchange: 'binance', symbol: 'BTC-USDT', ts: ts(), local_ts: ts(), bid: st.spot - 0.25, ask: st.spot + 0.25, last: st.spot, open: 94000, high: 95500, low: 93900.1, volume: 1234.5, quote_volume: 117000000 },
    { type: 'ticker', exchange: 'binance', symbol: 'ETH-USDT', ts: ts(), local_ts: ts(), bid: 3500.11, ask: 3500.13, last: 3500.12 },
    { type: 'ticker', exchange: 'okx', symbol: 'BTC-USDT', ts: ts(), local_ts: ts(), bid: 95010, ask: 95010.2, last: 95010.1 },
    { type: 'ticker', exchange: 'upbit', symbol: 'BTC-KRW', ts: ts(), local_ts: ts(), last: 136000000, open: 135000000 },
    { type: 'ticker', exchange: 'upbit', symbol: 'USDT-KRW', ts: ts(), local_ts: ts(), last: 1400 },
    { type: 'ticker', exchange: 'binance-futures', symbol: 'BTC-USDT-PERP', ts: ts(), local_ts: ts(), bid: 95100.4, ask: 95100.6, last: 95100.5, open: 94100.5, high: 95600.5, low: 94000.5, volume: 15000.5, quote_volume: 1420000000 },
    // The index with all the decimals of the venue's arithmetic: it must not become the
    // market's tick.
    { type: 'derivative', exchange: 'binance-futures', symbol: 'BTC-USDT-PERP', ts: ts(), local_ts: ts(), mark: st.mark, index: 95000.12345678, funding_rate: 0.0001, predicted_funding_rate: 0.00012, funding_ts: st.bnFunding, open_interest: 1234.5, open_interest_value: 117300000 },
    { type: 'book', exchange: 'binance-futures', symbol: 'BTC-USDT-PERP', local_ts: ts(), bids: levels(95100.4, -0.1, 20), asks: levels(95100.6, 0.1, 20) },
    { type: 'trade', exchange: 'binance-futures', symbol: 'BTC-USDT-PERP', ts: ts(), local_ts: ts(), id: String(++tradeId), price: 95100.5, amount: 0.25, side: 'buy' },
    { type: 'ticker', exchange: 'okx', symbol: 'BTC-USDT-PERP', ts: ts(), local_ts: ts(), bid: 94990.1, ask: 94990.3, last: 94990.2 },
    { type: 'derivative', exchange: 'okx', symbol: 'BTC-USDT-PERP', ts: ts(), local_ts: ts(), mark: 94990.3, funding_rate: -0.00005, funding_ts: st.okxFunding, open_interest: 80123.45 },
    { type: 'ticker', exchange: 'okx', symbol: 'BTC-USDT-20261225', ts: ts(), local_ts: ts(), bid: 96500, ask: 96500.2, last: 96500.1 },
    // Bybit lists no spot here, and its perp has not traded: the basis is its mark over
    // the reference venue's spot price.
    { type: 'derivative', exchange: 'bybit-linear', symbol: 'ETH-USDT-PERP', ts: ts(), local_ts: ts(), mark: 3501.5, index: 3500.9, funding_rate: 0.0001, open_interest: 250000 },
    // Hyperliquid settles in USDC and lists no BTC spot: measured against Binance's USDT.
    { type: 'ticker', exchange: 'hyperliquid', symbol: 'BTC-USDC-PERP', ts: ts(), local_ts: ts(), bid: 95049, ask: 95051, last: 95050 },
    { type: 'derivative', exchange: 'hyperliquid', symbol: 'BTC-USDC-PERP', ts: ts(), local_ts: ts(), mark: 95050, index: 95001, funding_rate: 0.000013, open_interest: 12000.5 },
  ];
  const write = (lines) => fs.writeSync(fd, lines.map((o) => JSON.stringify(o)).join('\n') + '\n');
  const tick = () => { try { write(batch()); } catch (e) { t.log('feeder: ' + e.message); } };
  tick();
  const timer = setInterval(tick, 300);
  return {
    st,
    ts,
    write,
    stop() { clearInterval(timer); fs.closeSync(fd); },
    // A long liquidated (a sell order) and a short (a buy order), at prices that must not
    // become the perp's last.
    liquidations(n = 1) {
      const out = [];
      for (let i = 0; i < n; i++) {
        out.push({ type: 'liquidation', exchange: 'binance-futures', symbol: 'BTC-USDT-PERP', ts: ts(), local_ts: ts(), price: 95090.1, amount: 0.5, side: 'sell' });
        out.push({ type: 'liquidation', exchange: 'okx', symbol: 'BTC-USDT-PERP', ts: ts(), local_ts: ts(), id: 'okx-liq-' + i, price: 95120.3, amount: 1.25, side: 'buy' });
      }
      write(out);
    },
  };
}

const connected = (t) => t.waitFor(`document.querySelector('#conn').dataset.state === 'connected'`, 10000, 'connected');
const cell = (t, ex, sym, col) => t.eval(`(() => { const td = document.querySelector('${rowSel(ex, sym)} td.${col}'); return td ? td.textContent : null; })()`);
const title = (t, ex, sym, col) => t.eval(`document.querySelector('${rowSel(ex, sym)} td.${col}').title`);
const filled = (t) => t.waitFor(`document.querySelectorAll('${ROWS}').length === 10 && document.querySelector('${rowSel('okx', 'BTC-USDT-PERP')} td.funding .fr').textContent
  && document.querySelector('${rowSel('bybit-linear', 'ETH-USDT-PERP')} td.basis').textContent`, 10000, 'the 10 markets, derivative data included');

// Every symbol on the tape shows whole (a derivative's exchange goes above it).
async function tapeWhole(t) {
  const cut = await t.eval(`[...document.querySelectorAll('#trades li[data-symbol]')].filter((li) => {
    const mk = li.children[1], sym = li.querySelector('.sym'); const a = sym.getBoundingClientRect(), b = mk.getBoundingClientRect();
    return mk.scrollWidth > mk.clientWidth || sym.scrollWidth > Math.ceil(a.width) || a.right > b.right + 0.5; }).map((li) => li.dataset.symbol)`);
  t.ok(!cut.length, 'symbols cut on the tape: ' + cut.join(' '));
}

module.exports = {
  // Markets: each derivative after its spot market, with mark, basis, funding and its
  // countdown, open interest; the basis follows the spot price; the book of a perp;
  // liquidations on the tape; the cross view; the dashboard's venue rows; a type filter.
  async desktop(t, [fifo]) {
    await connected(t);
    const f = feeder(t, fifo);
    try {
      await filled(t);
      const order = await t.eval(`[...document.querySelectorAll('${ROWS}')].map((r) => r.dataset.exchange + ':' + r.dataset.symbol)`);
      t.log('rows: ' + order.join(' '));
      const after = (a, b) => t.ok(order.indexOf(b) === order.indexOf(a) + 1, `${b} is not right after ${a}: ${order.join(' ')}`);
      after('binance:BTC-USDT', 'binance-futures:BTC-USDT-PERP');
      after('okx:BTC-USDT', 'okx:BTC-USDT-PERP');
      after('okx:BTC-USDT-PERP', 'okx:BTC-USDT-20261225');
      after('binance:ETH-USDT', 'bybit-linear:ETH-USDT-PERP');
      t.ok(order.indexOf('hyperliquid:BTC-USDC-PERP') > order.indexOf('binance:BTC-USDT') && order.indexOf('hyperliquid:BTC-USDC-PERP') < order.indexOf('okx:BTC-USDT'),
        'the Hyperliquid perp is not beside the spot market it is measured against');
      // The derivatives columns, shown because the table holds derivatives.
      t.ok(await t.eval(`document.querySelector('#market').classList.contains('deriv') && ['mark', 'basis', 'funding', 'oi'].every((c) =>
        getComputedStyle(document.querySelector('#market th.c-' + c)).display !== 'none')`), 'the derivatives columns are not shown');
      // Mark with the market's decimals (its tick, one decimal), never the index's eight.
      t.ok(await cell(t, ...PERP, 'last') === '95,100.5', `perp last '${await cell(t, ...PERP, 'last')}': the index's decimals leaked into the market's prices`);
      t.ok(await cell(t, ...PERP, 'mark') === '95,101.2', `perp mark '${await cell(t, ...PERP, 'mark')}'`);
      t.ok(/index 95000\.12345678/.test(await title(t, ...PERP, 'mark')), 'the exact index is not in the mark tooltip');
      t.ok(await cell(t, ...PERP, 'high') === '95,600.5', 'the perp high');
      // Basis in bps over the same venue's spot last, or the reference venue's.
      const basis = { 'binance-futures:BTC-USDT-PERP': ['+10.5', 'binance BTC-USDT', 'up'], 'okx:BTC-USDT-PERP': ['-2.09', 'okx BTC-USDT', 'down'],
        'okx:BTC-USDT-20261225': ['+157', 'okx BTC-USDT', 'up'], 'bybit-linear:ETH-USDT-PERP': ['+3.94', 'binance ETH-USDT', 'up'],
        'hyperliquid:BTC-USDC-PERP': ['+5.21', 'binance BTC-USDT', 'up'] };
      for (const [k, [text, over, cls]] of Object.entries(basis)) {
        const [ex, sym] = k.split(':');
        const got = await t.eval(`(() => { const td = document.querySelector('${rowSel(ex, sym)} td.basis'); return [td.textContent, td.title, td.className]; })()`);
        t.ok(got[0] === text && got[1].includes('over ' + over) && got[2].split(' ').includes(cls), `${k} basis: ${JSON.stringify(got)}, want ${text} over ${over}`);
      }
      t.ok(/ETH-USDT-PERP mark 3501\.5 over binance ETH-USDT 3500\.12/.test(await title(t, 'bybit-linear', 'ETH-USDT-PERP', 'basis')), 'a perp without trades: basis from its mark');
      // Funding rate, and the time to the next funding counting down.
      t.ok(await t.eval(`document.querySelector('${rowSel(...PERP)} td.funding .fr').textContent`) === '+0.0100%', 'binance funding');
      t.ok(/^2h (29|30)m$/.test(await t.eval(`document.querySelector('${rowSel(...PERP)} td.funding .next').textContent`)), 'binance next funding in 2h 30m');
      t.ok(/predicted next \+0\.0120%/.test(await title(t, ...PERP, 'funding')), 'the predicted funding rate in the tooltip');
      t.ok(await t.eval(`document.querySelector('${rowSel('okx', 'BTC-USDT-PERP')} td.funding .fr').textContent`) === '-0.0050%', 'okx negative funding');
      t.ok(await t.eval(`document.querySelector('${rowSel('hyperliquid', 'BTC-USDC-PERP')} td.funding').textContent`) === '+0.0013%', 'hyperliquid funding, no countdown');
      const next0 = await t.eval(`document.querySelector('${rowSel('okx', 'BTC-USDT-PERP')} td.funding .next').textContent`);
      t.ok(/^\d+s$|^1m 0\ds$/.test(next0), `okx next funding '${next0}'`);
      await t.waitFor(`document.querySelector('${rowSel('okx', 'BTC-USDT-PERP')} td.funding .next').textContent !== ${JSON.stringify(next0)}`, 2500, 'the funding countdown ticks');
      // Open interest in the base currency, exact and valued in the tooltip.
      t.ok(await cell(t, ...PERP, 'oi') === '1.23K BTC', `perp open interest '${await cell(t, ...PERP, 'oi')}'`);
      t.ok(/1234\.5 BTC \(value 117M USDT\)/.test(await title(t, ...PERP, 'oi')), 'open interest tooltip');
      // Spot rows leave the derivatives cells empty.
      t.ok(await t.eval(`['mark', 'basis', 'funding', 'oi'].every((c) => document.querySelector('${rowSel('binance', 'BTC-USDT')} td.' + c).textContent === '')`), 'spot row with derivatives figures');
      // The basis follows the spot price.
      f.st.spot = 95100.5;
      await t.waitFor(`document.querySelector('${rowSel(...PERP)} td.basis').textContent === '0.000' && document.querySelector('${rowSel('hyperliquid', 'BTC-USDC-PERP')} td.basis').textContent === '-5.31'`,
        3000, 'the basis follows the spot price');
      f.st.spot = 95000.5;
      await t.waitFor(`document.querySelector('${rowSel(...PERP)} td.basis').textContent === '+10.5' && !/waiting/.test(document.querySelector('#rates').textContent)`, 3000, 'the basis back');
      const cut = await t.eval(`[...document.querySelectorAll('${ROWS} td:not(.pin), #market thead th:not(.c-pin)')].filter((td) => getComputedStyle(td).display !== 'none' && td.scrollWidth > td.clientWidth)
        .map((td) => (td.parentNode.dataset.key || 'header') + ' ' + td.className.split(' ')[0] + ' ' + td.scrollWidth + '>' + td.clientWidth)`);
      t.ok(!cut.length, 'cells cut in the table: ' + cut.join(', '));
      await tapeWhole(t);
      await t.shot('perps-1400x900');
      // Wider screens give back bid and ask, then the day's range and the base volume.
      for (const [w, back] of [[1580, ['bid', 'ask']], [1880, ['bid', 'ask', 'high', 'low', 'volume']]]) {
        await t.size(w, 1000);
        await t.sleep(300);
        const vis = await t.eval(`['bid', 'ask', 'high', 'low', 'volume', 'mark', 'funding'].filter((c) => getComputedStyle(document.querySelector('${rowSel(...PERP)} td.' + c)).display !== 'none')`);
        t.ok(['mark', 'funding', ...back].every((c) => vis.includes(c)) && vis.length === back.length + 2, `columns at ${w} px: ${vis.join(' ')}`);
        const cutW = await t.eval(`[...document.querySelectorAll('${ROWS} td:not(.pin), #market thead th:not(.c-pin)')].filter((td) => getComputedStyle(td).display !== 'none' && td.scrollWidth > td.clientWidth).map((td) => (td.parentNode.dataset.key || 'header') + ' ' + td.className.split(' ')[0])`);
        const wrapW = await t.eval(`[document.querySelector('.market-wrap').scrollWidth, document.querySelector('.market-wrap').clientWidth]`);
        t.ok(!cutW.length && wrapW[0] <= wrapW[1], `cells cut at ${w} px: ${cutW.join(' ')}; the table ${wrapW[0]} px wide in ${wrapW[1]}`);
      }
      await t.size(1400, 900);

      // The perp's book: 20 levels a side, with mark, index, basis, funding, countdown, OI.
      await t.click(`${rowSel(...PERP)} td.symbol button`);
      await t.waitFor(`document.querySelector('#book').dataset.key === 'binance-futures|BTC-USDT-PERP' && !document.querySelector('#book-deriv').hidden
        && document.querySelectorAll('#book-bids tr.lvl:not(.empty)').length === 20 && document.querySelectorAll('#book-asks tr.lvl:not(.empty)').length === 20`, 5000, "the perp's book");
      const bk = await t.eval(`Object.fromEntries(['mark', 'index', 'basis', 'funding', 'next', 'oi', 'last', 'spread'].map((k) => [k, document.querySelector('#book-' + k).textContent]))`);
      t.ok(bk.mark === '95,101.2' && bk.index === '95,000.1' && bk.basis === '+10.5 bps' && bk.funding === '+0.0100%' && /^2h (29|30)m$/.test(bk.next)
        && bk.oi === '1.23K BTC' && bk.last === '95,100.5' && bk.spread === '0.2', 'the book panel: ' + JSON.stringify(bk));
      t.ok(await t.eval(`[...document.querySelectorAll('#book-bids td.px')].every((td) => /^95,\\d{3}\\.\\d$/.test(td.textContent))`), 'book prices with the tick of the market');

      // Liquidations: on the tape, told apart, with the position that went; never a last price.
      f.liquidations();
      await t.waitFor(`(() => { const l = document.querySelector('#trades li.liq[data-exchange="binance-futures"]'), s = document.querySelector('#trades li.liq[data-exchange="okx"]');
        return l && s && l.dataset.position === 'long' && /^LONG LIQUIDATED|^long liquidated/i.test(l.querySelector('.liq-what').textContent)
          && s.dataset.position === 'short' && /^short liquidated/i.test(s.querySelector('.liq-what').textContent); })()`, 3000, 'liquidations on the tape: a long and a short liquidated');
      const liq = await t.eval(`(() => { const l = document.querySelector('#trades li.liq[data-exchange="binance-futures"]'); return [l.querySelector('.liq-what').textContent, l.title, l.querySelector('.px').textContent, getComputedStyle(l).backgroundColor]; })()`);
      t.ok(liq[0] === 'long liquidated 47,545.05 USDT', `liquidation line '${liq[0]}'`);
      t.ok(/^liquidation of a long: sell order 0\.5 BTC @ 95090\.1 USDT/.test(liq[1]), `liquidation tooltip '${liq[1]}'`);
      t.ok(liq[2] === '95,090.1' && liq[3] !== 'rgba(0, 0, 0, 0)', `liquidation price and tint: ${JSON.stringify(liq)}`);
      t.ok(await cell(t, ...PERP, 'last') === '95,100.5', 'a liquidation became the last price');
      await t.type('#tape-symbol', 'liq');
      await t.waitFor(`(() => { const li = [...document.querySelectorAll('#trades li[data-symbol]')]; return li.length >= 2 && li.every((x) => x.classList.contains('liq')); })()`, 3000, '"liq" in the tape filter shows liquidations only');
      await t.eval(`(() => { const e = document.querySelector('#tape-symbol'); e.value = ''; e.dispatchEvent(new Event('input')); e.blur(); window.scrollTo(0, 0); })()`);
      await t.waitFor(`document.querySelector('#trades li:not(.liq)[data-symbol="BTC-USDT-PERP"]')`, 3000, 'trades back on the tape');
      await t.shot('perps-book-1400x900');

      // The same price reads the same in the table, the book, the tape and the cross view.
      await t.waitFor(`document.querySelector('#cross td.perp[data-market="binance-futures:BTC-USDT-PERP"] .v')`, 3000, 'the cross view built');
      const same = await t.eval(`[document.querySelector('${rowSel(...PERP)} td.last').textContent, document.querySelector('#book-last').textContent,
        document.querySelector('#trades li:not(.liq)[data-symbol="BTC-USDT-PERP"] .px').textContent, document.querySelector('#cross td.perp[data-market="binance-futures:BTC-USDT-PERP"] .v').textContent]`);
      t.ok(same.every((x) => x === '95,100.5'), 'the perp price differs between views: ' + JSON.stringify(same));

      // A type filter that keeps derivative lines: derivative data still comes (serve is
      // asked for every type and the page filters); one without them shows none.
      await t.click('#filters input[value="book"]');
      await t.waitFor(`location.search.includes('types=') && !location.search.includes('book')`, 3000, 'the filter without books');
      f.st.mark = 95102.3;
      await t.waitFor(`(document.querySelector('${rowSel(...PERP)} td.mark') || {}).textContent === '95,102.3'`, 5000, 'derivative lines with books left out');
      await t.click(`${rowSel(...PERP)} td.symbol button`);
      await t.sleep(1500);
      t.ok(await t.eval(`!document.querySelector('#book-empty').hidden && !document.querySelector('#book-deriv').hidden && document.querySelector('#book-mark').textContent === '95,102.3'`),
        'book lines shown although unchecked, or no derivative data beside the empty book');
      await t.click('#filters input[value="derivative"]');
      await t.waitFor(`document.querySelectorAll('${ROWS}').length >= 8 && (document.querySelector('${rowSel(...PERP)} td.last') || {}).textContent === '95,100.5'`, 5000, 'markets without derivative lines');
      await t.sleep(1500);
      t.ok(await t.eval(`document.querySelector('${rowSel(...PERP)} td.mark').textContent === '' && !document.querySelector('${rowSel('bybit-linear', 'ETH-USDT-PERP')}')`),
        'derivative lines shown although unchecked');
      await t.click('#f-reset');
      await filled(t);

      // Cross view: a column per perpetual, its price, premium over spot (bps) and funding.
      await t.goto(t.url.replace(/#.*$/, '') + '#cross');
      await connected(t);
      const crossPerp = (k) => `document.querySelector('#cross td.perp[data-market="${k}"]')`;
      await t.waitFor(`${crossPerp('binance-futures:BTC-USDT-PERP')} && ${crossPerp('hyperliquid:BTC-USDC-PERP')} && (${crossPerp('okx:BTC-USDT-PERP')}?.querySelector('.sub')?.textContent || '').includes('f ')`,
        8000, 'perp columns in the cross view');
      const cx = await t.eval(`['binance-futures:BTC-USDT-PERP', 'okx:BTC-USDT-PERP', 'hyperliquid:BTC-USDC-PERP', 'bybit-linear:ETH-USDT-PERP'].map((k) => {
        const td = document.querySelector('#cross td.perp[data-market="' + k + '"]'); return td ? [k, td.querySelector('.v').textContent, td.querySelector('.sub').textContent] : [k]; })`);
      const want = { 'binance-futures:BTC-USDT-PERP': ['95,100.5', '+10.5 bps · f +0.0100%'], 'okx:BTC-USDT-PERP': ['94,990.2', '-2.09 bps · f -0.0050%'],
        'hyperliquid:BTC-USDC-PERP': ['95,050', '+5.21 bps · f +0.0013%'], 'bybit-linear:ETH-USDT-PERP': ['—', '+3.94 bps · f +0.0100%'] };
      for (const [k, v, sub] of cx) t.ok(v === want[k][0] && sub === want[k][1], `cross ${k}: ${v} / ${sub}, want ${want[k].join(' / ')}`);
      t.ok(await t.eval(`[...document.querySelectorAll('#cross thead th.perp small')].every((s) => / perp · basis bps · funding$/.test(s.textContent))`), 'perp column headers');
      t.ok(await t.eval(`/^[+-]\\d+\\.\\d\\d%$/.test(document.querySelector('#cross td.premium[data-market="upbit:BTC-KRW"] .v').textContent)`), 'the KRW premium beside them');
      await t.shot('perps-cross-1400x900');

      // Dashboard: a row per venue with its feed, markets, messages per type and status.
      f.write([{ type: 'status', exchange: 'hyperliquid', symbol: 'BTC-USDC-PERP', local_ts: f.ts(), event: 'error', detail: 'Invalid subscription' }]);
      await t.goto(t.url.replace(/#.*$/, '') + '#dashboard');
      await connected(t);
      f.liquidations(3);
      const venue = (ex) => `document.querySelector('#dash-exchanges tr[data-exchange="${ex}"]')`;
      await t.waitFor(`['binance', 'binance-futures', 'okx', 'bybit-linear', 'hyperliquid', 'upbit'].every((ex) => document.querySelector('#dash-exchanges tr[data-exchange="' + ex + '"]'))
        && ${venue('binance-futures')}.querySelector('td.t-liquidation').textContent !== '—'`, 8000, 'a row per venue');
      const vrow = (ex) => t.eval(`(() => { const tr = ${venue(ex)}; return Object.fromEntries([...tr.cells].map((td, i) => [td.className.split(' ')[0] || String(i), td.textContent])); })()`);
      const bf = await vrow('binance-futures');
      t.log('binance-futures row: ' + JSON.stringify(bf));
      t.ok(bf.venue === 'binance-futures' && bf.feed === 'live' && bf.markets === '1 perp', 'binance-futures feed and markets: ' + JSON.stringify(bf));
      const rates = await t.eval(`Object.fromEntries(['trade', 'ticker', 'book', 'derivative', 'liquidation'].map((ty) => [ty, ${venue('binance-futures')}.querySelector('td.t-' + ty).textContent]))`);
      t.ok(Object.values(rates).every((r) => /^\d+(\.\d)?$/.test(r) && Number(r) > 0), 'binance-futures messages per type: ' + JSON.stringify(rates));
      const ok = await t.eval(`Object.fromEntries(['derivative', 'liquidation', 'book'].map((ty) => [ty, ${venue('okx')}.querySelector('td.t-' + ty).textContent]))`);
      t.ok(Number(ok.derivative) > 0 && ok.book === '—', 'okx messages per type: ' + JSON.stringify(ok));
      t.ok(await t.eval(`${venue('okx')}.querySelector('td.markets').textContent === '1 spot · 1 perp · 1 future'`), 'okx markets');
      // The status line written before the move to the dashboard, once the page has it.
      await t.waitFor(`(() => { const td = ${venue('hyperliquid')}.querySelector('td.status');
        return /^error BTC-USDC-PERP: Invalid subscription · \\d+(\\.\\d)? s ago$/.test(td.textContent) && td.className.includes('bad'); })()`,
        8000, 'hyperliquid status');
      await t.shot('perps-dashboard-1400x900');
    } finally {
      f.stop();
    }
  },

  // A phone: the derivatives fit (funding over its countdown), nothing overflows sideways,
  // symbols whole in the table and the tape, the perp's book opens.
  async phone(t, [fifo]) {
    await connected(t);
    const f = feeder(t, fifo);
    try {
      await filled(t);
      f.liquidations();
      await t.waitFor(`document.querySelectorAll('#trades li.liq').length >= 2`, 3000, 'liquidations on the tape');
      t.ok(await t.eval(`document.documentElement.scrollWidth <= window.innerWidth`), 'the page scrolls sideways');
      // Nothing clipped in the cells shown: symbols, prices, changes, funding.
      const cut = await t.eval(`[...document.querySelectorAll('${ROWS} td:not(.pin), #market thead th:not(.c-pin)')].filter((td) => getComputedStyle(td).display !== 'none' && td.scrollWidth > td.clientWidth)
        .map((td) => (td.parentNode.dataset.key || 'header') + ' ' + td.className.split(' ')[0] + ' ' + td.scrollWidth + '>' + td.clientWidth)`);
      t.ok(!cut.length, 'cells cut in the table: ' + cut.join(', '));
      const shown = await t.eval(`(() => { const tr = document.querySelector('${rowSel(...PERP)}'); const vis = (c) => getComputedStyle(tr.querySelector('td.' + c)).display !== 'none';
        return { last: vis('last'), funding: vis('funding'), basis: vis('basis'), fr: tr.querySelector('td.funding .fr').textContent, next: tr.querySelector('td.funding .next').textContent }; })()`);
      t.ok(shown.last && shown.funding && !shown.basis && shown.fr === '+0.0100%' && /^2h/.test(shown.next), 'phone columns: ' + JSON.stringify(shown));
      await tapeWhole(t);
      await t.waitFor(`document.querySelector('#feeds li[data-exchange="binance-futures"]')`, 3000, 'feed chips');
      await t.shot('perps-390x844');
      await t.click(`${rowSel(...PERP)} td.symbol button`);
      await t.waitFor(`document.querySelectorAll('#book-bids tr.lvl:not(.empty)').length === 20 && document.querySelector('#book-basis').textContent === '+10.5 bps'`, 5000, 'the perp book on a phone');
      t.ok(await t.eval(`document.documentElement.scrollWidth <= window.innerWidth`), 'the book makes the page scroll sideways');
      await t.shot('perps-book-390x844');
      await t.goto(t.url.replace(/#.*$/, '') + '#cross');
      await t.waitFor(`document.querySelector('#cross td.perp[data-market="binance-futures:BTC-USDT-PERP"] .sub') && document.querySelector('#cross td.perp[data-market="binance-futures:BTC-USDT-PERP"] .sub').textContent.startsWith('+10.5 bps')`, 8000, 'the cross view on a phone');
      t.ok(await t.eval(`document.documentElement.scrollWidth <= window.innerWidth`), 'the cross view makes the page scroll sideways');
      await t.shot('perps-cross-390x844');
    } finally {
      f.stop();
    }
  },
};
