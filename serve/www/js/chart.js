// Small canvas charts: a filled line with gaps (the dashboard) and several lines over
// time with a zero line (the premium history).
import { isNum } from './util.js';

function prepare(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (!w || !h) return null;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.font = '10px ' + getComputedStyle(document.body).fontFamily;
  return { ctx, w, h };
}

// DATA: values or null, one per slot of SLOTS, newest last. LABEL formats the maximum.
export function area(canvas, data, slots, color, label) {
  const c = prepare(canvas);
  if (!c) return;
  const { ctx, w, h } = c;
  let min = Infinity, max = -Infinity;
  for (const v of data) if (v !== null) { if (v < min) min = v; if (v > max) max = v; }
  ctx.fillStyle = '#8b949e';
  if (min === Infinity) {
    ctx.textAlign = 'center';
    ctx.fillText('no data yet', w / 2, h / 2 + 3);
    return;
  }
  min = Math.min(min, 0);                  // anchored at zero: rates and latencies are not negative
  if (max === min) max = min + 1;
  const padT = 12, padB = 2;
  const x = (i) => (slots <= 1 ? w : (i + slots - data.length) * (w / (slots - 1)));
  const y = (v) => padT + (h - padT - padB) * (1 - (v - min) / (max - min));
  ctx.strokeStyle = 'rgba(139,148,158,.18)';
  ctx.lineWidth = 1;
  ctx.beginPath(); ctx.moveTo(0, padT + 0.5); ctx.lineTo(w, padT + 0.5); ctx.stroke();
  ctx.textAlign = 'left';
  ctx.fillText('max ' + label(max), 2, 9);
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

export const PALETTE = ['#58a6ff', '#d29922', '#a371f7', '#3fb950', '#f778ba', '#79c0ff', '#ffa657'];

// SERIES: [{name, color, points: [[tMs, value], ...]}] over [T0, T1]; values in percent.
export function lines(canvas, series, t0, t1, fmtY) {
  const c = prepare(canvas);
  if (!c) return;
  const { ctx, w, h } = c;
  let min = Infinity, max = -Infinity;
  for (const s of series) for (const [, v] of s.points) if (isNum(v)) { if (v < min) min = v; if (v > max) max = v; }
  ctx.fillStyle = '#8b949e';
  if (min === Infinity) {
    ctx.textAlign = 'center';
    ctx.fillText('collecting samples (one every 10 s)…', w / 2, h / 2 + 3);
    return;
  }
  if (min > 0) min = Math.min(min, 0); else if (max < 0) max = Math.max(max, 0);
  const pad = (max - min) * 0.1 || 0.05;
  min -= pad; max += pad;
  const padL = 48, padT = 6, padB = 16;
  const x = (t) => padL + ((t - t0) / Math.max(1, t1 - t0)) * (w - padL - 4);
  const y = (v) => padT + (h - padT - padB) * (1 - (v - min) / (max - min));
  ctx.strokeStyle = 'rgba(139,148,158,.18)';
  ctx.lineWidth = 1;
  ctx.textAlign = 'right';
  for (const v of [max - pad, (max + min) / 2, min + pad]) {
    ctx.beginPath(); ctx.moveTo(padL, Math.round(y(v)) + 0.5); ctx.lineTo(w, Math.round(y(v)) + 0.5); ctx.stroke();
    ctx.fillText(fmtY(v), padL - 4, y(v) + 3);
  }
  if (min < 0 && max > 0) {
    ctx.strokeStyle = 'rgba(139,148,158,.45)';
    ctx.beginPath(); ctx.moveTo(padL, Math.round(y(0)) + 0.5); ctx.lineTo(w, Math.round(y(0)) + 0.5); ctx.stroke();
  }
  ctx.textAlign = 'left';
  ctx.fillText(`−${Math.round((t1 - t0) / 60000)} min`, padL, h - 3);
  ctx.textAlign = 'right';
  ctx.fillText('now', w - 2, h - 3);
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    let pen = false;
    for (const [t, v] of s.points) {
      if (!isNum(v)) { pen = false; continue; }
      if (pen) ctx.lineTo(x(t), y(v)); else ctx.moveTo(x(t), y(v));
      pen = true;
    }
    ctx.stroke();
  }
}
