// Scenarios for tests/tools/browser-run against the web page (tests/browser.bats). Most run
// against the demo pipeline (scripts/demo: fake Binance and Upbit replaying the bundled
// recordings); their first argument is the demo's run directory, whose fake-NAME.sock
// takes fakex's control commands. Each fails with a message that says what the page did.
'use strict';

const ROWS = '#market tbody tr';
const fx = (t, run, name, cmd) => t.sh(`printf '%s\\n' '${cmd}' | timeout 5 nc -U -q 1 '${run}/fake-${name}.sock'`);
const rowSel = (ex, sym) => `${ROWS}[data-exchange="${ex}"][data-symbol="${sym}"]`;
const PRICE = /^-?\d{1,3}(,\d{3})*(\.\d+)?$/;
const decimalsOf = (s) => (s.includes('.') ? s.length - s.indexOf('.') - 1 : 0);

// With the feeds paused: every view shows a market's price with the same text, every price
// of a market has the market's decimals, amounts are rounded with the exact value in a tooltip.
async function compareViews(t) {
  await t.sleep(2500);
  const views = await t.eval(`(() => {
    const out = {};
    const add = (key, view, text) => { (out[key] = out[key] || []).push([view, text]); };
    for (const tr of document.querySelectorAll('${ROWS}')) {
      const key = tr.dataset.exchange + ':' + tr.dataset.symbol;
      for (const c of ['last', 'bid', 'ask', 'high', 'low']) add(key, 'markets.' + c, tr.querySelector('td.' + c).textContent);
    }
    for (const td of document.querySelectorAll('#cross td.price[data-market]')) { const v = td.querySelector('.v').textContent; if (v !== '—') add(td.dataset.market, 'cross', v); }
    for (const li of document.querySelectorAll('#trades li[data-symbol]')) add(li.dataset.exchange + ':' + li.dataset.symbol, 'tape', li.querySelector('.px').textContent);
    const bk = document.querySelector('#book').dataset.key.replace('|', ':');
    for (const td of document.querySelectorAll('#book td.px')) if (td.textContent) add(bk, 'book', td.textContent);
    add(bk, 'book.last', document.querySelector('#book-last').textContent);
    const last = {};
    for (const tr of document.querySelectorAll('${ROWS}')) last[tr.dataset.exchange + ':' + tr.dataset.symbol] = tr.querySelector('td.last').textContent;
    return { out, last };
  })()`);
  let checked = 0;
  for (const [key, list] of Object.entries(views.out)) {
    const dec = new Set(list.map(([, v]) => decimalsOf(v)));
    t.ok(dec.size === 1, `${key} renders with different decimals: ${JSON.stringify(list.slice(0, 8))}`);
    for (const [view, v] of list) t.ok(PRICE.test(v), `${key} in ${view}: '${v}' is not a grouped price`);
    // The same value: the last price in the table, the cross view and the book panel.
    for (const [view, v] of list) if (view === 'cross' || view === 'book.last') { t.ok(v === views.last[key], `${key}: ${view} shows ${v}, the table ${views.last[key]}`); checked++; }
  }
  t.ok(checked >= 9, `only ${checked} prices compared across views`);
  t.ok(Object.keys(views.out).length >= 9 && views.out['binance:XRP-USDT'].some(([v]) => v === 'book'), 'not every view was compared');
  // Amounts: rounded on the tape, exact in the tooltip.
  const amt = await t.eval(`[...document.querySelectorAll('#trades li[data-symbol]')].map((li) => [li.querySelector('.amt').textContent, li.title])`);
  for (const [text, title] of amt) {
    const exact = /(?:buy|sell|unknown) (\S+) /.exec(title)[1];
    const frac = text.includes('.') ? text.split('.')[1].length : 0;
    t.ok(frac <= 6 && (Number(exact) < 1 || frac <= 4), `amount '${text}' not rounded for display`);
    t.ok(Math.abs(Number(text.replace(/,/g, '')) - Number(exact)) <= Math.max(0.00005 * Number(exact), 0.00005), `amount '${text}' is not ${exact} rounded`);
  }
}

