// The node dashboard, from /api/status: role, mode, clients, message rates, latency, Kafka,
// the stages, and a row per venue (exchange id: spot and derivatives venues alike) with its
// feed, its markets, the messages of each type the page receives from it and its latest
// status line; two minutes of history. The same answer seeds the
// feed chips and the server's clock, so it is polled once a second on every view. A
// standalone node's Kafka and elect read "not configured", not "down".
import { $, el, isNum, now, setText, setClass, authHeaders, route } from './util.js';
import * as fmt from './format.js';
import { noteApiFeeds, setStatusClock, feeds, feedState, rate, markets, serverNow } from './store.js';
import { area } from './chart.js';

const HISTORY = 120;
const AGE_WARN = 5, AGE_BAD = 30;
const hist = { t: [], sent_rate: [], received_rate: [], p99: [], feed_p99: [], clients: [], dropped_rate: [] };
let lastDropped = null, ok = null, timer = 0;
export const status = { node: '', last: null };
const listeners = [];
export function onStatus(fn) { listeners.push(fn); }

const g = (o, ...path) => { for (const k of path) { if (o == null || typeof o !== 'object') return undefined; o = o[k]; } return o; };
const numOr = (v) => (isNum(v) ? v : undefined);
const str = (v) => (v == null || v === '' ? '—' : String(v));

export async function poll() {
  clearTimeout(timer);
  const ctl = new AbortController();
  const to = setTimeout(() => ctl.abort(), 3000);
  const t0 = now();
  try {
    const r = await fetch('api/status', { cache: 'no-store', headers: authHeaders(), signal: ctl.signal });
    if (!r.ok) throw new Error('HTTP ' + r.status + (r.status === 403 ? ' (restricted: open the page with ?token= of an admin token)' : ''));
    const st = await r.json();
    const t1 = now();
    // A round trip of seconds says little about the clock: keep the last estimate then.
    if (isNum(st && st.now_us) && t1 - t0 < 2000) setStatusClock(st.now_us / 1000 - (t0 + t1) / 2);
    ok = true;
    render(st && typeof st === 'object' ? st : {});
  } catch (e) {
    if (ok !== false) {
      const p = $('#dash-error');
      p.textContent = '/api/status unavailable: ' + (e && e.name === 'AbortError' ? 'timed out' : (e && e.message) || 'error');
      p.hidden = false;
    }
    ok = false;
    push({});
  } finally {
    clearTimeout(to);
    timer = setTimeout(poll, 1000);
    if (route.name === 'dashboard') renderVenues();
  }
}

function setState(node, text, cls) {
  setText(node, text);
  setClass(node, cls);
}

