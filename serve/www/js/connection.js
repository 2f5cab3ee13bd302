// The WebSocket to serve: connect, keep alive, reconnect with back-off and jitter, and resume.
// Lines that carry a stream position ("seq":N, their last key) are remembered, and a
// reconnect asks for what came after the last one (?since=N), so nothing shown goes blank
// and nothing is missed; until lines carry positions, a reconnect is a plain one and the
// page keeps what it shows while serve's cache refills it.
import { now, params, isNum } from './util.js';
import { ingest, link } from './store.js';
import { filter, serverFilter, withFilter } from './filter.js';

const BACKOFF_MIN = 500, BACKOFF_MAX = 10000;
const PING_EVERY = 15000, DEAD_AFTER = 45000;

const conn = { ws: null, attempt: 0, timer: 0, openedAt: 0, lastMsg: 0, retryAt: 0, why: '', pingAt: 0 };
const listeners = { state: [], reply: [] };
export function onState(fn) { listeners.state.push(fn); }
export function onReply(fn) { listeners.reply.push(fn); }

function setState(state, note) {
  if (link.state !== state) link.since = now();
  link.state = state;
  link.note = note || '';
  for (const fn of listeners.state) fn(link);
}

function wsURL() {
  let u = null;
  const full = params.get('url');
  if (full) {
    try { u = new URL(full, location.href); } catch (e) { u = null; }
  }
  if (!u) {
    u = new URL(params.get('ws') || '/ws/exchange', location.href);
    u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  }
  if (u.protocol === 'http:') u.protocol = 'ws:';
  if (u.protocol === 'https:') u.protocol = 'wss:';
  // The current filter travels with the connection, so a reconnect resubscribes; and the
  // last position seen, so it resumes.
  let qs = withFilter(u.search, serverFilter(filter));
  qs = qs.replace(/(^\?|&)since=[^&]*/g, '');
  if (isNum(link.lastSeq)) qs += (qs ? '&' : '?') + 'since=' + link.lastSeq;
  u.search = qs;
  return u.href;
}

export function connect() {
  clearTimeout(conn.timer);
  conn.timer = 0;
  if (conn.ws) return;
  setState('connecting');
  let ws;
  try {
    ws = new WebSocket(wsURL());
  } catch (e) {
    for (const fn of listeners.reply) fn({ type: 'error', error: 'bad WebSocket URL: ' + e.message });
    scheduleReconnect('bad URL');
    return;
  }
  conn.ws = ws;
  ws.onopen = () => {
    if (conn.ws !== ws) return;
    conn.openedAt = conn.lastMsg = now();
    setState('connected');
  };
  ws.onmessage = (ev) => {
    if (conn.ws !== ws) return;
    conn.lastMsg = now();
    if (typeof ev.data === 'string') onText(ev.data);
  };
  ws.onclose = (ev) => {
    if (conn.ws !== ws) return;
    conn.ws = null;
    dropped(ev.code === 1013 ? 'too slow' : ev.code === 1001 ? 'server going away' : ev.code === 1009 ? 'message too big' : '');
  };
  ws.onerror = () => { /* a close event follows */ };
}

function onText(text) {
  let m;
  try { m = JSON.parse(text); } catch (e) { return; }
  if (!m || typeof m !== 'object') return;
  if (isNum(m.seq) && (!isNum(link.lastSeq) || m.seq > link.lastSeq)) link.lastSeq = m.seq;
  if (m.type === 'pong') return;
  if (m.type === 'subscribed' || m.type === 'error') {
    for (const fn of listeners.reply) fn(m);
    return;
  }
  if (!filter.test(m)) return;
  ingest(m);
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
  setState('disconnected', retryNote());
  conn.timer = setTimeout(connect, delay);
}
export function retryNote() {
  const s = Math.max(0, Math.ceil((conn.retryAt - now()) / 1000));
  return (conn.why ? conn.why + ', ' : '') + 'retry in ' + s + ' s';
}

// A new filter: the server replaces the client's filter and sends the cache for it.
export function sendSubscribe() {
  if (!conn.ws || conn.ws.readyState !== WebSocket.OPEN) return false;
  const f = serverFilter(filter);
  conn.ws.send(JSON.stringify({ op: 'subscribe', types: f.types, exchanges: f.exchanges, symbols: f.symbols }));
  return true;
}

// Once a second: ping when quiet, give up on a connection that says nothing at all, and
// keep the retry countdown current.
export function keepAlive() {
  const ws = conn.ws;
  if (link.state === 'disconnected' && conn.timer) setState('disconnected', retryNote());
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  const quiet = now() - conn.lastMsg;
  if (quiet > DEAD_AFTER) {
    conn.ws = null;
    try { ws.close(4000, 'no data'); } catch (e) { /* already closing */ }
    dropped('no data');
  } else if (quiet > PING_EVERY && now() - conn.pingAt > PING_EVERY) {
    conn.pingAt = now();
    try { ws.send('{"op":"ping"}'); } catch (e) { /* the close event will tell */ }
  }
}
window.addEventListener('online', () => { if (!conn.ws) { conn.attempt = 0; connect(); } });
