// The trends page: a KPI's tests in commit order, one line per branch and
// parameter set, each point coloured by its verdict on the KPI, the
// threshold band around the accepted level, and change points linked to
// the compare of the tests either side; or one small chart per KPI. Click
// a point to open its test. Accepting a change point goes through the API
// without leaving the page.
(function () {
  "use strict";

  // Verdict colours; "unchanged" takes its line's colour.
  const verdictColors = { regressed: "#dc2626", improved: "#16a34a", "no-baseline": "#9ca3af" };
  const pxRatio = () => (window.uPlot && uPlot.pxRatio) || window.devicePixelRatio || 1;

  // fmt writes an axis or legend number with at most four significant
  // digits and k/M/G for large ones (never an exponent).
  function fmt(v) {
    if (v == null || !isFinite(v)) return "--";
    const a = Math.abs(v);
    const sig = (x) => x.toLocaleString("en-US", { maximumSignificantDigits: 4 });
    if (a >= 1e9) return sig(v / 1e9) + "G";
    if (a >= 1e6) return sig(v / 1e6) + "M";
    if (a >= 1e4) return sig(v / 1e3) + "k";
    return sig(v);
  }

  // fmtU writes a value in its unit with the one formatter every page
  // uses (units.js), else as fmt does.
  function fmtU(v, unit) {
    if (v == null || !isFinite(v)) return "--";
    const U = window.Pitwall && window.Pitwall.units;
    return U ? U.format(v, unit || "") : fmt(v) + (unit ? " " + unit : "");
  }

  function pointColor(d, i) {
    return verdictColors[d.verdicts[i]] || d.lines[d.line[i]].color;
  }

  // draw renders one trend chart (the JSON of ui/trends' chart) into el.
  function draw(el, d) {
    if (!window.uPlot) { el.textContent = "charts need uPlot"; return null; }
    const n = d.x.length;
    const compact = !!d.compact;
    // One array of values per line, null where another line has the test.
    const values = d.lines.map(() => new Array(n).fill(null));
    for (let i = 0; i < n; i++) values[d.line[i]][i] = d.y[i];

    const describe = (i) => "#" + d.ids[i] + " · " + d.when[i] + (d.commits[i] ? " · " + d.commits[i] : "");
    const series = [{ label: "test", value: (u, v) => (v == null ? "--" : describe(Math.round(v) - 1)) }]
      .concat(d.lines.map((l) => ({
        label: l.label, stroke: l.color, width: 1.5, spanGaps: true,
        points: { show: false }, value: (u, v) => fmtU(v, d.unit),
      })));

    let links = [];
    const plugin = {
      hooks: {
        // The accepted levels with their threshold, under the lines.
        drawAxes: [(u) => {
          const ctx = u.ctx;
          const right = u.bbox.left + u.bbox.width;
          ctx.save();
          ctx.font = Math.round(11 * pxRatio()) + "px system-ui, sans-serif";
          ctx.textAlign = "left";
          ctx.textBaseline = "alphabetic";
          for (const b of d.bands) {
            const x0 = Math.max(u.valToPos(b.from - 0.5, "x", true), u.bbox.left);
            const yHi = u.valToPos(b.high, "y", true);
            const yLo = u.valToPos(b.low, "y", true);
            const yLv = u.valToPos(b.level, "y", true);
            ctx.fillStyle = b.color + "1f";
            ctx.fillRect(x0, yHi, right - x0, Math.max(yLo - yHi, 1));
            ctx.strokeStyle = b.color + "99";
            ctx.setLineDash([6, 4]);
            ctx.lineWidth = pxRatio();
            ctx.beginPath();
            ctx.moveTo(x0, yLv);
            ctx.lineTo(right, yLv);
            ctx.stroke();
            if (!compact) {
              ctx.fillStyle = b.color;
              ctx.fillText(b.label, x0 + 4 * pxRatio(), yHi - 4 * pxRatio());
            }
          }
          ctx.restore();
        }],
        // Change points, then every point in its verdict's colour.
        draw: [(u) => {
          const ctx = u.ctx;
          const r = pxRatio();
          ctx.save();
          ctx.beginPath();
          ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
          ctx.clip();
          for (const m of d.marks) {
            const x = Math.round(u.valToPos(m.x, "x", true));
            ctx.strokeStyle = m.color;
            ctx.setLineDash([4, 3]);
            ctx.lineWidth = r;
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
          }
          ctx.setLineDash([]);
          for (let i = 0; i < n; i++) {
            if (!u.series[d.line[i] + 1].show) continue;
            const x = u.valToPos(d.x[i], "x", true);
            const y = u.valToPos(d.y[i], "y", true);
            const flagged = d.verdicts[i] === "regressed" || d.verdicts[i] === "improved";
            const rad = (compact ? 2.5 : 3.5) * r + (flagged ? r : 0);
            if (d.outliers && d.outliers[i] != null) {
              ctx.strokeStyle = verdictColors.regressed;
              ctx.lineWidth = 1.5 * r;
              ctx.beginPath();
              ctx.arc(x, y, rad + 3 * r, 0, 2 * Math.PI);
              ctx.stroke();
            }
            ctx.fillStyle = pointColor(d, i);
            ctx.strokeStyle = "#fff";
            ctx.lineWidth = r;
            ctx.beginPath();
            ctx.arc(x, y, rad, 0, 2 * Math.PI);
            ctx.fill();
            ctx.stroke();
          }
          ctx.restore();
          // Change point labels are links to their compare.
          links.forEach((a, k) => {
            const left = u.valToPos(d.marks[k].x, "x");
            a.style.left = left + "px";
            a.hidden = left < 0 || left > u.bbox.width / pxRatio();
          });
        }],
        setCursor: [(u) => {
          const tip = u.over.querySelector(".trend-tip");
          if (!tip) return;
          const i = u.cursor.idx;
          if (i == null || !u.series[d.line[i] + 1].show) { tip.hidden = true; return; }
          tip.hidden = false;
          tip.textContent = "";
          const head = document.createElement("strong");
          head.textContent = fmtU(d.y[i], d.unit);
          const v = document.createElement("span");
          v.textContent = " " + (d.verdicts[i] || "");
          v.style.color = pointColor(d, i);
          const who = document.createElement("div");
          who.textContent = d.lines[d.line[i]].label;
          const when = document.createElement("div");
          when.textContent = describe(i);
          tip.append(head, v, who, when);
          const x = u.valToPos(d.x[i], "x");
          const y = u.valToPos(d.y[i], "y");
          const w = u.over.clientWidth;
          tip.style.left = Math.min(Math.max(x + 10, 0), Math.max(w - tip.offsetWidth, 0)) + "px";
          tip.style.top = Math.max(y - tip.offsetHeight - 8, 0) + "px";
        }],
      },
    };

    const ticks = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000];
    const opts = {
      width: Math.max(el.clientWidth - 8, 200),
      height: compact ? 150 : 280,
      title: compact ? undefined : d.title,
      scales: {
        x: { time: false, range: () => [0.5, Math.max(n, 1) + 0.5] },
        y: {
          range: (u, min, max) => {
            for (const b of d.bands) {
              min = min == null ? b.low : Math.min(min, b.low);
              max = max == null ? b.high : Math.max(max, b.high);
            }
            if (min == null) return [0, 1];
            const pad = (max - min) * 0.08 || Math.abs(max) * 0.05 || 1;
            return [min - pad, max + pad];
          },
        },
      },
      axes: [
        {
          incrs: ticks, space: compact ? 50 : 70,
          values: (u, splits) => splits.map((v) => {
            const i = Math.round(v) - 1;
            return v === Math.round(v) && i >= 0 && i < n ? "#" + d.ids[i] : "";
          }),
          label: compact ? undefined : "tests in the order they ran",
        },
        {
          // Each label in the KPI's unit, scaled as every page scales it
          // (units.js: 1.2 µs, 850 ms, 14.3 MiB), so the axis needs no
          // unit label of its own; wide enough for the longest label.
          values: (u, splits) => splits.map((v) => fmtU(v, d.unit)),
          size: (u, vals, ai) => window.Pitwall && Pitwall.axisSize ? Pitwall.axisSize(u, vals, ai)
            : 24 + 8 * Math.max(4, ...(vals || []).map((s) => String(s).length)),
        },
      ],
      series,
      // Lines by name only (a click hides one); the tooltip has values.
      legend: { show: !compact, live: false },
      plugins: [plugin],
      cursor: { drag: { x: false, y: false }, points: { show: false } },
    };
    el.textContent = "";
    const u = new uPlot(opts, [d.x].concat(values), el);

    const tip = document.createElement("div");
    tip.className = "trend-tip";
    tip.hidden = true;
    u.over.appendChild(tip);
    if (!compact) {
      // The chart's own legend (a click hides a line) replaces the page's.
      const plain = document.getElementById("trend-lines");
      if (plain) plain.hidden = true;
      links = d.marks.map((m, k) => {
        const a = document.createElement(m.href ? "a" : "span");
        a.className = "cp-link";
        a.textContent = m.label;
        a.style.color = m.color;
        a.style.top = (2 + 15 * (k % 3)) + "px";
        if (m.href) {
          a.href = m.href;
          a.title = "compare the first test after this change with the tests before it";
        }
        u.over.appendChild(a);
        return a;
      });
      u.redraw(false, false);
    }
    u.over.addEventListener("click", (e) => {
      if (e.target.closest && e.target.closest("a")) return;
      const i = u.cursor.idx;
      if (i != null && u.series[d.line[i] + 1].show) window.location.href = "/tests/" + d.ids[i];
    });
    u.over.addEventListener("mouseleave", () => { tip.hidden = true; });

    el.dataset.drawn = String(n);
    el.dataset.lines = String(d.lines.length);
    el.dataset.marks = String(d.marks.length);
    el.dataset.bands = String(d.bands.length);
    el._uplot = u;
    if (window.ResizeObserver) {
      new ResizeObserver(() => u.setSize({ width: Math.max(el.clientWidth - 8, 200), height: opts.height })).observe(el);
    }
    return u;
  }

  const one = document.getElementById("trend-data");
  const el = document.getElementById("trend-chart");
  if (one && el) draw(el, JSON.parse(one.textContent));
  const many = document.getElementById("trends-data");
  if (many) {
    const list = JSON.parse(many.textContent);
    document.querySelectorAll("[data-chart]").forEach((c) => {
      const d = list[+c.dataset.chart];
      if (d && d.x.length) draw(c, d);
    });
  }

  // Choosing a framework starts afresh; a KPI or parameter set reloads
  // the page with the rest of the form (ticking branches waits for Show).
  const form = document.getElementById("trend-form");
  if (form) {
    form.addEventListener("change", (e) => {
      const t = e.target;
      if (t.id === "t-framework") {
        window.location.href = "/trends" + (t.value ? "?framework=" + encodeURIComponent(t.value) : "");
      } else if (t.id === "t-kpi" || t.id === "t-params") {
        form.requestSubmit ? form.requestSubmit() : form.submit();
      }
    });
  }

  // The plain form posts to the page's route; with JavaScript the API's
  // accept endpoint answers and the row changes in place.
  document.addEventListener("submit", async (e) => {
    const f = e.target;
    if (!f.classList || !f.classList.contains("accept") || e.defaultPrevented) return;
    e.preventDefault();
    const cell = f.closest("td");
    try {
      const cp = await Pitwall.fetchJSON("/api/v1/changepoints/" + f.dataset.cp + "/accept", { method: "POST" });
      cell.textContent = "by " + cp.accepted_by + ", just now";
    } catch (err) {
      const p = document.createElement("span");
      p.className = "error";
      p.textContent = err.message;
      cell.appendChild(p);
    }
  });
})();
