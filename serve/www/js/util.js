// DOM helpers, the page's URL parameters, and the one animation-frame scheduler every view
// renders from.

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => root.querySelectorAll(sel);
export const now = () => Date.now();
export const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
// DOM writes only when something changed: unchanged text costs no style or layout work.
export function setText(node, text) { if (node && node.textContent !== text) node.textContent = text; }
export function setClass(node, cls) { if (node && node.className !== cls) node.className = cls; }

export const params = new URLSearchParams(location.search);
// A ?token= in the page's address also opens the admin endpoints where serve restricts them.
export function authHeaders() {
  const t = params.get('token');
  return t ? { Authorization: 'Bearer ' + t } : {};
}
// A whole number from the URL within [min, max], else the default.
export function intParam(name, def, min, max) {
  const v = Number(params.get(name));
  return params.has(name) && Number.isInteger(v) && v >= min && v <= max ? v : def;
}

// localStorage that never throws (private windows, storage full, disabled cookies).
export const storage = {
  get(key, def) {
    try { const v = localStorage.getItem(key); return v == null ? def : JSON.parse(v); } catch (e) { return def; }
  },
  set(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* not kept: fine */ }
  },
};

// ---- rendering: every DOM update happens in one animation frame callback, from the views
// that registered. A view's function returns how many milliseconds until it wants to render
// again (it is throttled and has something waiting), or 0 when it has nothing to do. The
// next frame is then asked for by a timer at that time, never by a frame every 16 ms: a
// busy page renders a few times a second, an idle page not at all.
const renderers = [];
let queued = false, timer = 0, timerAt = 0;
export function onFrame(fn) { renderers.push(fn); }
export function schedule() {
  if (queued) return;
  queued = true;
  requestAnimationFrame(frame);
}
function later(ms) {
  const at = now() + ms;
  if (timer && timerAt <= at) return;
  clearTimeout(timer);
  timerAt = at;
  timer = setTimeout(() => { timer = 0; schedule(); }, ms);
}
function frame() {
  queued = false;
  const t = now();
  let wait = Infinity;
  for (const fn of renderers) {
    try {
      const w = fn(t);
      if (w > 0 && w < wait) wait = w;
    } catch (e) {
      // One broken view must not stop the others; the console keeps the trace.
      console.error(e);
    }
  }
  if (wait !== Infinity) later(wait);
}

// The current route (view), set by main.js.
export const route = { name: '' };
