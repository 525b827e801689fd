// The test page's live parts: the log tail over server-sent events and
// the system charts drawn from the series API.
(function () {
  "use strict";
  const maxLines = 5000;
  // drawing numbers the charts' drawings (a series the page had no chart
  // for draws them again: follow); polls counts the polls of all of them.
  let drawing = 0, polls = 0;

  // Live log: append each streamed line as text, follow the end unless paused.
  function logTail() {
    const pre = document.getElementById("log");
    if (!pre || !pre.dataset.stream || !window.EventSource) return;
    const status = document.getElementById("log-status");
    const pause = document.getElementById("log-pause");
    let paused = false;
    if (pause) {
      pause.hidden = false;
      pause.addEventListener("click", () => {
        paused = !paused;
        pause.textContent = paused ? "Follow" : "Pause";
        if (!paused) pre.scrollTop = pre.scrollHeight;
      });
    }
    pre.scrollTop = pre.scrollHeight;
    let count = pre.childElementCount;
    const es = new EventSource(pre.dataset.stream + "?after=" + encodeURIComponent(pre.dataset.after || "0"));
    es.onmessage = (e) => {
      const l = JSON.parse(e.data);
      const span = document.createElement("span");
      span.className = "tp-" + l.stream;
      span.textContent = l.line + "\n";
      pre.appendChild(span);
      if (++count > maxLines) { pre.firstElementChild.remove(); count--; }
      pre.dataset.lines = String(count);
      if (!paused) pre.scrollTop = pre.scrollHeight;
    };
    es.addEventListener("end", (e) => {
      es.close();
      if (status) status.textContent = "ended (" + e.data + ")";
      if (pause) pause.hidden = true;
    });
    es.onerror = () => { if (status) status.textContent = "reconnecting…"; };
    es.onopen = () => { if (status) status.textContent = "live"; };
  }

  // family groups metrics into one chart: cpu.*, per-CPU, mem.*, one chart
  // per disk, network interface and process, load, the rest. A container's
  // series (container.<name>.<group>.<what>) get one chart per group, and
  // its scraped /metrics (container.<name>.prom.<metric>{labels}) one chart
  // per metric, its label sets as the lines.
  function family(metric) {
    const prom = /^container\.([^.]+)\.prom\.([^{]+)/.exec(metric);
    if (prom) return "container " + prom[1] + " " + prom[2].replace(/_(bucket|sum|count)$/, "");
    const parts = metric.split(".");
    if (parts[0] === "container" && parts.length > 3) return parts.slice(0, 3).join(" ");
    if (/^cpu\d+$/.test(parts[0])) return "cpu per core";
    if ((parts[0] === "disk" || parts[0] === "net" || parts[0] === "proc") && parts.length > 2) {
      return parts[0] + " " + parts[1];
    }
    return parts[0];
  }

  function label(metric, fam) {
    const prom = /^container\.[^.]+\.prom\.([^{]+)(\{.*\})?$/.exec(metric);
    if (prom) return prom[1] + (prom[2] || "");
    const parts = metric.split(".");
    if (fam === "cpu per core") return metric;
    return parts.slice(fam.split(" ").length).join(".") || metric;
  }

  // Lines up series with different time stamps on one x axis.
  function align(list) {
    const xs = new Set();
    for (const s of list) for (const t of s.ts) xs.add(t);
    const x = Array.from(xs).sort((a, b) => a - b);
    const index = new Map(x.map((t, i) => [t, i]));
    const series = list.map((s) => {
      const v = new Array(x.length).fill(null);
      for (let i = 0; i < s.ts.length; i++) v[index.get(s.ts[i])] = s.values[i];
      return v;
    });
    return { x: x.map((t) => t / 1000), series };
  }

  async function charts() {
    const box = document.getElementById("charts");
    const cfg = document.getElementById("tp-charts");
    if (!box || !cfg || !window.Pitwall) return;
    const spec = JSON.parse(cfg.textContent);
    const mine = ++drawing;
    const t0 = performance.now();
    let list;
    try {
      list = (await Pitwall.fetchJSON(spec.series)).items;
    } catch (err) {
      box.textContent = "Could not load the metrics: " + err.message;
      return;
    }
    // A later drawing started meanwhile: it draws, not this one.
    if (mine !== drawing) return;
    const fetched = performance.now();
    box.textContent = "";
    if (list.length === 0) {
      const p = document.createElement("p");
      p.className = "muted";
      p.textContent = "No system metrics recorded.";
      box.appendChild(p);
    }
    // One chart per host, family and unit (a disk's operations and its
    // bytes are two charts); counters are drawn as rates.
    const U = Pitwall.units;
    const groups = new Map();
    for (const raw of list) {
      // A counter keeps its raw samples beside the rates, for follow.
      const s = U.counter(raw.metric) ? Object.assign({}, raw, { values: U.rate(raw.ts, raw.values), raw }) : raw;
      const unit = U.metricUnit(s.metric);
      const key = groupKey(s);
      if (!groups.has(key)) groups.set(key, { host: s.host, family: family(s.metric), unit, list: [] });
      groups.get(key).list.push(s);
    }
    const zero = (s) => s.values.every((v) => v == null || v === 0);
    let host = null, grid = null, n = 0, flat = 0;
    for (const g of groups.values()) {
      if (g.host !== host) {
        host = g.host;
        const h = document.createElement("h3");
        h.textContent = host;
        box.appendChild(h);
        grid = document.createElement("div");
        grid.className = "grid";
        box.appendChild(grid);
      }
      const el = document.createElement("div");
      el.className = "chart";
      el.dataset.host = g.host;
      el.dataset.family = g.family;
      // A chart whose every line stayed at zero (an idle disk or
      // interface) says nothing: hidden until "show all-zero charts".
      const allZero = g.list.every(zero);
      if (allZero) {
        el.classList.add("all-zero");
        el.hidden = true;
        flat++;
      }
      grid.appendChild(el);
      const a = align(g.list);
      g.el = el;
      g.plot = Pitwall.chart(el, {
        title: g.family + (g.unit ? " (" + g.unit + ")" : ""), unit: g.unit,
        x: a.x, marks: spec.marks, bands: spec.bands, height: 200,
        series: g.list.map((s, i) => ({ label: label(s.metric, g.family), values: a.series[i] })),
        // Zero lines beside others start hidden; a click on the legend shows them.
        hidden: allZero ? null : g.list.map(zero),
      });
      n++;
    }
    if (flat > 0) {
      const p = document.createElement("p");
      const lab = document.createElement("label");
      const cb = document.createElement("input");
      cb.type = "checkbox";
      cb.id = "show-zero";
      cb.addEventListener("change", () => {
        box.querySelectorAll(".chart.all-zero").forEach((c) => { c.hidden = !cb.checked; });
      });
      lab.append(cb, " Show " + flat + " chart" + (flat === 1 ? "" : "s") + " whose series all stayed at zero");
      p.appendChild(lab);
      box.insertBefore(p, box.firstChild);
    }
    box.dataset.zeroCharts = String(flat);
    follow(spec, list, groups);
    const done = performance.now();
    box.dataset.charts = String(n);
    box.dataset.fetchMs = (fetched - t0).toFixed(1);
    box.dataset.drawMs = (done - fetched).toFixed(1);
    box.dataset.totalMs = (done - t0).toFixed(1);
  }

  // follow appends new samples to the charts while the test runs: every
  // 3 s it asks the series API for what came after the newest sample
  // drawn. A series the charts do not have yet (the page opened before a
  // host's first samples came, or a container started later) draws the
  // charts again from the whole series, which follows on by itself.
  function follow(spec, list, groups) {
    const live = document.getElementById("live");
    if (!live || !live.hasAttribute("hx-get")) return;
    let last = 0;
    for (const s of list) if (s.ts.length) last = Math.max(last, s.ts[s.ts.length - 1]);
    const box = document.getElementById("charts");
    const mine = drawing;
    async function poll() {
      const still = document.getElementById("live");
      if (mine !== drawing || !still || !still.hasAttribute("hx-get")) return;
      try {
        const more = (await Pitwall.fetchJSON(spec.series + "&from=" + (last + 1))).items;
        if (more.some((s) => s.ts.length && !lineOf(groups, s)[1])) {
          box.dataset.polls = String(++polls);
          charts();
          return;
        }
        for (const s of more) {
          const [g, have] = lineOf(groups, s);
          if (!have || !s.ts.length) continue;
          if (have.raw) {
            have.raw.ts = have.raw.ts.concat(s.ts);
            have.raw.values = have.raw.values.concat(s.values);
            have.ts = have.raw.ts;
            have.values = Pitwall.units.rate(have.raw.ts, have.raw.values);
          } else {
            have.ts = have.ts.concat(s.ts);
            have.values = have.values.concat(s.values);
          }
          last = Math.max(last, s.ts[s.ts.length - 1]);
          g.dirty = true;
        }
        for (const g of groups.values()) {
          if (!g.dirty || !g.plot) continue;
          g.dirty = false;
          const a = align(g.list);
          g.plot.setData([a.x, ...a.series]);
          g.el.dataset.drawn = String(a.series.reduce((n, v) => n + v.filter((x) => x != null).length, 0));
        }
        box.dataset.polls = String(++polls);
      } catch (err) {
        // The next poll tries again.
      }
      setTimeout(poll, 3000);
    }
    setTimeout(poll, 3000);
  }

  // groupKey is the chart a series is drawn on: one per host, family and
  // unit.
  function groupKey(s) {
    return s.host + "\u0000" + family(s.metric) + "\u0000" + Pitwall.units.metricUnit(s.metric);
  }

  // lineOf finds a series of the series API among the charts: its chart's
  // group and its line there (undefined when it has none).
  function lineOf(groups, s) {
    const g = groups.get(groupKey(s));
    return [g, g && g.list.find((x) => x.metric === s.metric)];
  }

  function start() {
    logTail();
    charts();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