function render(st) {
  $('#dash-error').hidden = true;
  status.node = typeof st.node === 'string' ? st.node : '';
  status.last = st;
  setText($('#dash-node'), str(st.node));
  setText($('#dash-version'), str(st.version));
  setState($('#dash-role'), str(st.role), st.role === 'leader' ? 'good' : st.role === 'follower' ? '' : 'muted');
  setText($('#dash-mode'), str(st.mode));
  setText($('#dash-epoch'), isNum(st.epoch) ? String(st.epoch) : '—');
  setText($('#dash-leader'), str(st.leader));
  setText($('#dash-uptime'), fmt.duration(st.uptime_s));
  const ready = $('#dash-ready');
  setState(ready, st.ready === true ? 'ready' : st.ready === false ? 'not ready' : '—', st.ready === true ? 'good' : st.ready === false ? 'bad' : '');
  ready.title = st.ready_reason == null ? '' : String(st.ready_reason);

  setText($('#dash-clients'), isNum(g(st, 'clients', 'current')) ? String(st.clients.current) : '—');
  setText($('#dash-clients-total'), fmt.count(g(st, 'clients', 'total')));
  setText($('#dash-clients-slow'), fmt.count(g(st, 'clients', 'slow_closed')));
  setText($('#dash-clients-rejected'), fmt.count(g(st, 'clients', 'rejected')));

  const sr = g(st, 'messages', 'sent_rate');
  setText($('#dash-sent-rate'), isNum(sr) ? fmt.rate(sr) : '—');
  setText($('#dash-received'), fmt.count(g(st, 'messages', 'received')));
  setText($('#dash-received-rate'), fmt.rate(g(st, 'messages', 'received_rate')));
  setText($('#dash-sent'), fmt.count(g(st, 'messages', 'sent')));
  const dropped = g(st, 'messages', 'dropped');
  setText($('#dash-dropped'), fmt.count(dropped));
  setClass($('#dash-dropped'), 'num' + (dropped > 0 ? ' warn' : ''));

  for (const [k, id] of [['pipeline', 'dash'], ['feed', 'dash-feed']]) {
    for (const p of ['p50', 'p90', 'p99']) setText($(`#${id}-${p}`), fmt.ms(g(st, 'latency_ms', k, p)));
    setText($(`#${id}-count`), fmt.count(g(st, 'latency_ms', k, 'count')));
  }

  // Kafka: null when distribute reports nothing (not running), {configured:false} when it
  // runs without Kafka.
  const kafka = g(st, 'kafka');
  const kEl = $('#dash-kafka-up');
  const noKafka = kafka && kafka.configured === false;
  if (noKafka) setState(kEl, 'not configured', 'muted');
  else setState(kEl, kafka && kafka.up === true ? 'up' : kafka && kafka.up === false ? 'down' : '—', kafka && kafka.up === true ? 'good' : kafka && kafka.up === false ? 'bad' : '');
  kEl.title = noKafka ? 'direct mode only: distribute runs without --kafka (KAFKA_BOOTSTRAP_SERVERS unset)' : '';
  for (const k of ['lag', 'produced', 'consumed']) setText($('#dash-kafka-' + k), noKafka ? '—' : fmt.count(g(kafka, k)));

  rows($('#dash-stages'), Array.isArray(st.stages) ? st.stages : [], 5, 'no stages reported', (s) => {
    const up = s.configured === false ? ['not configured', 'muted'] : s.up === true ? ['up', 'good'] : s.up === false ? ['down', 'bad'] : ['—', 'muted'];
    return [[str(s.name)], up, [fmt.rate(s.rate), 'n'], [fmt.bytes(s.memory_bytes), 'n'],
      [isNum(s.metrics_age_s) ? fmt.age(s.metrics_age_s) : '—', 'n' + (s.metrics_age_s > AGE_WARN ? ' warn' : '')]];
  }, (s) => (s.configured === false && s.name === 'elect' ? 'standalone node: no ZooKeeper (ZOOKEEPER_CONNECT unset), this node leads for good' : ''));
  const exs = Array.isArray(st.exchanges) ? st.exchanges : [];
  apiFeeds = new Map(exs.filter((x) => x && typeof x.exchange === 'string').map((x) => [x.exchange, x]));
  noteApiFeeds(exs);
  for (const fn of listeners) fn(st);

  let dropRate;
  if (isNum(dropped)) { if (lastDropped !== null && dropped >= lastDropped) dropRate = dropped - lastDropped; lastDropped = dropped; }
  push({
    sent_rate: numOr(sr), received_rate: numOr(g(st, 'messages', 'received_rate')),
    p99: numOr(g(st, 'latency_ms', 'pipeline', 'p99')), feed_p99: numOr(g(st, 'latency_ms', 'feed', 'p99')),
    clients: numOr(g(st, 'clients', 'current')), dropped_rate: dropRate,
  });
}

