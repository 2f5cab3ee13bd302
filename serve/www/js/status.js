// Status you can trust: a chip per feed saying what its data says (live, no data for N s,
// disconnected with the cause), seeded on load from serve's cache and /api/status and
// cleared as soon as data flows again; the message rates; and a banner when the
// connection is down or feeds are stale (their rows are dimmed meanwhile).
import { $, el, setText, setClass, onFrame, schedule } from './util.js';
import * as fmt from './format.js';
import { feeds, feedState, on, rate, link, markets, serverNow, STALE_MS } from './store.js';
import { retryNote } from './connection.js';

let dirty = true;
on('status', () => { dirty = true; schedule(); });

function renderFeeds() {
  dirty = false;
  const ul = $('#feeds');
  const t = serverNow();
  const list = [...feeds.values()].sort((a, b) => (a.exchange === 'relay') - (b.exchange === 'relay') || a.exchange.localeCompare(b.exchange));
  if (!list.length) {
    if (ul.textContent !== 'no status yet') ul.replaceChildren(el('li', 'muted', 'no status yet'));
    return;
  }
  // One chip per feed, reused: only text and class change from second to second.
  const have = new Map([...ul.children].map((li) => [li.dataset.exchange, li]));
  const items = list.map((f) => {
    let li = have.get(f.exchange);
    if (!li) {
      li = el('li');
      li.dataset.exchange = f.exchange;
      li.append(el('b', null, f.exchange), el('span', 'event'), el('span', 'detail'), el('span', 'age'));
    }
    const s = f.exchange === 'relay' && f.status ? { state: 'info', text: f.status.event, since: f.status.t } : feedState(f, t);
    const st = f.status;
    setClass(li, 'feed st-' + s.state);
    li.dataset.state = s.state;
    const [, ev, detail, age] = li.children;
    const rateNow = f.rate;
    setText(ev, s.state === 'live' ? (rateNow >= 0.05 ? fmt.rate(rateNow) + '/s' : 'live') : s.text);
    // The cause of a disconnection or error, and what the last status line said.
    const d = (s.state === 'down' || s.state === 'waiting' || s.state === 'info') && st ? st.detail : '';
    setText(detail, d);
    setText(age, s.since ? fmt.age((t - s.since) / 1000) : '');
    li.title = `${f.exchange}: ${s.state}` + (s.since ? ` for ${fmt.age((t - s.since) / 1000)}` : '')
      + (st ? ` — last status: ${st.event}${st.symbol ? ' ' + st.symbol : ''}${st.detail ? ' (' + st.detail + ')' : ''} ${fmt.age((t - st.t) / 1000)} ago` : '')
      + (f.api && f.api.reconnects ? ` — ${f.api.reconnects} reconnects` : '');
    return li;
  });
  if (items.length !== ul.children.length || items.some((li, i) => ul.children[i] !== li)) ul.replaceChildren(...items);
}

function renderRates() {
  setText($('#rate-total'), fmt.rate(rate.overall || 0));
  const ul = $('#rates');
  const list = [...rate.perEx].filter(([, r]) => r > 0).sort((a, b) => b[1] - a[1]);
  if (!list.length) {
    const msg = markets.size ? 'no messages in the last 5 s' : 'waiting for data…';
    if (ul.childElementCount !== 1 || ul.textContent !== msg) ul.replaceChildren(el('li', 'muted', msg));
    return;
  }
  ul.replaceChildren(...list.slice(0, 20).map(([ex, r]) => {
    const li = el('li');
    li.dataset.exchange = ex;
    li.append(el('b', null, ex), el('span', 'num', fmt.rate(r)), el('span', 'muted', '/s'));
    return li;
  }));
}

// The banner: what is wrong with what the page shows, in one line.
function renderBanner(dimmed) {
  const b = $('#banner');
  let text = '', cls = 'banner';
  if (link.state !== 'connected' && link.everConnected) {
    text = `Connection to the server lost (${retryNote()}). Prices shown are as of ${fmt.clockShort(link.since)} and dimmed until it is back.`;
    cls += ' bad';
  } else if (dimmed.size) {
    const t = serverNow();
    const parts = [...dimmed].sort().map((ex) => {
      const f = feeds.get(ex);
      const s = f ? feedState(f, t) : null;
      if (s && s.state === 'down') return `${ex} ${s.text}` + (f.status && f.status.detail ? ` (${f.status.detail})` : '');
      return `${ex}: no data for ${f && f.lastData ? fmt.age((t - f.lastData) / 1000) : 'a while'}`;
    });
    text = parts.join(' · ') + ` — its rows are dimmed (stale after ${STALE_MS / 1000} s without data).`;
    cls += ' warn';
  }
  b.hidden = !text;
  setText(b, text);
  setClass(b, cls);
  if (link.gapNote) {
    const g = $('#gap-note');
    g.hidden = false;
    setText(g, link.gapNote);
  }
}

const connEl = $('#conn');
export function renderConn(node) {
  if (connEl.dataset.state !== link.state) connEl.dataset.state = link.state;
  const label = link.state === 'connected' ? 'connected' + (node ? ' · ' + node : '')
    : link.state === 'connecting' ? 'connecting…' : 'disconnected' + (link.note ? ' · ' + link.note : '');
  setText($('.conn-text', connEl), label);
}

onFrame(() => { if (dirty) renderFeeds(); return 0; });

// Once a second (DIMMED: the exchanges whose rows are dimmed).
export function tick(dimmed) {
  renderFeeds();
  renderRates();
  renderBanner(dimmed);
}