async function filled(t, n = 9) {
  await t.waitFor(`document.querySelectorAll('${ROWS}').length >= ${n} && [...document.querySelectorAll('${ROWS} td.last')].every((td) => td.textContent)`,
    20000, `${n} markets with a last price`);
}
const cellText = (t, ex, sym, col) => t.eval(`(document.querySelector('${rowSel(ex, sym)} td.${col}') || {}).textContent`);

module.exports = {
  // Rows of both exchanges with every column; sparklines; the search box; the watchlist.
  async monitor(t) {
    await filled(t);
    const cols = ['last', 'bid', 'ask', 'spread', 'change', 'high', 'low', 'volume', 'qvol', 'age'];
    for (const [ex, sym] of [['binance', 'BTC-USDT'], ['binance', 'XRP-USDT'], ['upbit', 'BTC-KRW'], ['upbit', 'USDT-KRW']]) {
      for (const c of cols) {
        const v = await cellText(t, ex, sym, c);
        t.ok(v && v.trim(), `${ex} ${sym}: column ${c} is empty`);
      }
      for (const c of ['last', 'high', 'low']) {
        const v = await cellText(t, ex, sym, c);
        t.ok(PRICE.test(v), `${ex} ${sym} ${c} '${v}' is not a grouped price`);
      }
      const base = sym.split('-')[0], quote = sym.split('-')[1];
      t.ok((await cellText(t, ex, sym, 'volume')).endsWith(' ' + base), `${ex} ${sym}: volume without its unit ${base}`);
      t.ok((await cellText(t, ex, sym, 'qvol')).endsWith(' ' + quote), `${ex} ${sym}: quote volume without its unit ${quote}`);
    }
    // KRW without decimals; Binance's XRP with its tick's 4.
    t.ok(decimalsOf(await cellText(t, 'upbit', 'BTC-KRW', 'last')) === 0, 'upbit BTC-KRW shows decimals');
    t.ok(decimalsOf(await cellText(t, 'binance', 'XRP-USDT', 'last')) === 4, 'binance XRP-USDT does not show 4 decimals');
    // Upbit's change runs from the day's open: the cell says so; Binance's is rolling.
    t.ok(await t.eval(`(() => { const td = document.querySelector('${rowSel('upbit', 'BTC-KRW')} td.change'); return td.classList.contains('day') && /00:00 KST/.test(td.title); })()`),
      'upbit 24h % is not labelled as since the day open');
    t.ok(await t.eval(`!document.querySelector('${rowSel('binance', 'BTC-USDT')} td.change').classList.contains('day')`), 'binance 24h % labelled as day-open');
    // Sparklines: a sample every 10 s, drawn from the second one.
    await t.waitFor(`document.querySelectorAll('${ROWS} td.trend polyline[points*=","]').length >= 9`, 25000, 'a sparkline on every row');
    await t.shot('monitor-1400x900');
    // The search filters as you type.
    await t.type('#m-search', 'xrp');
    await t.waitFor(`document.querySelectorAll('${ROWS}').length === 2 && [...document.querySelectorAll('${ROWS}')].every((r) => r.dataset.symbol.startsWith('XRP-'))`,
      3000, 'search "xrp" leaves the two XRP markets');
    await t.type('#m-search', 'upbit eth');
    await t.waitFor(`document.querySelectorAll('${ROWS}').length === 1 && document.querySelector('${ROWS}').dataset.symbol === 'ETH-KRW'`, 3000, 'search "upbit eth" leaves upbit ETH-KRW');
    await t.type('#m-search', '');
    await t.eval(`(() => { const e = document.querySelector('#m-search'); e.value = ''; e.dispatchEvent(new Event('input')); })()`);
    await t.waitFor(`document.querySelectorAll('${ROWS}').length === 9`, 3000, 'clearing the search brings back every row');
    // Pin upbit ETH-KRW: it goes first, and stays pinned across a reload.
    await t.click(`${rowSel('upbit', 'ETH-KRW')} button.pin`);
    await t.waitFor(`document.querySelector('${ROWS}').dataset.key === 'upbit|ETH-KRW'`, 3000, 'a pinned market moves to the top');
    t.ok(await t.eval(`JSON.parse(localStorage.getItem('relay.watchlist')).includes('upbit|ETH-KRW')`), 'the watchlist is not in localStorage');
    await t.goto(t.url);
    await filled(t);
    await t.waitFor(`document.querySelector('${ROWS}').dataset.key === 'upbit|ETH-KRW' && document.querySelector('${ROWS}').classList.contains('pinned')`, 3000, 'the pin survives a reload');
    await t.click('#m-watch-only');
    await t.waitFor(`document.querySelectorAll('${ROWS}').length === 1`, 3000, 'watchlist only shows the pinned market');
    await t.click('#m-watch-only');
    await t.click(`${rowSel('upbit', 'ETH-KRW')} button.pin`);
    await t.waitFor(`document.querySelectorAll('${ROWS}').length === 9 && JSON.parse(localStorage.getItem('relay.watchlist')).length === 0`, 3000, 'unpinning');
  },

  // The order book: 20 levels a side with cumulative sizes and depth bars, spread, mid and
  // age, updating live.
  async book(t) {
    await filled(t);
    await t.click(`${rowSel('binance', 'BTC-USDT')} td.symbol button`);
    await t.waitFor(`!document.querySelector('#book').hidden && document.querySelector('#book').dataset.key === 'binance|BTC-USDT'`, 3000, 'a click opens the book');
    await t.waitFor(`document.querySelectorAll('#book-bids tr.lvl:not(.empty)').length === 20 && document.querySelectorAll('#book-asks tr.lvl:not(.empty)').length === 20`,
      5000, '20 bid and 20 ask levels');
    const snap = () => t.eval(`(() => {
      const side = (id) => [...document.querySelectorAll(id + ' tr.lvl')].map((tr) => ({ px: tr.cells[0].textContent, sz: tr.cells[1].textContent, cum: tr.cells[2].textContent, depth: tr.style.getPropertyValue('--depth') }));
      return { bids: side('#book-bids'), asks: side('#book-asks'), mid: document.querySelector('#book-mid').textContent,
        spread: document.querySelector('#book-spread').textContent, bps: document.querySelector('#book-spread-bps').textContent,
        age: document.querySelector('#book-age').textContent, sel: document.querySelector('${ROWS}.sel').dataset.key };
    })()`);
    const s = await snap();
    const num = (x) => Number(x.replace(/,/g, ''));
    // Bids best first, asks laid out best last (next to the spread line).
    const bids = s.bids, asks = s.asks.slice().reverse();
    for (let i = 1; i < 20; i++) {
      t.ok(num(bids[i].px) < num(bids[i - 1].px), `bids not descending at ${i}: ${bids[i - 1].px} then ${bids[i].px}`);
      t.ok(num(asks[i].px) > num(asks[i - 1].px), `asks not ascending at ${i}: ${asks[i - 1].px} then ${asks[i].px}`);
    }
    t.ok(num(bids[0].px) < num(asks[0].px), 'the book is crossed');
    // Cumulative sizes add up (to the display's rounding), and the deeper side's bar is full.
    let cum = 0;
    for (const l of bids) cum += num(l.sz);
    t.ok(Math.abs(cum - num(bids[19].cum)) < 0.002, `bid cumulative ${bids[19].cum} is not the sum ${cum}`);
    t.ok(bids[19].depth === '100%' || asks[19].depth === '100%', 'no depth bar reaches 100 %');
    t.ok(parseFloat(bids[0].depth) < parseFloat(bids[19].depth), 'depth bars do not grow with depth');
    t.ok(num(s.spread) === Math.round((num(asks[0].px) - num(bids[0].px)) * 100) / 100, `spread ${s.spread} is not ask - bid`);
    t.ok(/ bps$/.test(s.bps), `spread in bps missing: '${s.bps}'`);
    t.ok(Math.abs(num(s.mid) - (num(asks[0].px) + num(bids[0].px)) / 2) < 1e-6, `mid ${s.mid} is not the midpoint`);
    t.ok(/^\d+(\.\d)? s$/.test(s.age), `age '${s.age}'`);
    t.ok(s.sel === 'binance|BTC-USDT', 'the open market is not marked in the table');
    await t.shot('book-1400x900');
    // It updates: the top of the book changes within a few seconds of live data.
    const top = bids[0].px + ' ' + bids[0].sz + ' ' + asks[0].px + ' ' + asks[0].sz;
    await t.waitFor(`(() => { const b = document.querySelector('#book-bids tr.lvl'), a = document.querySelector('#book-asks tr.lvl:last-child');
      return b.cells[0].textContent + ' ' + b.cells[1].textContent + ' ' + a.cells[0].textContent + ' ' + a.cells[1].textContent !== ${JSON.stringify(top)}; })()`,
    8000, 'the book updates');
    // Upbit sends 15 levels: the panel shows what there is.
    await t.click(`${rowSel('upbit', 'BTC-KRW')} td.symbol button`);
    await t.waitFor(`document.querySelector('#book').dataset.key === 'upbit|BTC-KRW' && document.querySelectorAll('#book-bids tr.lvl:not(.empty)').length === 15`, 5000, "upbit's 15 levels");
    t.ok(await t.eval(`[...document.querySelectorAll('#book-bids tr.lvl:not(.empty) td.px')].every((td) => /^\\d{1,3}(,\\d{3})*$/.test(td.textContent))`), 'upbit KRW book prices with decimals');
    await t.click('#book-close');
    await t.waitFor(`document.querySelector('#book').hidden && !document.querySelector('${ROWS}.sel')`, 2000, 'the close button closes the book');
  },

  // One formatter: with the feeds paused, every view shows a market's price with the same
  // text; every price of a market has the market's decimals.
  async numbers(t, [run]) {
    await filled(t);
    await t.click(`${rowSel('binance', 'XRP-USDT')} td.symbol button`);
    await t.waitFor(`document.querySelectorAll('#book-bids tr.lvl:not(.empty)').length === 20`, 5000, 'the XRP-USDT book');
    await t.waitFor(`document.querySelectorAll('#trades li[data-symbol]').length >= 20`, 15000, '20 trades on the tape');
    fx(t, run, 'binance', 'pause');
    fx(t, run, 'upbit', 'pause');
    try {
      await compareViews(t);
    } finally {
      fx(t, run, 'binance', 'play');
      fx(t, run, 'upbit', 'play');
    }
  },

  // A page opened long after the feeds connected still shows each feed's state, from the
  // status line serve cached for it.
  async late(t) {
    await t.waitFor(`['binance', 'upbit'].every((ex) => { const li = document.querySelector('#feeds li[data-exchange="' + ex + '"]');
      return li && li.dataset.state === 'live' && /last status: connected \\(ws:\\/\\/127\\.0\\.0\\.1:\\d+/.test(li.title); })`, 3000,
    "each feed's chip with its cached status line");
  },

  // A stopped feed dims its rows within the threshold (10 s) and the banner names it; data
  // flowing again clears both.
  async stale(t, [run]) {
    await filled(t);
    const t0 = Date.now();
    fx(t, run, 'upbit', 'pause');
    await t.waitFor(`document.querySelectorAll('${ROWS}.stale[data-exchange="upbit"]').length === 5`, 14000, 'upbit rows dim');
    const took = (Date.now() - t0) / 1000;
    t.log(`upbit rows dimmed ${took.toFixed(1)} s after its data stopped`);
    t.ok(took >= 9 && took <= 12.5, `dimmed after ${took} s, not at the 10 s threshold`);
    t.ok(await t.eval(`document.querySelectorAll('${ROWS}.stale[data-exchange="binance"]').length === 0`), 'binance rows dimmed too');
    t.ok(await t.eval(`!document.querySelector('#banner').hidden && /upbit: no data for/.test(document.querySelector('#banner').textContent) && !/binance/.test(document.querySelector('#banner').textContent)`),
      'the banner does not name upbit alone');
    t.ok(await t.eval(`document.querySelector('#feeds li[data-exchange="upbit"]').dataset.state === 'stale' && document.querySelector('#feeds li[data-exchange="binance"]').dataset.state === 'live'`), 'feed chips');
    await t.shot('stale-1400x900');
    fx(t, run, 'upbit', 'play');
    await t.waitFor(`document.querySelectorAll('${ROWS}.stale').length === 0 && document.querySelector('#banner').hidden && document.querySelector('#feeds li[data-exchange="upbit"]').dataset.state === 'live'`,
      5000, 'data flowing again clears the dimming and the banner');
  },

  // The connection drops (serve killed): every row dims, the banner says so, nothing goes
  // blank; the page reconnects by itself to the restarted serve.
  async reconnect(t, [run]) {
    await filled(t);
    const before = await t.eval(`document.querySelectorAll('${ROWS}').length`);
    const pid = t.sh(`cat '${run}/serve.pid'`).trim();
    t.sh(`kill -9 ${pid}`);
    await t.waitFor(`document.querySelector('#conn').dataset.state !== 'connected' && document.querySelectorAll('${ROWS}.stale').length === ${before}`, 3000, 'every row dims when the link drops');
    t.ok(await t.eval(`/Connection to the server lost/.test(document.querySelector('#banner').textContent)`), 'no banner for the lost connection');
    t.ok(await t.eval(`document.querySelectorAll('${ROWS}').length === ${before} && [...document.querySelectorAll('${ROWS} td.last')].every((td) => td.textContent)`), 'rows went blank');
    await t.shot('offline-1400x900');
    await t.waitFor(`document.querySelector('#conn').dataset.state === 'connected'`, 20000, 'the page reconnects');
    await t.waitFor(`document.querySelectorAll('${ROWS}.stale').length === 0 && document.querySelector('#banner').hidden`, 8000, 'rows come back to life');
    t.ok(await t.eval(`document.querySelectorAll('${ROWS}').length === ${before}`), 'rows changed across the reconnect');
    const urls = t.sockets();
    // The first connection asks for no position; every reconnection resumes after the last
    // position the page got (serve read its journal back after the kill).
    t.ok(urls.length >= 2 && !/since=/.test(urls[0]) && urls.slice(1).every((u) => /[?&]since=\d+(&|$)/.test(u)),
      `the reconnection did not resume after the last position seen: ${urls.join(' ')}`);
  },

  // The tape: pause and resume, pause on hover, symbol filter, minimum value.
  async tape(t) {
    await t.waitFor(`document.querySelectorAll('#trades li[data-symbol]').length >= 10`, 15000, 'trades on the tape');
    await t.click('#tape-pause');
    const first = await t.eval(`document.querySelector('#trades li').title`);
    await t.waitFor(`/\\d+ new/.test(document.querySelector('#tape-waiting').textContent)`, 5000, 'new trades counted while paused');
    t.ok(await t.eval(`document.querySelector('#trades li').title === ${JSON.stringify(first)}`), 'the tape moved while paused');
    await t.click('#tape-pause');
    await t.waitFor(`document.querySelector('#trades li').title !== ${JSON.stringify(first)} && !document.querySelector('#tape-waiting').textContent`, 3000, 'resume shows the waiting trades');
    await t.hover('#trades li:nth-child(3)');
    await t.waitFor(`document.querySelector('.tape').classList.contains('paused')`, 2000, 'hovering pauses');
    const hovered = await t.eval(`document.querySelector('#trades li').title`);
    await t.sleep(1500);
    t.ok(await t.eval(`document.querySelector('#trades li').title === ${JSON.stringify(hovered)}`), 'the tape moved under the pointer');
    await t.mouseAway();
    await t.waitFor(`!document.querySelector('.tape').classList.contains('paused')`, 2000, 'leaving resumes');
    await t.type('#tape-symbol', 'xrp');
    await t.waitFor(`(() => { const li = [...document.querySelectorAll('#trades li[data-symbol]')]; return li.length >= 3 && li.every((x) => x.dataset.symbol.startsWith('XRP-')); })()`, 10000, 'symbol filter');
    await t.eval(`(() => { const e = document.querySelector('#tape-symbol'); e.value = ''; e.dispatchEvent(new Event('input')); })()`);
    await t.type('#tape-min', '500');
    await t.waitFor(`(() => { const li = [...document.querySelectorAll('#trades li[data-symbol]')]; return li.length >= 1 && li.every((x) => Number(x.dataset.usd) >= 500); })()`, 15000, 'minimum value $500');
    const kinds = await t.eval(`[...new Set([...document.querySelectorAll('#trades li[data-symbol]')].map((li) => li.dataset.exchange))]`);
    t.log('trades of at least $500 from: ' + kinds.join(', '));
  },

  // A phone: the markets fit, the tape shows full symbols, nothing overflows sideways.
  async mobile(t) {
    await filled(t);
    await t.waitFor(`document.querySelectorAll('#trades li[data-symbol]').length >= 10`, 15000, 'trades');
    t.ok(await t.eval(`document.documentElement.scrollWidth <= window.innerWidth`), 'the page scrolls sideways');
    // A symbol is whole when neither it nor the market cell holding it is clipped.
    const cut = await t.eval(`[...document.querySelectorAll('#trades li[data-symbol]')].filter((li) => {
      const mk = li.children[1], sym = li.querySelector('.sym');
      const a = sym.getBoundingClientRect(), b = mk.getBoundingClientRect();
      return mk.scrollWidth > mk.clientWidth + 1 || sym.scrollWidth > Math.ceil(a.width) + 1 || a.right > b.right + 1 || a.left < b.left - 1;
    }).map((li) => li.dataset.symbol)`);
    t.ok(!cut.length, 'symbols cut on the tape: ' + cut.join(' '));
    const cutM = await t.eval(`[...document.querySelectorAll('${ROWS} td.symbol button')].filter((s) => s.scrollWidth > s.clientWidth + 1).map((s) => s.textContent)`);
    t.ok(!cutM.length, 'symbols cut in the table: ' + cutM.join(' '));
    t.ok(await t.eval(`getComputedStyle(document.querySelector('${ROWS} td.bid')).display === 'none' && getComputedStyle(document.querySelector('${ROWS} td.last')).display !== 'none'`), 'phone columns');
    await t.shot('monitor-390x844');
    await t.click(`${rowSel('binance', 'BTC-USDT')} td.symbol button`);
    await t.waitFor(`document.querySelectorAll('#book-bids tr.lvl:not(.empty)').length === 20`, 5000, 'the book on a phone');
    t.ok(await t.eval(`document.documentElement.scrollWidth <= window.innerWidth`), 'the book makes the page scroll sideways');
    await t.shot('book-390x844');
  },

  // Cross view: every price with its age, and the premium's history from samples.
  async cross(t) {
    await t.goto(t.url.replace(/#.*$/, '') + '#cross');
    await t.waitFor(`document.querySelectorAll('#cross tbody tr').length === 4`, 15000, 'four bases');
    await t.waitFor(`[...document.querySelectorAll('#cross td.price small.age')].filter((s) => /^\\d+(\\.\\d)? s$/.test(s.textContent)).length >= 8`, 5000, 'ages on the prices');
    t.ok(await t.eval(`/^[+-]\\d+\\.\\d\\d%$/.test(document.querySelector('#cross td.premium[data-market="upbit:BTC-KRW"] .v').textContent)`), 'BTC premium');
    await t.waitFor(`/^(\\d+) samples$/.test(document.querySelector('#cross-samples').textContent) && parseInt(document.querySelector('#cross-samples').textContent) >= 2`, 25000, 'two premium samples');
    t.ok(await t.eval(`/upbit [+-]\\d/.test(document.querySelector('#cross-legend').textContent)`), 'chart legend');
    await t.click('#cross tbody tr[data-base="ETH"] td.base');
    await t.waitFor(`document.querySelector('#cross-chart-title').textContent.startsWith('ETH ')`, 2000, 'a row click charts its premium');
    await t.shot('cross-1400x900');
  },

  // A standalone node: Kafka and elect are not configured, not down.
  async dashboard(t) {
    await t.goto(t.url.replace(/#.*$/, '') + '#dashboard');
    await t.waitFor(`document.querySelector('#dash-role').textContent === 'leader' && document.querySelector('#dash-mode').textContent === 'direct'`, 5000, 'role and mode');
    await t.waitFor(`document.querySelector('#dash-kafka-up').textContent === 'not configured' && !document.querySelector('#dash-kafka-up').classList.contains('bad')`, 5000, 'Kafka not configured');
    t.ok(await t.eval(`(() => { const r = [...document.querySelectorAll('#dash-stages tbody tr')].find((tr) => tr.cells[0].textContent === 'elect');
      return r && r.cells[1].textContent === 'not configured' && !r.cells[1].classList.contains('bad'); })()`), 'elect not configured');
    // The page's own connection, once serve's status has counted it.
    await t.waitFor(`Number(document.querySelector('#dash-clients').textContent) >= 1`, 10000, 'clients');
    await t.shot('dashboard-1400x900');
  },

  // The Events page: the node's incidents, newest first, filters, counts per hour.
  async events(t, [run]) {
    await filled(t);
    fx(t, run, 'upbit', 'drop');
    await t.goto(t.url.replace(/#.*$/, '') + '#events');
    // The fake's drop: ingest reports the disconnection with its cause, then reconnects.
    await t.waitFor(`(() => { const r = [...document.querySelectorAll('#ev-table tbody tr')].map((tr) => tr.dataset.exchange + ' ' + tr.dataset.kind);
      const d = r.indexOf('upbit disconnected'), c = r.indexOf('upbit connected'); return d >= 0 && c >= 0 && c < d; })()`, 20000, 'the disconnection and the reconnection listed');
    const rows = await t.eval(`[...document.querySelectorAll('#ev-table tbody tr')].map((tr) => [tr.dataset.exchange, tr.dataset.kind, tr.cells[0].textContent, tr.cells[4].textContent])`);
    t.ok(rows.some(([ex, k]) => ex === 'upbit' && k === 'disconnected'), 'no upbit disconnection: ' + JSON.stringify(rows));
    t.ok(rows.some(([ex, k]) => ex === 'relay' && k === 'start'), 'no start of serve');
    const times = rows.map((r) => r[2]);
    t.ok(times.every((x, i) => !i || x <= times[i - 1]), 'not newest first: ' + times.join(' '));
    const iDisc = rows.findIndex(([ex, k]) => ex === 'upbit' && k === 'disconnected');
    const iConn = rows.findIndex(([ex, k]) => ex === 'upbit' && k === 'connected');
    t.ok(iConn < iDisc, 'the reconnection is not listed above the disconnection');
    await t.waitFor(`[...document.querySelectorAll('#ev-hours li')].length === 24 && Number(document.querySelector('#ev-hours li:last-child').dataset.total) >= 5`, 3000, 'counts per hour');
    await t.shot('events-1400x900');
    await t.eval(`(() => { const s = document.querySelector('#ev-exchange'); s.value = 'upbit'; s.dispatchEvent(new Event('change')); })()`);
    await t.waitFor(`(() => { const r = [...document.querySelectorAll('#ev-table tbody tr')]; return r.length >= 3 && r.every((tr) => tr.dataset.exchange === 'upbit'); })()`, 5000, 'exchange filter');
    await t.eval(`(() => { const s = document.querySelector('#ev-kind'); s.value = 'disconnected'; s.dispatchEvent(new Event('change')); })()`);
    await t.waitFor(`(() => { const r = [...document.querySelectorAll('#ev-table tbody tr')]; return r.length >= 1 && r.every((tr) => tr.dataset.exchange === 'upbit' && tr.dataset.kind === 'disconnected'); })()`, 5000, 'kind filter');
  },

  // serve restricts /api/events and /api/status (--admin-allow): the Events page says so and
  // lists the status lines the page saw itself (serve's cached ones included).
  async restricted(t) {
    await filled(t);
    await t.goto(t.url.replace(/#.*$/, '') + '#events');
    await t.waitFor(`document.querySelector('#ev-source').textContent.includes('/api/events unavailable (restricted by serve')`, 8000, 'the Events page says why');
    await t.waitFor(`(() => { const r = [...document.querySelectorAll('#ev-table tbody tr')].map((tr) => tr.dataset.exchange + ' ' + tr.dataset.kind);
      return r.includes('binance connected') && r.includes('upbit connected'); })()`, 5000, "the page's own status lines listed");
    await t.goto(t.url.replace(/#.*$/, '') + '#dashboard');
    await t.waitFor(`!document.querySelector('#dash-error').hidden && document.querySelector('#dash-error').textContent.includes('HTTP 403')`, 5000, 'the dashboard says /api/status is restricted');
  },

  // The page's CPU over SECONDS, after a warm-up, on VIEW (book: the monitor with a book
  // open, the default; monitor; cross; dashboard; events): prints one JSON line.
  async cpu(t, [seconds, label, view]) {
    await filled(t);
    if (!view || view === 'book') await t.click(`${rowSel('binance', 'BTC-USDT')} td.symbol button`);
    else if (view !== 'monitor') await t.goto(t.url.replace(/#.*$/, '') + '#' + view);
    await t.sleep(5000);
    const c = await t.cpu(Number(seconds || 30));
    const rate = await t.eval(`document.querySelector('#rate-total').textContent`);
    process.stdout.write(JSON.stringify({ label: label || '', msgs_per_s: Number(rate.replace(/,/g, '')), ...c }) + '\n');
  },
};

// Stream positions: lines fed to serve with positions, a resume after a restart
// of serve, and a gap. ARGS: the FIFO serve reads, and a command that restarts serve on the
// same port.
module.exports.synthetic = async (t, [fifo, restart]) => {
  let seq = 100;
  const ts = () => Date.now() * 1000;
  const line = (o) => JSON.stringify({ ...o, seq: ++seq });
  const feed = (lines) => {
    require('fs').writeFileSync(fifo + '.batch', lines.join('\n') + '\n');
    t.sh(`cat '${fifo}.batch' > '${fifo}'`);
  };
  const batch = () => [
    line({ type: 'ticker', exchange: 'binance', symbol: 'BTC-USDT', ts: ts(), local_ts: ts(), bid: 95000.25, ask: 95000.75, last: 95000.5, open: 94000, high: 95500, low: 93900.1, volume: 1234.5, quote_volume: 117000000 }),
    line({ type: 'ticker', exchange: 'upbit', symbol: 'BTC-KRW', ts: ts(), local_ts: ts(), last: 136000000, open: 135000000 }),
    line({ type: 'ticker', exchange: 'upbit', symbol: 'USDT-KRW', ts: ts(), local_ts: ts(), last: 1400 }),
    line({ type: 'trade', exchange: 'binance', symbol: 'BTC-USDT', ts: ts(), local_ts: ts(), id: '1', price: 95000.5, amount: 0.25, side: 'buy' }),
  ];
  await t.waitFor(`document.querySelector('#conn').dataset.state === 'connected'`, 10000, 'connected');
  feed(batch());
  const R = '#market tbody tr';
  await t.waitFor(`document.querySelectorAll('${R}').length === 3 && document.querySelectorAll('#trades li[data-symbol]').length === 1`, 5000, 'three markets and a trade');
  // Resume: serve restarts; the page reconnects asking for what followed the last position.
  const last = seq;
  t.sh(restart);
  await t.waitFor(`document.querySelector('#conn').dataset.state !== 'connected'`, 5000, 'the link drops');
  await t.waitFor(`document.querySelector('#conn').dataset.state === 'connected'`, 15000, 'the page reconnects');
  const urls = t.sockets();
  t.ok(new RegExp(`[?&]since=${last}(&|$)`).test(urls[urls.length - 1]), `the reconnect does not resume after ${last}: ${urls.join(' ')}`);
  t.ok(!/since=/.test(urls[0]), 'the first connection asked to resume');
  t.ok(await t.eval(`document.querySelectorAll('${R}').length === 3`), 'rows went blank across the restart');
  // A gap: the page keeps what it shows and says what was missed.
  feed([JSON.stringify({ type: 'status', exchange: 'relay', local_ts: ts(), event: 'gap', from: 5, to: 9, seq: ++seq })]);
  await t.waitFor(`!document.querySelector('#gap-note').hidden && /no longer held 4 lines \\(5–8\\)/.test(document.querySelector('#gap-note').textContent)
    && document.querySelector('#trades li.gap') && document.querySelectorAll('${R}').length === 3`, 5000, 'the gap noted, nothing cleared');
};
