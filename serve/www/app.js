// exchange relay web UI: live market table, trade tape, cross-exchange premium and node dashboard.
// Plain ES2020, no dependencies. Data: normalized JSON lines over WebSocket, /api/status over HTTP.
'use strict';
(() => {
  const MAX_STREAMS = 2000;      // rows in the market table
  const EVICT_AFTER = 60000;     // when full, a stream silent this long (ms) gives way to a new one
  const MAX_TRADES = 50;         // trade tape length
  const MAX_FEEDS = 100;         // feed status chips (one per exchange)
  const MAX_EVENTS = 100;        // recent status lines
  const MAX_KNOWN = 2000;        // symbols remembered for the filter's suggestions
  const MAX_SUGGESTIONS = 600;
  const MAX_CROSS_ROWS = 300;
  const MAX_CROSS_COLS = 24;
  const HISTORY = 120;           // dashboard samples (1 per second = 2 minutes)
  const RATE_WINDOW = 5;         // seconds of message-rate history
  const AGE_WARN = 5, AGE_BAD = 30;
  const BACKOFF_MIN = 500, BACKOFF_MAX = 10000;
  const PING_EVERY = 15000, DEAD_AFTER = 45000;
  const STATUS_POLL = 1000;
  const MAX_CLOCK_SKEW = 10 * 60 * 1000;
  const DATA_TYPES = ['trade', 'ticker', 'book'];

  const $ = (sel, root = document) => root.querySelector(sel);
  const now = () => Date.now();
  const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const setText = (node, text) => { if (node && node.textContent !== text) node.textContent = text; };

  // ------------------------------------------------------------------ formatting

  // A number exactly as the feed wrote it: the shortest round-trip text, with any
  // exponent notation expanded (1e-7 -> 0.0000001), so prices show no float noise.
  function fmtNum(n) {
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
  // Same digits, integer part grouped by thousands (for wide KRW prices).
  function fmtGrouped(n) {
    const s = fmtNum(n);
    if (!s) return '';
    const neg = s[0] === '-';
    const body = neg ? s.slice(1) : s;
    const dot = body.indexOf('.');
    const int = dot < 0 ? body : body.slice(0, dot);
    const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    return (neg ? '-' : '') + grouped + (dot < 0 ? '' : body.slice(dot));
  }
  // Decimal places of a number as the feed wrote it.
  function decimals(n) {
    const s = fmtNum(n);
    const i = s.indexOf('.');
    return i < 0 ? 0 : s.length - i - 1;
  }
  // Mid price, rounded to one more decimal than its inputs: no float noise.
  function mid(a, b) {
    const d = Math.min(20, Math.max(decimals(a), decimals(b)) + 1);
    return Number(((a + b) / 2).toFixed(d));
  }
  const nfCache = new Map();
  function nf(maxFrac) {
    let f = nfCache.get(maxFrac);
    if (!f) { f = new Intl.NumberFormat('en-US', { maximumFractionDigits: maxFrac }); nfCache.set(maxFrac, f); }
    return f;
  }
  // Quantities (volume, amounts): grouped, with precision that shrinks as the value grows.
  function fmtQty(n) {
    if (!isNum(n)) return '';
    const a = Math.abs(n);
    if (a >= 1e9) return nf(2).format(n / 1e9) + 'B';
    if (a >= 1e6) return nf(2).format(n / 1e6) + 'M';
    if (a >= 1000) return nf(0).format(n);
    if (a >= 1) return nf(4).format(n);
    return fmtNum(n);
  }
  function fmtPct(p, digits = 2) {
    if (!isNum(p)) return '';
    const v = p.toFixed(digits);
    return (p > 0 && Number(v) !== 0 ? '+' : '') + (Number(v) === 0 ? (0).toFixed(digits) : v) + '%';
  }
  function fmtAge(sec) {
    if (!isNum(sec)) return '';
    if (sec < 0) sec = 0;
    if (sec < 10) return sec.toFixed(1) + ' s';
    if (sec < 120) return Math.round(sec) + ' s';
    if (sec < 7200) return Math.round(sec / 60) + ' min';
    if (sec < 172800) return Math.round(sec / 3600) + ' h';
    return Math.round(sec / 86400) + ' d';
  }
  function fmtDuration(sec) {
    if (!isNum(sec)) return '—';
    sec = Math.max(0, Math.floor(sec));
    const d = Math.floor(sec / 86400), h = Math.floor(sec / 3600) % 24, m = Math.floor(sec / 60) % 60, s = sec % 60;
    if (d) return `${d}d ${h}h ${m}m`;
    if (h) return `${h}h ${m}m ${s}s`;
    if (m) return `${m}m ${s}s`;
    return `${s}s`;
  }
  function fmtBytes(b) {
    if (!isNum(b)) return '—';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
    return (i ? b.toFixed(b < 10 ? 2 : 1) : String(b)) + ' ' + u[i];
  }
  function fmtRate(r) {
    if (!isNum(r)) return '—';
    return r >= 100 ? nf(0).format(r) : nf(1).format(r);
  }
  function fmtCount(n) { return isNum(n) ? nf(0).format(n) : '—'; }
  function fmtMs(n) {
    if (!isNum(n)) return '—';
    return n >= 100 ? nf(0).format(n) : n >= 10 ? nf(1).format(n) : nf(2).format(n);
  }
  const pad2 = (n) => (n < 10 ? '0' : '') + n;
  function fmtClock(us) {
    if (!isNum(us)) return '';
    const d = new Date(us / 1000);
    const ms = d.getMilliseconds();
    return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}`;
  }

  // ------------------------------------------------------------------ clock

  // The server's clock as seen from here (from /api/status now_us), so ages computed from
  // local_ts are right even when this machine's clock is off.
  let clockOffset = 0;
  const serverNowMs = () => now() + clockOffset;

  // ------------------------------------------------------------------ filter

  const params = new URLSearchParams(location.search);
  const listParam = (k) => (params.get(k) || '').split(',').map((s) => s.trim()).filter(Boolean);
  const filter = {
    types: listParam('types').map((s) => s.toLowerCase()),
    exchanges: listParam('exchanges').map((s) => s.toLowerCase()),
    symbols: listParam('symbols').map((s) => s.toUpperCase()),
  };
  let filterTest = compileFilter(filter);

  // Symbols given without a quote ("BTC") match every market of that base: the server
  // cannot filter those, so they are matched here and the server is asked for all symbols.
  function serverFilter(f) {
    const exact = f.symbols.every((s) => s.includes('-'));
    return { types: f.types, exchanges: f.exchanges, symbols: exact ? f.symbols : [] };
  }
  // A query string with the filter's lists replaced, commas kept literal (types=trade,ticker).
  function withFilter(search, f) {
    const keep = search.replace(/^\?/, '').split('&')
      .filter((p) => p && !/^(types|exchanges|symbols)(=|$)/.test(p));
    for (const k of ['types', 'exchanges', 'symbols']) {
      if (f[k].length) keep.push(k + '=' + f[k].map(encodeURIComponent).join(','));
    }
    return keep.length ? '?' + keep.join('&') : '';
  }
  function compileFilter(f) {
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

  // ------------------------------------------------------------------ state

  const streams = new Map();        // "exchange|symbol" -> stream
  const dirty = new Set();          // streams to repaint next frame
  let pendingTrades = [];           // trades not yet on the tape, oldest first
  const feeds = new Map();          // exchange -> latest status line
  const events = [];                // recent status lines, newest last
  const knownExchanges = new Set();
  const knownSymbols = new Set();
  const stale = new Set();          // off-screen streams with changes not yet shown
  let knownDirty = true;
  let feedsDirty = false, eventsDirty = false, crossDirty = false, orderDirty = false;
  let sort = { key: null, dir: 1 };

  const rate = { buckets: [], cur: new Map(), curTotal: 0, start: now(), total: 0, perEx: new Map() };

  class Stream {
    constructor(exchange, symbol) {
      this.exchange = exchange;
      this.symbol = symbol;
      const dash = symbol.indexOf('-');
      this.base = dash > 0 ? symbol.slice(0, dash) : symbol;
      this.quote = dash > 0 ? symbol.slice(dash + 1) : '';
      this.last = this.bid = this.ask = this.open = this.volume = undefined;
      this.t = 0;          // local_ts of the latest update, ms (server clock)
      this.row = null;
      this.cells = null;
      this.index = -1;     // position in the table
      this.shown = {};     // values currently displayed, to flash on change
    }
    get change() { return isNum(this.last) && isNum(this.open) && this.open !== 0 ? (this.last / this.open - 1) * 100 : undefined; }
    get price() {
      if (isNum(this.last)) return this.last;
      if (isNum(this.bid) && isNum(this.ask)) return mid(this.bid, this.ask);
      return undefined;
    }
  }

  function streamFor(m) {
    const ex = m.exchange, sym = m.symbol;
    if (typeof ex !== 'string' || typeof sym !== 'string' || !ex || !sym) return null;
    const key = ex + '|' + sym;
    let s = streams.get(key);
    if (!s) {
      if (streams.size >= MAX_STREAMS && !evictStale()) { capped = true; return null; }
      s = new Stream(ex, sym);
      streams.set(key, s);
      orderDirty = true;
      crossDirty = true;
      noteKnown(ex, sym);
    }
    return s;
  }
  // The table is full: make room only by dropping a stream that has been silent for a
  // while (looked for at most once a second), so a busy table never churns its rows.
  let capped = false, evictCheckAt = 0;
  function evictStale() {
    const t = now();
    if (t < evictCheckAt) return false;
    evictCheckAt = t + 1000;
    let oldest = null;
    for (const s of streams.values()) if (!oldest || s.t < oldest.t) oldest = s;
    if (!oldest || serverNowMs() - oldest.t < EVICT_AFTER) return false;
    streams.delete(oldest.exchange + '|' + oldest.symbol);
    dirty.delete(oldest);
    stale.delete(oldest);
    dropRow(oldest);
    orderDirty = true;
    return true;
  }
  function noteKnown(ex, sym) {
    if (ex && !knownExchanges.has(ex) && knownExchanges.size < MAX_FEEDS) { knownExchanges.add(ex); knownDirty = true; }
    if (sym && !knownSymbols.has(sym) && knownSymbols.size < MAX_KNOWN) { knownSymbols.add(sym); knownDirty = true; }
  }
  function touch(s, m) {
    s.t = isNum(m.local_ts) ? m.local_ts / 1000 : serverNowMs();
    dirty.add(s);
    scheduleFrame();
  }

  // ------------------------------------------------------------------ messages

  function onLine(text) {
    let m;
    try { m = JSON.parse(text); } catch (e) { return; }
    if (!m || typeof m !== 'object') return;
    switch (m.type) {
      case 'trade': case 'ticker': case 'book': case 'status':
        if (!filterTest(m)) return;
        countRate(m.exchange);
        break;
      case 'pong': return;
      case 'subscribed': notice('filter applied'); return;
      case 'error': notice('server: ' + String(m.error || 'error'), true); return;
      default: return;
    }
    if (m.type === 'trade') onTrade(m);
    else if (m.type === 'ticker') onTicker(m);
    else if (m.type === 'book') onBook(m);
    else onStatus(m);
  }

  function onTrade(m) {
    const s = streamFor(m);
    if (s) {
      if (isNum(m.price)) s.last = m.price;
      touch(s, m);
      crossDirty = true;
    } else if (typeof m.exchange !== 'string' || typeof m.symbol !== 'string') {
      return;
    }
    scheduleFrame();
    pendingTrades.push(m);
    if (pendingTrades.length > MAX_TRADES * 4) pendingTrades = pendingTrades.slice(-MAX_TRADES);
  }
  function onTicker(m) {
    const s = streamFor(m);
    if (!s) return;
    if (isNum(m.last)) s.last = m.last;
    if (isNum(m.bid)) s.bid = m.bid;
    if (isNum(m.ask)) s.ask = m.ask;
    if (isNum(m.open)) s.open = m.open;
    if (isNum(m.volume)) s.volume = m.volume;
    touch(s, m);
    crossDirty = true;
  }
  function onBook(m) {
    const s = streamFor(m);
    if (!s) return;
    // Only the top of the book is used.
    const b = Array.isArray(m.bids) ? m.bids[0] : undefined;
    const a = Array.isArray(m.asks) ? m.asks[0] : undefined;
    if (Array.isArray(b) && isNum(b[0])) s.bid = b[0];
    if (Array.isArray(a) && isNum(a[0])) s.ask = a[0];
    touch(s, m);
    if (!isNum(s.last)) crossDirty = true;
  }
  function onStatus(m) {
    const ex = typeof m.exchange === 'string' && m.exchange ? m.exchange : 'relay';
    const st = {
      exchange: ex,
      symbol: typeof m.symbol === 'string' ? m.symbol : '',
      event: typeof m.event === 'string' ? m.event : 'status',
      detail: m.detail == null ? '' : String(m.detail),
      t: isNum(m.local_ts) ? m.local_ts / 1000 : serverNowMs(),
    };
    if (!feeds.has(ex) && feeds.size >= MAX_FEEDS) {
      let oldest = null;
      for (const f of feeds.values()) if (!oldest || f.t < oldest.t) oldest = f;
      if (oldest) feeds.delete(oldest.exchange);
    }
    feeds.set(ex, st);
    events.push(st);
    if (events.length > MAX_EVENTS) events.splice(0, events.length - MAX_EVENTS);
    if (ex !== 'relay') noteKnown(ex, null);
    feedsDirty = eventsDirty = true;
    scheduleFrame();
  }

  function countRate(ex) {
    rate.curTotal++;
    rate.total++;
    if (typeof ex === 'string') rate.cur.set(ex, (rate.cur.get(ex) || 0) + 1);
  }
  // Called once a second: close the current bucket and compute rates over the window.
  function rollRates() {
    const t = now();
    const dur = Math.max(0.001, (t - rate.start) / 1000);
    rate.buckets.push({ dur, total: rate.curTotal, perEx: rate.cur });
    if (rate.buckets.length > RATE_WINDOW) rate.buckets.shift();
    rate.cur = new Map();
    rate.curTotal = 0;
    rate.start = t;
    let d = 0, tot = 0;
    const per = new Map();
    for (const b of rate.buckets) {
      d += b.dur; tot += b.total;
      for (const [ex, n] of b.perEx) per.set(ex, (per.get(ex) || 0) + n);
    }
    rate.overall = tot / d;
    rate.perEx = new Map([...per].map(([ex, n]) => [ex, n / d]));
  }

  // ------------------------------------------------------------------ rendering

  // All DOM updates happen here, at most once per animation frame. Rows scrolled out of
  // view are only marked stale and refreshed once a second (or when they scroll into view);
  // slower parts (re-sorting, the tape, the cross view) have their own minimum intervals.
  let frameQueued = false;
  function scheduleFrame() {
    if (frameQueued) return;
    frameQueued = true;
    requestAnimationFrame(frame);
  }
  const every = { rows: 100, order: 250, tape: 100, crossShown: 250, crossHidden: 1000, known: 2000 };
  const lastRun = { rows: 0, order: 0, tape: 0, cross: 0, known: 0 };
  const due = (k, ms, t) => t - lastRun[k] >= ms;

  const market = $('#market');
  const marketBody = market.tBodies[0];
  const tape = $('#trades');

  function frame() {
    frameQueued = false;
    const t = now();
    let again = false;
    if (orderDirty) {
      // The first rows of a fresh table go in at once; later arrivals and re-sorts are paced.
      if (marketBody.childElementCount < 50 || due('order', every.order, t)) { lastRun.order = t; reorderRows(); } else again = true;
    }
    if (dirty.size || (rangeDirty && stale.size)) {
      // At most ~10 repaints a second per row: faster than the eye, far cheaper than 60.
      if (due('rows', every.rows, t)) {
        lastRun.rows = t;
        const [first, lastRow] = visibleRange();
        for (const s of dirty) {
          if (!s.row || (s.index >= first && s.index <= lastRow)) renderStream(s, true);
          else stale.add(s);
        }
        dirty.clear();
        if (rangeDirty) {
          for (const s of stale) if (s.index >= first && s.index <= lastRow) { renderStream(s, false); stale.delete(s); }
        }
        rangeDirty = false;
      } else again = true;
    }
    if (flashing.size) { unflash(t); again = true; }
    if (pendingTrades.length) {
      if (due('tape', every.tape, t)) { lastRun.tape = t; renderTrades(); } else again = true;
    }
    if (feedsDirty) renderFeeds();
    if (eventsDirty && eventsOpen()) renderEvents();
    if (knownDirty) {
      if (due('known', every.known, t)) { lastRun.known = t; renderKnown(); } else again = true;
    }
    if (crossDirty) {
      if (due('cross', route === 'cross' ? every.crossShown : every.crossHidden, t)) { lastRun.cross = t; renderCross(); } else again = true;
    }
    if (again) scheduleFrame();
  }

  // Rows on screen, as a range of row positions: rows have one fixed height, so one
  // measurement of the table body against its scroll box and the window is enough.
  const marketWrap = $('.market-wrap');
  let rangeDirty = false;
  function visibleRange() {
    const n = marketBody.childElementCount;
    if (!n || route !== 'monitor' || document.hidden) return [0, -1];
    const body = marketBody.getBoundingClientRect();
    const wrap = marketWrap.getBoundingClientRect();
    const top = Math.max(wrap.top, 0), bottom = Math.min(wrap.bottom, window.innerHeight);
    if (bottom <= top || !body.height) return [0, -1];
    const h = body.height / n, margin = 5;
    return [Math.max(0, Math.floor((top - body.top) / h) - margin), Math.min(n - 1, Math.ceil((bottom - body.top) / h) + margin)];
  }
  const onScroll = () => { if (stale.size) { rangeDirty = true; scheduleFrame(); } };
  marketWrap.addEventListener('scroll', onScroll, { passive: true });
  window.addEventListener('scroll', onScroll, { passive: true });
  window.addEventListener('resize', onScroll);
  document.addEventListener('visibilitychange', onScroll);
  function flushStale() {
    for (const s of stale) if (s.row) renderStream(s, false);
    stale.clear();
  }
  function dropRow(s) {
    if (!s.row) return;
    for (const f of FIELDS) flashing.delete(s.cells[f]);
    s.row.remove();
    s.row = null;
  }

  const FIELDS = ['last', 'bid', 'ask'];
  function buildRow(s) {
    const tr = document.createElement('tr');
    tr.setAttribute('role', 'row');     // the table is styled as grid rows: keep its semantics explicit
    tr.dataset.exchange = s.exchange;
    tr.dataset.symbol = s.symbol;
    const c = {};
    for (const name of ['exchange', 'symbol', 'last', 'bid', 'ask', 'change', 'volume', 'age']) {
      const td = c[name] = tr.appendChild(el('td', name));
      td.setAttribute('role', 'cell');
    }
    c.exchange.textContent = s.exchange;
    c.symbol.textContent = s.symbol;
    c.symbol.dataset.ex = s.exchange;
    s.row = tr;
    s.cells = c;
  }
  // A changed price lights up its cell for a moment: one class on, one class off, so a
  // busy table costs two repaints per change instead of a repaint per animation frame.
  const FLASH_MS = 450;
  const flashing = new Map();      // td -> time the highlight ends
  function flash(td, up) {
    const cls = up ? 'flash-up' : 'flash-down';
    if (!td.classList.contains(cls)) { td.classList.remove('flash-up', 'flash-down'); td.classList.add(cls); }
    flashing.set(td, now() + FLASH_MS);
  }
  function unflash(t) {
    for (const [td, end] of flashing) {
      if (end > t) continue;
      td.classList.remove('flash-up', 'flash-down');
      flashing.delete(td);
    }
  }
  function renderStream(s, animate) {
    if (!s.row) buildRow(s);
    const c = s.cells, shown = s.shown;
    for (const f of FIELDS) {
      const v = s[f];
      if (v === shown[f]) continue;
      c[f].textContent = fmtNum(v);
      if (animate && isNum(v) && isNum(shown[f]) && s.row.isConnected) flash(c[f], v > shown[f]);
      shown[f] = v;
    }
    const ch = s.change;
    if (ch !== shown.change) {
      c.change.textContent = fmtPct(ch);
      c.change.className = 'change' + (ch > 0 ? ' up' : ch < 0 ? ' down' : '');
      shown.change = ch;
    }
    if (s.volume !== shown.volume) {
      c.volume.textContent = fmtQty(s.volume);
      c.volume.title = fmtNum(s.volume);
      shown.volume = s.volume;
    }
    renderAge(s, serverNowMs());
  }
  function renderAge(s, nowMs) {
    if (!s.cells) return;
    const age = s.t ? Math.max(0, (nowMs - s.t) / 1000) : undefined;
    setText(s.cells.age, fmtAge(age));
    const cls = age === undefined ? 'age' : age >= AGE_BAD ? 'age bad' : age >= AGE_WARN ? 'age warn' : 'age';
    if (s.cells.age.className !== cls) s.cells.age.className = cls;
  }

  const sortValue = {
    exchange: (s) => s.exchange, symbol: (s) => s.symbol, last: (s) => s.last, bid: (s) => s.bid, ask: (s) => s.ask,
    change: (s) => s.change, volume: (s) => s.volume, age: (s) => (s.t ? -s.t : undefined),
  };
  function compareStreams(a, b) {
    if (sort.key) {
      const va = sortValue[sort.key](a), vb = sortValue[sort.key](b);
      const ua = va === undefined, ub = vb === undefined;
      if (ua !== ub) return ua ? 1 : -1;        // unknown values last whatever the direction
      if (!ua && va !== vb) {
        const r = typeof va === 'string' ? va.localeCompare(vb) : va - vb;
        if (r) return r * sort.dir;
      }
    }
    return a.exchange < b.exchange ? -1 : a.exchange > b.exchange ? 1 : a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0;
  }
  function reorderRows() {
    orderDirty = false;
    for (const s of streams.values()) if (!s.row) { renderStream(s, false); dirty.delete(s); }
    const list = [...streams.values()].sort(compareStreams);
    let node = marketBody.firstChild;
    list.forEach((s, i) => { s.index = i; });
    rangeDirty = true;
    for (const s of list) {
      if (node === s.row) { node = node.nextSibling; continue; }
      marketBody.insertBefore(s.row, node);
    }
    setText($('#market-count'), !streams.size ? ''
      : `${streams.size} stream${streams.size === 1 ? '' : 's'}` + (capped ? ' (limit reached: narrow the filter)' : ''));
    $('#market-empty').hidden = streams.size > 0;
  }

  function renderTrades() {
    if (!pendingTrades.length) return;
    const batch = pendingTrades.length > MAX_TRADES ? pendingTrades.slice(-MAX_TRADES) : pendingTrades;
    pendingTrades = [];
    const frag = document.createDocumentFragment();
    for (let i = batch.length - 1; i >= 0; i--) {
      const m = batch[i];
      const side = m.side === 'buy' || m.side === 'sell' ? m.side : 'unknown';
      const li = el('li', side);
      li.dataset.exchange = m.exchange;
      li.dataset.symbol = m.symbol;
      const t = el('time', null, fmtClock(isNum(m.ts) ? m.ts : m.local_ts));
      if (isNum(m.ts)) t.dateTime = new Date(m.ts / 1000).toISOString();
      const mk = el('span', 'mk');
      mk.append(el('span', 'ex', m.exchange), ' ', el('span', 'sym', m.symbol));
      li.append(t, mk, el('span', 'px', fmtNum(m.price)), el('span', 'amt', fmtNum(m.amount)));
      li.title = `${side} ${fmtNum(m.amount)} ${m.symbol} @ ${fmtNum(m.price)} on ${m.exchange}` + (m.id ? ` (id ${m.id})` : '');
      frag.appendChild(li);
    }
    for (const li of tape.querySelectorAll('li.fresh')) li.classList.remove('fresh');
    for (const li of frag.children) li.classList.add('fresh');
    tape.insertBefore(frag, tape.firstChild);
    while (tape.childElementCount > MAX_TRADES) tape.lastElementChild.remove();
    $('#trades-empty').hidden = true;
  }

  function renderFeeds() {
    feedsDirty = false;
    const ul = $('#feeds');
    const list = [...feeds.values()].sort((a, b) => a.exchange.localeCompare(b.exchange));
    if (!list.length) { ul.replaceChildren(el('li', 'muted', 'no status yet')); return; }
    const t = serverNowMs();
    ul.replaceChildren(...list.map((f) => {
      const li = el('li', 'feed ev-' + f.event.replace(/[^a-z]/gi, ''));
      li.dataset.exchange = f.exchange;
      li.title = `${f.exchange}${f.symbol ? ' ' + f.symbol : ''}: ${f.event}${f.detail ? ' — ' + f.detail : ''}`;
      li.append(el('b', null, f.exchange), el('span', 'event', f.event + (f.symbol ? ' ' + f.symbol : '')));
      if (f.detail) li.append(el('span', 'detail', f.detail));
      const age = el('span', 'age', fmtAge((t - f.t) / 1000));
      age.dataset.t = String(f.t);
      li.append(age);
      return li;
    }));
  }
  function tickFeedAges() {
    const t = serverNowMs();
    for (const a of document.querySelectorAll('#feeds .age')) setText(a, fmtAge((t - Number(a.dataset.t)) / 1000));
  }
  function eventsOpen() { return $('details.events').open; }
  function renderEvents() {
    eventsDirty = false;
    setText($('#events-count'), events.length ? `(${events.length})` : '');
    const ol = $('#events');
    ol.replaceChildren(...events.slice().reverse().map((e) => {
      const li = el('li');
      li.append(el('time', null, fmtClock(e.t * 1000)), el('b', null, e.exchange), el('span', 'sym', e.symbol || ''),
        el('span', 'ev-' + e.event.replace(/[^a-z]/gi, ''), e.event + (e.detail ? ': ' + e.detail : '')));
      li.title = e.detail;
      return li;
    }));
  }

  function renderRates() {
    setText($('#rate-total'), fmtRate(rate.overall || 0));
    const ul = $('#rates');
    const list = [...rate.perEx].filter(([, r]) => r > 0).sort((a, b) => b[1] - a[1]);
    if (!list.length) {
      const msg = streams.size ? 'no messages in the last 5 s' : 'waiting for data…';
      if (ul.childElementCount !== 1 || ul.textContent !== msg) ul.replaceChildren(el('li', 'muted', msg));
      return;
    }
    ul.replaceChildren(...list.slice(0, 20).map(([ex, r]) => {
      const li = el('li');
      li.dataset.exchange = ex;
      li.append(el('b', null, ex), el('span', 'num', fmtRate(r)), el('span', 'muted', '/s'));
      return li;
    }));
  }

  function renderKnown() {
    knownDirty = false;
    const sel = $('#f-exchange');
    const want = [...new Set([...knownExchanges, ...filter.exchanges])].sort();
    const multi = filter.exchanges.length > 1 ? filter.exchanges.join(',') : null;
    const have = [...sel.options].slice(1).map((o) => o.value);
    const values = multi ? [multi, ...want] : want;
    if (have.join('\n') !== values.join('\n')) {
      sel.replaceChildren(new Option('all exchanges', ''), ...values.map((v) => new Option(v, v)));
    }
    sel.value = filter.exchanges.join(',');
    const dl = $('#symbol-list');
    const bases = new Set();
    for (const s of knownSymbols) { const i = s.indexOf('-'); if (i > 0) bases.add(s.slice(0, i)); }
    const opts = [...bases].sort().concat([...knownSymbols].sort()).slice(0, MAX_SUGGESTIONS);
    const lastOpt = dl.lastElementChild;
    if (dl.childElementCount !== opts.length || (lastOpt && lastOpt.value !== opts[opts.length - 1])) {
      dl.replaceChildren(...opts.map((v) => new Option(v)));
    }
  }

  // ------------------------------------------------------------------ cross-exchange view

  const QUOTES = ['USDT', 'USDC', 'USD', 'KRW'];
  const USDT_PREF = ['binance', 'okx', 'bybit', 'bitget', 'coinbase', 'kraken'];
  const MAJORS = ['BTC', 'ETH', 'XRP', 'SOL', 'BNB', 'DOGE', 'ADA', 'TRX', 'AVAX', 'LINK', 'DOT', 'TON'];
  let crossShape = '';
  let crossCells = new Map();      // "row|col" -> td

  function renderCross() {
    crossDirty = false;
    // Markets by base, and the USDT-KRW rate per exchange.
    const byBase = new Map();
    const usdtKrw = new Map();
    const cols = new Map();          // "exchange quote" -> {exchange, quote}
    for (const s of streams.values()) {
      if (!QUOTES.includes(s.quote)) continue;
      const p = s.price;
      if (s.base === 'USDT' && s.quote === 'KRW') { if (isNum(p)) usdtKrw.set(s.exchange, p); continue; }
      if (s.base === 'USDT' || s.base === 'USDC' || s.base === 'USD') continue;
      let b = byBase.get(s.base);
      if (!b) byBase.set(s.base, (b = new Map()));
      b.set(s.exchange + ' ' + s.quote, s);
      const ck = s.exchange + ' ' + s.quote;
      if (!cols.has(ck)) cols.set(ck, { key: ck, exchange: s.exchange, quote: s.quote });
    }
    const anyUsdtKrw = usdtKrw.get('upbit') ?? usdtKrw.get('bithumb') ?? [...usdtKrw.values()][0];
    setText($('#usdt-krw'), usdtKrw.size
      ? 'USDT-KRW: ' + [...usdtKrw].sort().map(([ex, p]) => `${ex} ${fmtGrouped(p)}`).join(' · ')
      : 'USDT-KRW: —');

    const qOrder = (q) => QUOTES.indexOf(q);
    const colList = [...cols.values()]
      .sort((a, b) => qOrder(a.quote) - qOrder(b.quote) || a.exchange.localeCompare(b.exchange))
      .slice(0, MAX_CROSS_COLS);
    const krwCols = colList.filter((c) => c.quote === 'KRW');
    const majorRank = (b) => { const i = MAJORS.indexOf(b); return i < 0 ? MAJORS.length : i; };
    const bases = [...byBase.keys()]
      .sort((a, b) => majorRank(a) - majorRank(b) || byBase.get(b).size - byBase.get(a).size || a.localeCompare(b))
      .slice(0, MAX_CROSS_ROWS);

    const table = $('#cross');
    $('#cross-empty').hidden = bases.length > 0;
    const shape = colList.map((c) => c.key).join(',') + '/' + bases.join(',');
    if (shape !== crossShape) {
      crossShape = shape;
      crossCells = new Map();
      const htr = el('tr');
      htr.append(el('th', null, 'Base'));
      for (const c of krwCols) {
        const th = el('th', 'n prem', c.exchange);
        th.append(el('small', null, 'KRW premium'));
        htr.append(th);
      }
      for (const c of colList) {
        const th = el('th', 'n', c.exchange);
        th.append(el('small', null, c.quote));
        htr.append(th);
      }
      table.tHead.replaceChildren(htr);
      const rows = bases.map((base) => {
        const tr = el('tr');
        tr.dataset.base = base;
        tr.append(el('td', 'base', base));
        for (const c of krwCols) {
          const td = el('td', 'premium n');
          td.dataset.market = `${c.exchange}:${base}-KRW`;
          crossCells.set(base + '|prem ' + c.exchange, td);
          tr.append(td);
        }
        for (const c of colList) {
          const td = el('td', 'n price');
          td.dataset.market = `${c.exchange}:${base}-${c.quote}`;
          crossCells.set(base + '|' + c.key, td);
          tr.append(td);
        }
        return tr;
      });
      table.tBodies[0].replaceChildren(...rows);
    }

    for (const base of bases) {
      const mk = byBase.get(base);
      for (const c of colList) {
        const s = mk.get(c.key);
        const td = crossCells.get(base + '|' + c.key);
        setText(td, s && isNum(s.price) ? fmtGrouped(s.price) : '—');
      }
      // Reference USDT market: the preferred exchange that lists it, else any.
      let ref = null;
      for (const ex of USDT_PREF) { const s = mk.get(ex + ' USDT'); if (s && isNum(s.price)) { ref = s; break; } }
      if (!ref) for (const [k, s] of mk) if (k.endsWith(' USDT') && isNum(s.price)) { ref = s; break; }
      for (const c of krwCols) {
        const td = crossCells.get(base + '|prem ' + c.exchange);
        const k = mk.get(c.key);
        const fx = usdtKrw.get(c.exchange) ?? anyUsdtKrw;
        if (k && isNum(k.price) && ref && isNum(fx) && fx > 0 && ref.price > 0) {
          const prem = (k.price / (ref.price * fx) - 1) * 100;
          setText(td, fmtPct(prem));
          const cls = 'premium n' + (prem > 0 ? ' up' : prem < 0 ? ' down' : '');
          if (td.className !== cls) td.className = cls;
          td.title = `${c.exchange} ${base}-KRW ${fmtGrouped(k.price)} / (${ref.exchange} ${base}-USDT ${fmtNum(ref.price)} × USDT-KRW ${fmtNum(fx)}) − 1`;
        } else {
          setText(td, '—');
          if (td.className !== 'premium n') td.className = 'premium n';
          td.title = !k ? `no ${c.exchange} ${base}-KRW market` : !ref ? `no ${base}-USDT price` : !isNum(fx) ? 'no USDT-KRW price' : 'no price yet';
        }
      }
    }
  }

  // ------------------------------------------------------------------ sorting and filters UI

  market.tHead.addEventListener('click', (ev) => {
    const th = ev.target.closest('th[data-sort]');
    if (!th) return;
    const key = th.dataset.sort;
    const firstDir = key === 'exchange' || key === 'symbol' ? 1 : -1;   // text ascending, numbers largest first
    if (sort.key !== key) sort = { key, dir: firstDir };
    else if (sort.dir === firstDir) sort.dir = -firstDir;
    else sort = { key: null, dir: 1 };        // third click: back to the default order
    for (const h of market.tHead.querySelectorAll('th[data-sort]')) {
      h.setAttribute('aria-sort', h.dataset.sort === sort.key ? (sort.dir === 1 ? 'ascending' : 'descending') : 'none');
    }
    orderDirty = true;
    scheduleFrame();
  });

  const form = $('#filters');
  function syncFormFromFilter() {
    $('#f-symbol').value = filter.symbols.join(',');
    const types = filter.types.length ? filter.types : DATA_TYPES;
    for (const cb of form.querySelectorAll('input[name="type"]')) cb.checked = types.includes(cb.value);
    knownDirty = true;
  }
  function readFilterFromForm() {
    const exv = $('#f-exchange').value;
    const syms = $('#f-symbol').value.split(/[\s,]+/).map((s) => s.trim().toUpperCase().replace('/', '-')).filter(Boolean);
    const checked = [...form.querySelectorAll('input[name="type"]:checked')].map((cb) => cb.value);
    // All data types checked = everything. Otherwise keep status lines for the feed chips.
    const types = checked.length === DATA_TYPES.length ? [] : [...checked, 'status'];
    return { types, exchanges: exv ? exv.split(',') : [], symbols: [...new Set(syms)] };
  }
  function applyFilter(f) {
    const same = ['types', 'exchanges', 'symbols'].every((k) => filter[k].join(',') === f[k].join(','));
    Object.assign(filter, f);
    filterTest = compileFilter(filter);
    // Keep the filter in the page URL so a reload keeps it.
    const qs = withFilter(location.search, filter);
    history.replaceState(null, '', location.pathname + qs + location.hash);
    if (same) return;
    // Clear now, before the server's snapshot for the new filter can arrive.
    doClear();
    scheduleFrame();
    if (!sendSubscribe()) notice('filter will apply on reconnect');
  }
  form.addEventListener('submit', (ev) => { ev.preventDefault(); applyFilter(readFilterFromForm()); });
  $('#f-exchange').addEventListener('change', () => applyFilter(readFilterFromForm()));
  for (const cb of form.querySelectorAll('input[name="type"]')) cb.addEventListener('change', () => applyFilter(readFilterFromForm()));
  $('#f-symbol').addEventListener('change', () => applyFilter(readFilterFromForm()));
  $('#f-reset').addEventListener('click', () => {
    $('#f-exchange').value = '';
    applyFilter({ types: [], exchanges: [], symbols: [] });
    syncFormFromFilter();
  });

  function doClear() {
    for (const s of streams.values()) dropRow(s);
    streams.clear();
    capped = false;
    dirty.clear();
    stale.clear();
    pendingTrades = [];
    marketBody.replaceChildren();
    tape.replaceChildren();
    $('#trades-empty').hidden = false;
    orderDirty = true;
    crossDirty = true;
    crossShape = '';
  }

  let noticeTimer = 0;
  function notice(text, bad) {
    const out = $('#notice');
    out.textContent = text;
    out.classList.toggle('bad', !!bad);
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { out.textContent = ''; }, bad ? 8000 : 2500);
  }

  // ------------------------------------------------------------------ WebSocket

  const connEl = $('#conn');
  const conn = { ws: null, attempt: 0, timer: 0, openedAt: 0, lastMsg: 0, state: '', retryAt: 0, node: '' };

  function wsURL() {
    let u;
    const full = params.get('url');
    if (full) {
      try { u = new URL(full, location.href); } catch (e) { u = null; }
    }
    if (!u) {
      const path = params.get('ws') || '/ws/exchange';
      u = new URL(path, location.href);
      u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    }
    if (u.protocol === 'http:') u.protocol = 'ws:';
    if (u.protocol === 'https:') u.protocol = 'wss:';
    // The current filter travels with the connection, so a reconnect resubscribes.
    u.search = withFilter(u.search, serverFilter(filter));
    return u.href;
  }

  function setConn(state, note) {
    conn.state = state;
    if (connEl.dataset.state !== state) connEl.dataset.state = state;
    const label = state === 'connected' ? 'connected' + (conn.node ? ' · ' + conn.node : '')
      : state === 'connecting' ? 'connecting…' : 'disconnected' + (note ? ' · ' + note : '');
    setText($('.conn-text', connEl), label);
  }

  function connect() {
    clearTimeout(conn.timer);
    conn.timer = 0;
    if (conn.ws) return;
    setConn('connecting');
    let ws;
    try {
      ws = new WebSocket(wsURL());
    } catch (e) {
      notice('bad WebSocket URL: ' + e.message, true);
      scheduleReconnect();
      return;
    }
    conn.ws = ws;
    ws.onopen = () => {
      if (conn.ws !== ws) return;
      conn.openedAt = conn.lastMsg = now();
      setConn('connected');
    };
    ws.onmessage = (ev) => {
      if (conn.ws !== ws) return;
      conn.lastMsg = now();
      if (typeof ev.data === 'string') onLine(ev.data);
    };
    ws.onclose = (ev) => {
      if (conn.ws !== ws) return;
      conn.ws = null;
      dropped(ev.code === 1013 ? 'too slow' : ev.code === 1001 ? 'server going away' : '');
    };
    ws.onerror = () => { /* a close event follows */ };
  }
  function dropped(why) {
    if (conn.openedAt && now() - conn.openedAt > 10000) conn.attempt = 0;   // it was a good connection
    conn.openedAt = 0;
    scheduleReconnect(why);
  }
  function scheduleReconnect(why) {
    clearTimeout(conn.timer);
    const base = Math.min(BACKOFF_MAX, BACKOFF_MIN * 2 ** conn.attempt);
    const delay = Math.min(BACKOFF_MAX, Math.max(BACKOFF_MIN, base / 2 + Math.random() * base / 2));
    conn.attempt = Math.min(conn.attempt + 1, 10);
    conn.retryAt = now() + delay;
    conn.why = why || '';
    setConn('disconnected', retryNote());
    conn.timer = setTimeout(connect, delay);
  }
  function retryNote() {
    const s = Math.max(0, Math.ceil((conn.retryAt - now()) / 1000));
    return (conn.why ? conn.why + ', ' : '') + 'retry in ' + s + ' s';
  }
  function sendSubscribe() {
    if (!conn.ws || conn.ws.readyState !== WebSocket.OPEN) return false;
    const f = serverFilter(filter);
    conn.ws.send(JSON.stringify({ op: 'subscribe', types: f.types, exchanges: f.exchanges, symbols: f.symbols }));
    return true;
  }
  // Keep-alive: ping when quiet, and give up on a connection that says nothing at all.
  function keepAlive() {
    const ws = conn.ws;
    if (conn.state === 'disconnected' && conn.timer) setConn('disconnected', retryNote());
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const quiet = now() - conn.lastMsg;
    if (quiet > DEAD_AFTER) {
      conn.ws = null;
      try { ws.close(4000, 'no data'); } catch (e) { /* ignore */ }
      dropped('no data');
    } else if (quiet > PING_EVERY && now() - (conn.pingAt || 0) > PING_EVERY) {
      conn.pingAt = now();
      try { ws.send('{"op":"ping"}'); } catch (e) { /* ignore */ }
    }
  }
  window.addEventListener('online', () => { if (!conn.ws) { conn.attempt = 0; connect(); } });

  // ------------------------------------------------------------------ dashboard (/api/status)

  const hist = { t: [], sent_rate: [], received_rate: [], p99: [], feed_p99: [], clients: [], dropped_rate: [] };
  let lastDropped = null;
  let statusOk = null;
  const g = (o, ...path) => { for (const k of path) { if (o == null || typeof o !== 'object') return undefined; o = o[k]; } return o; };
  const numOr = (v) => (isNum(v) ? v : undefined);

  async function pollStatus() {
    const ctl = typeof AbortController === 'function' ? new AbortController() : null;
    const to = ctl ? setTimeout(() => ctl.abort(), 3000) : 0;
    const t0 = now();
    try {
      // A ?token= in the page's address also opens /api/status where serve restricts it.
      const headers = params.get('token') ? { Authorization: 'Bearer ' + params.get('token') } : {};
      const r = await fetch('api/status', { cache: 'no-store', headers, signal: ctl ? ctl.signal : undefined });
      if (!r.ok) throw new Error('HTTP ' + r.status);
      const st = await r.json();
      const t1 = now();
      // Trust the server's clock only when it is close to ours: a skew of minutes means
      // a wrong clock or a rounded now_us, and local ages are the better guess then.
      if (isNum(st && st.now_us) && t1 - t0 < 2000) {
        const off = st.now_us / 1000 - (t0 + t1) / 2;
        clockOffset = Math.abs(off) <= MAX_CLOCK_SKEW ? off : 0;
      }
      statusOk = true;
      renderStatus(st && typeof st === 'object' ? st : {});
    } catch (e) {
      if (statusOk !== false) {
        const p = $('#dash-error');
        p.textContent = '/api/status unavailable: ' + (e && e.name === 'AbortError' ? 'timed out' : (e && e.message) || 'error');
        p.hidden = false;
      }
      statusOk = false;
      pushHistory({});
    } finally {
      clearTimeout(to);
      setTimeout(pollStatus, STATUS_POLL);
    }
  }

  function renderStatus(st) {
    $('#dash-error').hidden = true;
    const node = typeof st.node === 'string' ? st.node : '';
    if (node !== conn.node) { conn.node = node; if (conn.state === 'connected') setConn('connected'); }
    const str = (v) => (v == null || v === '' ? '—' : String(v));
    setText($('#dash-node'), str(st.node));
    setText($('#dash-version'), str(st.version));
    const role = $('#dash-role');
    setText(role, str(st.role));
    role.className = st.role === 'leader' ? 'good' : st.role === 'follower' ? '' : 'muted';
    setText($('#dash-mode'), str(st.mode));
    setText($('#dash-epoch'), isNum(st.epoch) ? String(st.epoch) : '—');
    setText($('#dash-leader'), str(st.leader));
    setText($('#dash-uptime'), fmtDuration(st.uptime_s));
    const ready = $('#dash-ready');
    setText(ready, st.ready === true ? 'ready' : st.ready === false ? 'not ready' : '—');
    ready.title = st.ready_reason == null ? '' : String(st.ready_reason);
    ready.className = st.ready === true ? 'good' : st.ready === false ? 'bad' : '';

    setText($('#dash-clients'), isNum(g(st, 'clients', 'current')) ? String(st.clients.current) : '—');
    setText($('#dash-clients-total'), fmtCount(g(st, 'clients', 'total')));
    setText($('#dash-clients-slow'), fmtCount(g(st, 'clients', 'slow_closed')));
    setText($('#dash-clients-rejected'), fmtCount(g(st, 'clients', 'rejected')));

    const sr = g(st, 'messages', 'sent_rate');
    setText($('#dash-sent-rate'), isNum(sr) ? fmtRate(sr) : '—');
    setText($('#dash-received'), fmtCount(g(st, 'messages', 'received')));
    setText($('#dash-received-rate'), fmtRate(g(st, 'messages', 'received_rate')));
    setText($('#dash-sent'), fmtCount(g(st, 'messages', 'sent')));
    const dropped = g(st, 'messages', 'dropped');
    const dEl = $('#dash-dropped');
    setText(dEl, fmtCount(dropped));
    dEl.className = 'num' + (dropped > 0 ? ' warn' : '');

    for (const [k, id] of [['pipeline', 'dash'], ['feed', 'dash-feed']]) {
      for (const p of ['p50', 'p90', 'p99']) setText($(`#${id}-${p}`), fmtMs(g(st, 'latency_ms', k, p)));
      setText($(`#${id}-count`), fmtCount(g(st, 'latency_ms', k, 'count')));
    }

    const kafka = g(st, 'kafka');
    const kUp = g(kafka, 'up');
    const kEl = $('#dash-kafka-up');
    setText(kEl, kUp === true ? 'up' : kUp === false ? 'down' : '—');
    kEl.className = kUp === true ? 'good' : kUp === false ? 'bad' : '';
    setText($('#dash-kafka-lag'), fmtCount(g(kafka, 'lag')));
    setText($('#dash-kafka-produced'), fmtCount(g(kafka, 'produced')));
    setText($('#dash-kafka-consumed'), fmtCount(g(kafka, 'consumed')));

    renderRows($('#dash-stages'), Array.isArray(st.stages) ? st.stages : [], 5, 'no stages reported', (s) => {
      const up = s.up === true ? ['up', 'good'] : s.up === false ? ['down', 'bad'] : ['—', 'muted'];
      return [[str(s.name)], [up[0], up[1]], [fmtRate(s.rate), 'n'], [fmtBytes(s.memory_bytes), 'n'],
        [isNum(s.metrics_age_s) ? fmtAge(s.metrics_age_s) : '—', 'n' + (s.metrics_age_s > AGE_WARN ? ' warn' : '')]];
    });
    const exs = Array.isArray(st.exchanges) ? st.exchanges : [];
    renderRows($('#dash-exchanges'), exs, 7, 'no exchange feeds (follower, or ingest idle)', (x) => {
      const c = x.connected === true ? ['connected', 'good'] : x.connected === false ? ['disconnected', 'bad'] : ['—', 'muted'];
      const age = numOr(x.last_frame_age_s);
      return [[str(x.exchange)], c, [fmtRate(x.rate), 'n'], [fmtCount(x.frames), 'n'],
        [isNum(age) ? fmtAge(age) : '—', 'n' + (age >= AGE_BAD ? ' bad' : age >= AGE_WARN ? ' warn' : '')],
        [fmtCount(x.reconnects), 'n' + (x.reconnects > 0 ? ' warn' : '')], [fmtCount(x.dropped), 'n' + (x.dropped > 0 ? ' warn' : '')]];
    });
    for (const x of exs) if (x && typeof x.exchange === 'string') noteKnown(x.exchange, null);
    if (knownDirty) scheduleFrame();

    let dropRate;
    if (isNum(dropped)) { if (lastDropped !== null && dropped >= lastDropped) dropRate = dropped - lastDropped; lastDropped = dropped; }
    pushHistory({
      sent_rate: numOr(sr), received_rate: numOr(g(st, 'messages', 'received_rate')),
      p99: numOr(g(st, 'latency_ms', 'pipeline', 'p99')), feed_p99: numOr(g(st, 'latency_ms', 'feed', 'p99')),
      clients: numOr(g(st, 'clients', 'current')), dropped_rate: dropRate,
    });
  }

  // Table rows from a list, reusing cells: spec(item) -> [[text, className], ...].
  function renderRows(table, items, ncols, emptyText, spec) {
    const body = table.tBodies[0];
    if (!items.length) {
      if (body.textContent !== emptyText) {
        const td = el('td', 'empty', emptyText);
        td.colSpan = ncols;
        const tr = el('tr');
        tr.append(td);
        body.replaceChildren(tr);
      }
      return;
    }
    while (body.rows.length > items.length || (body.rows[0] && body.rows[0].cells.length !== ncols)) body.deleteRow(-1);
    items.forEach((it, i) => {
      const row = body.rows[i] || body.insertRow();
      const cells = spec(it && typeof it === 'object' ? it : {});
      cells.forEach(([text, cls], j) => {
        const td = row.cells[j] || row.insertCell();
        setText(td, text);
        const c = cls || '';
        if (td.className !== c) td.className = c;
      });
    });
  }

  function pushHistory(sample) {
    hist.t.push(now());
    for (const k of Object.keys(hist)) if (k !== 't') hist[k].push(isNum(sample[k]) ? sample[k] : null);
    if (hist.t.length > HISTORY) for (const k of Object.keys(hist)) hist[k].shift();
    if (route === 'dashboard') drawCharts();
  }

  function drawCharts() {
    for (const fig of document.querySelectorAll('#dashboard .chart')) {
      const key = fig.dataset.metric;
      const data = hist[key] || [];
      let lastV = null;
      for (let i = data.length - 1; i >= 0; i--) if (data[i] !== null) { lastV = data[i]; break; }
      const label = lastV === null ? '—' : key === 'p99' || key === 'feed_p99' ? fmtMs(lastV) : key === 'clients' ? String(lastV) : fmtRate(lastV);
      setText($('figcaption b', fig), label);
      sparkline($('canvas', fig), data, key === 'dropped_rate' ? '#d29922' : key.includes('p99') ? '#a371f7' : '#58a6ff');
    }
  }

  function sparkline(canvas, data, color) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (!w || !h) return;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    let min = Infinity, max = -Infinity;
    for (const v of data) if (v !== null) { if (v < min) min = v; if (v > max) max = v; }
    ctx.font = '10px ' + getComputedStyle(document.body).fontFamily;
    ctx.fillStyle = '#8b949e';
    if (min === Infinity) {
      ctx.textAlign = 'center';
      ctx.fillText('no data yet', w / 2, h / 2 + 3);
      return;
    }
    min = Math.min(min, 0);                  // anchor at zero: rates and latencies are not negative
    if (max === min) max = min + 1;
    const padT = 12, padB = 2;
    const x = (i) => (HISTORY <= 1 ? w : (i + HISTORY - data.length) * (w / (HISTORY - 1)));
    const y = (v) => padT + (h - padT - padB) * (1 - (v - min) / (max - min));
    // grid line at max
    ctx.strokeStyle = 'rgba(139,148,158,.18)';
    ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(0, padT + .5); ctx.lineTo(w, padT + .5); ctx.stroke();
    ctx.textAlign = 'left';
    ctx.fillText('max ' + fmtRate(max), 2, 9);
    // area and line, with gaps where samples are missing
    const grad = ctx.createLinearGradient(0, padT, 0, h);
    grad.addColorStop(0, color + '55');
    grad.addColorStop(1, color + '05');
    let seg = [];
    const flush = () => {
      if (!seg.length) return;
      ctx.beginPath();
      seg.forEach(([px, py], j) => (j ? ctx.lineTo(px, py) : ctx.moveTo(px, py)));
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.5;
      ctx.lineJoin = 'round';
      ctx.stroke();
      ctx.lineTo(seg[seg.length - 1][0], h);
      ctx.lineTo(seg[0][0], h);
      ctx.closePath();
      ctx.fillStyle = grad;
      ctx.fill();
      seg = [];
    };
    data.forEach((v, i) => { if (v === null) flush(); else seg.push([x(i), y(v)]); });
    const lastPt = seg[seg.length - 1];
    flush();
    if (lastPt) {
      ctx.fillStyle = color;
      ctx.beginPath(); ctx.arc(lastPt[0] - 2, lastPt[1], 2.5, 0, Math.PI * 2); ctx.fill();
    }
  }
  window.addEventListener('resize', () => { if (route === 'dashboard') drawCharts(); });

  // ------------------------------------------------------------------ routing

  const ROUTES = { monitor: 'monitor', cross: 'cross-view', dashboard: 'dashboard' };
  let route = '';
  function go() {
    const r = location.hash.replace(/^#/, '');
    const next = ROUTES[r] ? r : 'monitor';
    const changed = next !== route;
    route = next;
    for (const [name, id] of Object.entries(ROUTES)) document.getElementById(id).hidden = name !== route;
    for (const a of document.querySelectorAll('.tabs a')) {
      if (a.dataset.route === route) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    if (changed) {
      window.scrollTo(0, 0);
      if (route === 'dashboard') drawCharts();
      if (route === 'cross') { crossDirty = true; scheduleFrame(); }
      if (route === 'monitor') { feedsDirty = true; rangeDirty = true; scheduleFrame(); }
    }
  }
  // Tab clicks change the hash without jumping to the element with that id.
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest('a[href^="#"]');
    if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey) return;
    ev.preventDefault();
    if (location.hash !== a.getAttribute('href')) history.pushState(null, '', a.getAttribute('href'));
    go();
  });
  window.addEventListener('hashchange', go);
  // A route in the URL at load must not scroll the page to the element with that id.
  if ('scrollRestoration' in history) history.scrollRestoration = 'manual';
  window.addEventListener('load', () => {
    if (!ROUTES[location.hash.slice(1)]) return;
    window.scrollTo(0, 0);
    setTimeout(() => { if (window.scrollY && !userScrolled) window.scrollTo(0, 0); }, 0);
  });
  let userScrolled = false;
  for (const t of ['wheel', 'touchmove', 'keydown']) window.addEventListener(t, () => { userScrolled = true; }, { once: true, passive: true });
  window.addEventListener('popstate', go);
  $('details.events').addEventListener('toggle', () => { if (eventsOpen()) renderEvents(); });

  // ------------------------------------------------------------------ clocks

  function everySecond() {
    rollRates();
    renderRates();
    flushStale();
    const t = serverNowMs();
    for (const s of streams.values()) renderAge(s, t);
    tickFeedAges();
    keepAlive();
    if (sort.key && sort.key !== 'exchange' && sort.key !== 'symbol') orderDirty = true;
    if (orderDirty || crossDirty) scheduleFrame();
  }

  // ------------------------------------------------------------------ start

  syncFormFromFilter();
  go();
  renderKnown();
  connect();
  pollStatus();
  setInterval(everySecond, 1000);
})();
