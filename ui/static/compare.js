// The compare page's overlaid charts: one chart per system metric, one
// line per test (and host), x in seconds since each test's script started.
(function () {
  "use strict";
  // The compare-with-baseline picker opens the chosen test at once.
  document.querySelectorAll("select[data-autosubmit]").forEach((sel) => {
    sel.addEventListener("change", () => sel.form.submit());
  });
  const dataEl = document.getElementById("compare-data");
  const box = document.getElementById("compare-charts");
  if (!dataEl || !box || !window.Pitwall) return;
  const tests = JSON.parse(dataEl.textContent);
  // Per-CPU series would make dozens of charts; the totals tell the story.
  const skip = /^cpu\d+\./;
  const first = ["cpu.user", "cpu.system", "cpu.iowait", "mem.used", "load.1", "ctxt"];
  const maxCharts = 24;
  // Every test's interference bands, on the same seconds-since-start axis.
  const bands = tests.flatMap((t) => t.bands || []);

  function median(a) {
    if (!a.length) return 0;
    const s = a.slice().sort((x, y) => x - y);
    return s[Math.floor(s.length / 2)];
  }

  // fill joins a line across the x values only other runs have
  // (interpolated between its own samples, never beyond them).
  function fill(x, v) {
    let prev = -1;
    for (let j = 0; j < v.length; j++) {
      if (v[j] == null) continue;
      if (prev >= 0 && j - prev > 1) {
        for (let k = prev + 1; k < j; k++) {
          v[k] = v[prev] + (v[j] - v[prev]) * (x[k] - x[prev]) / (x[j] - x[prev]);
        }
      }
      prev = j;
    }
    return v;
  }

  function draw(all) {
    const lines = new Map(); // metric -> [{label, rel: [s], values}]
    const steps = [];
    all.forEach((list, i) => {
      const t = tests[i];
      let start = t.start_ms;
      if (!start) {
        const firsts = list.filter((s) => s.ts.length).map((s) => s.ts[0]);
        start = firsts.length ? Math.min.apply(null, firsts) : 0;
      }
      const hosts = new Set(list.map((s) => s.host));
      for (const s of list) {
        if (skip.test(s.metric) || !s.ts.length) continue;
        const rel = s.ts.map((ms) => (ms - start) / 1000);
        const gaps = [];
        for (let j = 1; j < rel.length; j++) gaps.push(rel[j] - rel[j - 1]);
        if (gaps.length) steps.push(median(gaps));
        const label = hosts.size > 1 ? t.label + " " + s.host : t.label;
        if (!lines.has(s.metric)) lines.set(s.metric, []);
        // A counter is drawn as its rate, like on the test page.
        const values = Pitwall.units.counter(s.metric) ? Pitwall.units.rate(s.ts, s.values) : s.values;
        lines.get(s.metric).push({ label, rel, values, color: Pitwall.palette[i % Pitwall.palette.length] });
      }
    });
    if (!lines.size) {
      box.textContent = "These tests have no system metrics.";
      return;
    }
    // A common step so samples of different runs share x values.
    const step = Math.max(median(steps), 0.001);
    // A metric that stayed at zero in every run (an idle device) says nothing.
    const flat = (m) => lines.get(m).every((l) => l.values.every((v) => v === 0 || v == null));
    // The application's own series (PromQL range queries, containers) come
    // right after the host's headline figures.
    const rank = (m) => {
      const i = first.indexOf(m);
      if (i >= 0) return i;
      return /^(prom|container)\./.test(m) ? 50 : 99;
    };
    const metrics = Array.from(lines.keys()).filter((m) => !flat(m)).sort((a, b) => {
      const ia = rank(a), ib = rank(b);
      if (ia !== ib) return ia - ib;
      return a < b ? -1 : a > b ? 1 : 0;
    }).slice(0, maxCharts);
    box.textContent = metrics.length ? "" : "Every system metric stayed at zero.";
    for (const metric of metrics) {
      const ls = lines.get(metric);
      const keys = new Set();
      const buckets = ls.map((l) => {
        const m = new Map();
        l.rel.forEach((x, j) => {
          if (l.values[j] == null) return;
          const k = Math.round(x / step);
          keys.add(k);
          const b = m.get(k) || [0, 0];
          b[0] += l.values[j];
          b[1]++;
          m.set(k, b);
        });
        return m;
      });
      const sorted = Array.from(keys).sort((a, b) => a - b);
      const x = sorted.map((k) => +(k * step).toFixed(3));
      const series = ls.map((l, i) => ({
        label: l.label,
        color: l.color,
        values: fill(x, sorted.map((k) => {
          const b = buckets[i].get(k);
          return b ? b[0] / b[1] : null;
        })),
      }));
      const el = document.createElement("div");
      el.className = "chart";
      el.dataset.metric = metric;
      box.appendChild(el);
      const unit = Pitwall.units.metricUnit(metric);
      Pitwall.chart(el, { x, series, time: false, unit, title: metric + (unit ? " (" + unit + ")" : ""),
        marks: [{ x: 0, label: "script start" }], bands });
    }
  }

  Promise.all(tests.map((t) =>
    Pitwall.fetchJSON("/api/v1/tests/" + t.id + "/series?points=600")
      .then((r) => r.items, () => [])))
    .then(draw)
    .catch((e) => { box.textContent = "Could not draw the charts: " + e.message; });
})();
