// The Events page: the node's recent incidents from /api/events — feed connects and
// disconnects with their cause, book resyncs, gaps, role changes, Kafka/direct switches,
// slow clients cut — newest first, filtered by exchange and kind, with counts per hour.
// Where serve restricts /api/events, the page shows the status lines it saw itself.
import { $, el, isNum, setText, setClass, authHeaders, route } from './util.js';
import * as fmt from './format.js';
import { seen, feeds, on } from './store.js';

const LIMIT = 500;
const POLL = 5000;
const HOURS = 24;
const BAD = new Set(['disconnected', 'error', 'slow_client', 'gap']);
const WARN = new Set(['resync', 'mode', 'role', 'start']);

const exSel = $('#ev-exchange'), kindSel = $('#ev-kind');
const names = { ex: new Set(), kind: new Set() };
let timer = 0, busy = false, again = false, source = 'server', local = false;

on('status', (st) => { if (st && route.name === 'events' && local) render(localAnswer()); });

function query() {
  const q = new URLSearchParams();
  q.set('limit', String(LIMIT));
  if (exSel.value) q.set('exchange', exSel.value);
  if (kindSel.value) q.set('kind', kindSel.value);
  return q.toString();
}

async function refresh() {
  clearTimeout(timer);
  if (busy) { again = true; return; }   // a filter changed during a request: ask again after it
  busy = true;
  try {
    const r = await fetch('api/events?' + query(), { cache: 'no-store', headers: authHeaders() });
    if (!r.ok) throw new Error(r.status === 403 ? 'restricted by serve (--admin-allow): open the page with ?token= of an admin token'
      : r.status === 404 ? 'this serve has no /api/events' : 'HTTP ' + r.status);
    const a = await r.json();
    local = false;
    source = `node ${a.node || '?'}: ${fmt.count(a.held)} of the last ${fmt.count(a.capacity)} incidents held` +
      (a.dropped_total ? `, ${fmt.count(a.dropped_total)} not recorded (too many at once)` : '');
    render(a);
  } catch (e) {
    local = true;
    source = `/api/events unavailable (${(e && e.message) || 'error'}); showing the status lines this page has seen`;
    render(localAnswer());
  } finally {
    busy = false;
    if (again) { again = false; refresh(); } else if (route.name === 'events') timer = setTimeout(refresh, POLL);
  }
}

// The same answer shape, from the status lines this page saw.
function localAnswer() {
  const ex = exSel.value, kind = kindSel.value;
  const list = [];
  for (let i = seen.length - 1; i >= 0; i--) {
    const s = seen[i];
    if ((ex && s.exchange !== ex) || (kind && s.event !== kind)) continue;
    list.push({ exchange: s.exchange, symbol: s.symbol, event: s.event, detail: s.detail, local_ts: s.t * 1000 });
  }
  const hours = new Map();
  for (const e of list) {
    const h = e.local_ts - (e.local_ts % 3.6e9);
    const o = hours.get(h) || { hour_us: h, total: 0, kinds: {} };
    o.total++;
    o.kinds[e.event] = (o.kinds[e.event] || 0) + 1;
    hours.set(h, o);
  }
  return { events: list.slice(0, LIMIT), matched: list.length, per_hour: [...hours.values()].sort((a, b) => b.hour_us - a.hour_us) };
}

function options(sel, set, label) {
  const have = [...sel.options].slice(1).map((o) => o.value);
  const want = [...set].sort();
  if (have.join('\n') === want.join('\n')) return;
  const v = sel.value;
  sel.replaceChildren(new Option(label, ''), ...want.map((x) => new Option(x, x)));
  sel.value = v;
}

function render(a) {
  const events = Array.isArray(a.events) ? a.events.filter((e) => e && typeof e === 'object') : [];
  for (const e of events) {
    if (typeof e.exchange === 'string' && names.ex.size < 100) names.ex.add(e.exchange);
    if (typeof e.event === 'string' && names.kind.size < 50) names.kind.add(e.event);
  }
  for (const f of feeds.keys()) if (names.ex.size < 100) names.ex.add(f);
  options(exSel, names.ex, 'all exchanges');
  options(kindSel, names.kind, 'all kinds');
  setText($('#ev-source'), source);
  setText($('#ev-count'), isNum(a.matched) ? `${fmt.count(a.matched)} incident${a.matched === 1 ? '' : 's'}` + (a.matched > events.length ? `, newest ${events.length} listed` : '') : '');
  renderHours(Array.isArray(a.per_hour) ? a.per_hour : []);
  const body = $('#ev-table').tBodies[0];
  $('#ev-empty').hidden = events.length > 0;
  body.replaceChildren(...events.map((e) => {
    const tr = el('tr');
    const kind = String(e.event || '');
    tr.dataset.exchange = String(e.exchange || '');
    tr.dataset.kind = kind;
    const time = el('td', 'num when', fmt.stamp(e.local_ts));
    const k = el('td', 'kind', kind);
    setClass(k, 'kind' + (BAD.has(kind) ? ' bad' : WARN.has(kind) ? ' warn' : kind === 'connected' || kind === 'subscribed' ? ' good' : ''));
    const detail = el('td', 'detail', e.detail == null ? '' : String(e.detail));
    detail.title = detail.textContent;
    tr.append(time, el('td', 'ex', String(e.exchange || '')), el('td', 'sym', String(e.symbol || '')), k, detail);
    return tr;
  }));
}

// One bar per hour for the last HOURS hours, stacked by kind: bad, warning, the rest.
function renderHours(perHour) {
  const box = $('#ev-hours');
  const nowH = Date.now() * 1000 - ((Date.now() * 1000) % 3.6e9);
  const byHour = new Map(perHour.map((h) => [h.hour_us, h]));
  let max = 1;
  for (const h of perHour) if (h.total > max) max = h.total;
  const bars = [];
  for (let i = HOURS - 1; i >= 0; i--) {
    const start = nowH - i * 3.6e9;
    const h = byHour.get(start);
    const li = el('li');
    let bad = 0, warn = 0, rest = 0;
    const parts = [];
    if (h) {
      for (const [k, n] of Object.entries(h.kinds || {})) {
        if (BAD.has(k)) bad += n; else if (WARN.has(k)) warn += n; else rest += n;
        parts.push(`${k} ${n}`);
      }
    }
    const total = h ? h.total : 0;
    for (const [cls, n] of [['rest', rest], ['warn', warn], ['bad', bad]]) {
      if (!n) continue;
      const seg = el('span', cls);
      seg.style.height = ((n / max) * 100).toFixed(1) + '%';
      li.append(seg);
    }
    const d = new Date(start / 1000);
    li.title = `${String(d.getHours()).padStart(2, '0')}:00 — ${total} incident${total === 1 ? '' : 's'}` + (parts.length ? ': ' + parts.join(', ') : '');
    li.dataset.hour = String(d.getHours());
    li.dataset.total = String(total);
    bars.push(li);
  }
  box.replaceChildren(...bars);
  setText($('#ev-hours-max'), `max ${max}/h`);
}

exSel.addEventListener('change', refresh);
kindSel.addEventListener('change', refresh);
export function shown() { refresh(); }
export function hidden() { clearTimeout(timer); }
