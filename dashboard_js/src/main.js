// Vernier's dashboard and `vernier report --format html`: draws the charts a page describes.
// The page holds its data as JSON (<script type="application/json" id="vn-data">, never run):
//   {"charts": [{"id", "title", "unit": "count"|"pct", "x": [unix s], "series": [
//       {"label", "values": [n|null], "lo"?: [...], "hi"?: [...]}]}],
//    "live"?: {"url", "every_s"}}
// Each chart goes into <div id="chart-<id>">. A live page re-reads `live.url` (JSON
// {"html": table fragment, "charts": [...]}) every `every_s` seconds.
import uPlot from 'uplot';

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];
const drawn = new Map(); // chart id -> uPlot

const pct = (v) => (v == null ? '–' : (v * 100).toFixed(2) + ' %');
const count = (v) => (v == null ? '–' : Math.round(v).toLocaleString());
const alpha = (hex, a) => hex + Math.round(a * 255).toString(16).padStart(2, '0');

function widthOf(el) {
  return Math.max(260, Math.min(el.clientWidth || 600, 1100));
}

function options(spec, el) {
  const fmt = spec.unit === 'pct' ? pct : count;
  const series = [{}];
  const bands = [];
  spec.series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const main = series.length;
    series.push({ label: s.label, stroke: colour, width: 2, value: (u, v) => fmt(v), spanGaps: false });
    if (s.lo && s.hi) {
      for (const edge of [' low', ' high']) {
        series.push({ label: s.label + edge, stroke: alpha(colour, 0.3), width: 1, band: true, value: (u, v) => fmt(v) });
      }
      bands.push({ series: [main + 2, main + 1], fill: alpha(colour, 0.12) });
    }
  });
  return {
    title: spec.title,
    width: widthOf(el),
    height: 240,
    series,
    bands,
    scales: { x: { time: true } },
    axes: [{}, { values: (u, vals) => vals.map(fmt), size: 70 }],
    legend: { live: true },
  };
}

function data(spec) {
  const out = [spec.x];
  for (const s of spec.series) {
    out.push(s.values);
    if (s.lo && s.hi) out.push(s.lo, s.hi);
  }
  return out;
}

function draw(spec) {
  const el = document.getElementById('chart-' + spec.id);
  if (!el) return;
  const old = drawn.get(spec.id);
  if (old) old.destroy();
  el.textContent = '';
  if (!spec.x.length) {
    el.textContent = 'No data in this period.';
    return;
  }
  const plot = new uPlot(options(spec, el), data(spec), el);
  // an interval's two edges are drawn as a band: keep them out of the legend
  const rows = plot.root.querySelectorAll('.u-legend .u-series');
  plot.series.forEach((s, i) => {
    if (s.band && rows[i]) rows[i].style.display = 'none';
  });
  drawn.set(spec.id, plot);
}

function live(spec) {
  const target = document.getElementById('vn-live');
  const refresh = async () => {
    try {
      const reply = await fetch(spec.url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (reply.ok) {
        const body = await reply.json();
        if (target) target.innerHTML = body.html; // built and escaped by the server
        (body.charts || []).forEach(draw);
      }
    } catch (e) {
      // the admin listener restarted or the network dropped: try again at the next tick
    }
    setTimeout(refresh, spec.every_s * 1000);
  };
  setTimeout(refresh, spec.every_s * 1000);
}

function start() {
  const holder = document.getElementById('vn-data');
  if (!holder) return;
  const page = JSON.parse(holder.textContent);
  (page.charts || []).forEach(draw);
  if (page.live) live(page.live);
  let pending = 0;
  window.addEventListener('resize', () => {
    clearTimeout(pending);
    pending = setTimeout(() => drawn.forEach((u, id) => {
      const el = document.getElementById('chart-' + id);
      if (el) u.setSize({ width: widthOf(el), height: 240 });
    }), 150);
  });
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
