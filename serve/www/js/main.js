// exchange relay web UI: wires the views together — routing, the filter form, the clocks.
// Data: normalized JSON lines over WebSocket (connection.js), /api/status (dashboard.js)
// and /api/events (events.js); one store (store.js); one formatter (format.js).
import { $, $$, onFrame, schedule, route } from './util.js';
import * as store from './store.js';
import { filter, setFilter, DATA_TYPES } from './filter.js';
import * as connection from './connection.js';
import * as markets from './markets.js';
import * as book from './book.js';
import './tape.js';
import * as cross from './cross.js';
import * as dashboard from './dashboard.js';
import * as events from './events.js';
import * as status from './status.js';
import * as fmt from './format.js';

// ---- routing

const ROUTES = { monitor: 'monitor', cross: 'cross-view', dashboard: 'dashboard', events: 'events-view' };
function go() {
  const r = location.hash.replace(/^#/, '');
  const next = ROUTES[r] ? r : 'monitor';
  const changed = next !== route.name;
  const prev = route.name;
  route.name = next;
  for (const [name, id] of Object.entries(ROUTES)) document.getElementById(id).hidden = name !== next;
  for (const a of $$('.tabs a')) {
    if (a.dataset.route === next) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!changed) return;
  window.scrollTo(0, 0);
  if (prev === 'events') events.hidden();
  if (next === 'dashboard') dashboard.shown();
  if (next === 'cross') cross.shown();
  if (next === 'events') events.shown();
  if (next === 'monitor') markets.shown();
  schedule();
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
window.addEventListener('popstate', go);
// A route in the URL at load must not scroll the page to the element with that id.
if ('scrollRestoration' in history) history.scrollRestoration = 'manual';

// ---- the book panel follows clicks in the table

markets.onOpenBook((mk) => book.open(mk));
book.onChange((key) => markets.select(key));

// ---- the filter form (what serve sends)

const form = $('#filters');
const knownEx = new Set(), knownSym = new Set();
let knownDirty = true, knownAt = 0;
store.on('added', (mk) => {
  if (knownEx.size < 100 && !knownEx.has(mk.exchange)) { knownEx.add(mk.exchange); knownDirty = true; }
  if (knownSym.size < 2000 && !knownSym.has(mk.symbol)) { knownSym.add(mk.symbol); knownDirty = true; }
});
function renderKnown() {
  knownDirty = false;
  const sel = $('#f-exchange');
  const want = [...new Set([...knownEx, ...filter.exchanges])].sort();
  const multi = filter.exchanges.length > 1 ? filter.exchanges.join(',') : null;
  const values = multi ? [multi, ...want] : want;
  const have = [...sel.options].slice(1).map((o) => o.value);
  if (have.join('\n') !== values.join('\n')) sel.replaceChildren(new Option('all exchanges', ''), ...values.map((v) => new Option(v, v)));
  sel.value = filter.exchanges.join(',');
  const dl = $('#symbol-list');
  const bases = new Set();
  for (const s of knownSym) { const i = s.indexOf('-'); if (i > 0) bases.add(s.slice(0, i)); }
  const opts = [...bases].sort().concat([...knownSym].sort()).slice(0, 600);
  if (dl.childElementCount !== opts.length || (dl.lastElementChild && dl.lastElementChild.value !== opts[opts.length - 1])) {
    dl.replaceChildren(...opts.map((v) => new Option(v)));
  }
}
onFrame((t) => {
  if (!knownDirty) return 0;
  if (t - knownAt < 2000) return 2000 - (t - knownAt);
  knownAt = t;
  renderKnown();
  return 0;
});
function syncForm() {
  $('#f-symbol').value = filter.symbols.join(',');
  const types = filter.types.length ? filter.types : DATA_TYPES;
  for (const cb of form.querySelectorAll('input[name="type"]')) cb.checked = types.includes(cb.value);
  knownDirty = true;
}
function readForm() {
  const exv = $('#f-exchange').value;
  const syms = $('#f-symbol').value.split(/[\s,]+/).map((s) => s.trim().toUpperCase().replace('/', '-')).filter(Boolean);
  const checked = [...form.querySelectorAll('input[name="type"]:checked')].map((cb) => cb.value);
  // All data types checked = everything. Otherwise keep status lines for the feed chips.
  const types = checked.length === DATA_TYPES.length ? [] : [...checked, 'status'];
  return { types, exchanges: exv ? exv.split(',') : [], symbols: [...new Set(syms)] };
}
function apply(f) {
  if (!setFilter(f)) return;
  // Clear now, before the server's snapshot for the new filter can arrive.
  store.clearMarkets();
  schedule();
  if (!connection.sendSubscribe()) notice('filter will apply on reconnect');
}
form.addEventListener('submit', (ev) => { ev.preventDefault(); apply(readForm()); });
$('#f-exchange').addEventListener('change', () => apply(readForm()));
for (const cb of form.querySelectorAll('input[name="type"]')) cb.addEventListener('change', () => apply(readForm()));
$('#f-symbol').addEventListener('change', () => apply(readForm()));
$('#f-reset').addEventListener('click', () => {
  $('#f-exchange').value = '';
  apply({ types: [], exchanges: [], symbols: [] });
  syncForm();
});

let noticeTimer = 0;
function notice(text, bad) {
  const out = $('#notice');
  out.textContent = text;
  out.classList.toggle('bad', !!bad);
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { out.textContent = ''; }, bad ? 8000 : 2500);
}
connection.onReply((m) => {
  if (m.type === 'subscribed') notice('filter applied');
  else notice('server: ' + String(m.error || 'error'), true);
});

// ---- the connection's state, and resumes that came too late

connection.onState((link) => {
  if (link.state === 'connected') link.everConnected = true;
  status.renderConn(dashboard.status.node);
  // A dropped link dims every row at once, not a second later.
  status.tick(markets.tick());
});
dashboard.onStatus(() => status.renderConn(dashboard.status.node));
store.on('gap', (g) => {
  const n = typeof g.to === 'number' && typeof g.from === 'number' ? g.to - g.from : '?';
  store.link.gapNote = `Resumed at ${fmt.clockShort(Date.now())}: the server no longer held ${n} lines (${g.from}–${g.to - 1}); trades in that range are missing from the tape.`;
});

// ---- clocks

function everySecond() {
  store.tick();
  const dimmed = markets.tick();
  status.tick(dimmed);
  book.ageTick();
  cross.tick();
  connection.keepAlive();
}

// ---- start

syncForm();
go();
renderKnown();
connection.connect();
dashboard.poll();
setInterval(everySecond, 1000);