// ---- venues: one row per exchange id, from /api/status (ingest's view of the feed) and the
// page's own (its markets, the lines it receives per type, the latest status line).
let apiFeeds = new Map();
const TYPES = ['trade', 'ticker', 'book', 'derivative', 'liquidation'];
const FEED_CLASS = { live: 'good', stale: 'warn', down: 'bad', offline: 'bad', waiting: 'muted' };
function renderVenues() {
  const kinds = new Map();
  for (const mk of markets.values()) {
    let k = kinds.get(mk.exchange);
    if (!k) kinds.set(mk.exchange, (k = { spot: 0, perp: 0, future: 0, other: 0 }));
    k[mk.kind]++;
  }
  const t = serverNow();
  const list = [...feeds.values()].filter((f) => f.exchange !== 'relay').sort((a, b) => a.exchange.localeCompare(b.exchange));
  rows($('#dash-exchanges'), list, 13, 'no venue yet (a follower, or ingest idle, and no data on this page)', (f) => {
    const x = apiFeeds.get(f.exchange) || {};
    const s = feedState(f, t);
    const k = kinds.get(f.exchange);
    const mkts = k ? ['spot', 'perp', 'future', 'other'].filter((n) => k[n]).map((n) => `${k[n]} ${n}`).join(' · ') : '';
    const per = rate.perExType.get(f.exchange) || {};
    const a = numOr(x.last_frame_age_s);
    const st = f.status;
    const bad = st && (st.event === 'disconnected' || st.event === 'error');
    return [
      [f.exchange, 'venue'],
      [s.text, 'feed ' + FEED_CLASS[s.state], `${s.state}${s.since ? ' for ' + fmt.age((t - s.since) / 1000) : ''}`
        + (x.connected === true ? ' · ingest connected' : x.connected === false ? ' · ingest disconnected' : ' · not in /api/status')],
      [mkts || '—', 'markets'],
      [isNum(x.rate) ? fmt.rate(x.rate) : '—', 'n', isNum(x.frames) ? fmt.count(x.frames) + ' frames since ingest started' : ''],
      ...TYPES.map((ty) => [per[ty] > 0 ? fmt.rate(per[ty]) : '—', 'n t-' + ty + (per[ty] > 0 ? '' : ' muted')]),
      [isNum(a) ? fmt.age(a) : '—', 'n' + (a >= AGE_BAD ? ' bad' : a >= AGE_WARN ? ' warn' : '')],
      [fmt.count(x.reconnects), 'n' + (x.reconnects > 0 ? ' warn' : '')], [fmt.count(x.dropped), 'n' + (x.dropped > 0 ? ' warn' : '')],
      [st ? `${st.event}${st.symbol ? ' ' + st.symbol : ''}${st.detail ? ': ' + st.detail : ''} · ${fmt.age((t - st.t) / 1000)} ago` : '—',
        'status' + (bad ? ' bad' : st && st.event === 'resync' ? ' warn' : ''), st ? `${st.event} ${st.symbol || ''} ${st.detail || ''}`.trim() : ''],
    ];
  });
  const body = $('#dash-exchanges').tBodies[0];
  list.forEach((f, i) => { const tr = body.rows[i]; if (tr && tr.dataset.exchange !== f.exchange) tr.dataset.exchange = f.exchange; });
}

// Table rows from a list, reusing cells: spec(item) -> [[text, className, title], ...].
function rows(table, items, ncols, emptyText, spec, titleOf) {
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
    const o = it && typeof it === 'object' ? it : {};
    spec(o).forEach(([text, cls, title], j) => {
      const td = row.cells[j] || row.insertCell();
      setText(td, text);
      setClass(td, cls || '');
      if (title !== undefined && td.title !== title) td.title = title;
    });
    if (titleOf) row.title = titleOf(o);
  });
}

// Samples are taken once a second whatever the view; charts are drawn on the dashboard.
let lastPush = 0;
function push(sample) {
  const t = now();
  if (t - lastPush < 900) return;
  lastPush = t;
  hist.t.push(t);
  for (const k of Object.keys(hist)) if (k !== 't') hist[k].push(isNum(sample[k]) ? sample[k] : null);
  if (hist.t.length > HISTORY) for (const k of Object.keys(hist)) hist[k].shift();
  if (route.name === 'dashboard') draw();
}
function draw() {
  for (const fig of document.querySelectorAll('#dashboard .chart')) {
    const key = fig.dataset.metric;
    const data = hist[key] || [];
    let lastV = null;
    for (let i = data.length - 1; i >= 0; i--) if (data[i] !== null) { lastV = data[i]; break; }
    const label = (v) => (key === 'p99' || key === 'feed_p99' ? fmt.ms(v) : key === 'clients' ? String(v) : fmt.rate(v));
    setText($('figcaption b', fig), lastV === null ? '—' : label(lastV));
    area($('canvas', fig), data, HISTORY, key === 'dropped_rate' ? '#d29922' : key.includes('p99') ? '#a371f7' : '#58a6ff', label);
  }
}
export function shown() { draw(); renderVenues(); }
window.addEventListener('resize', () => { if (route.name === 'dashboard') draw(); });
