// Pitwall's shared browser code: CSRF for htmx requests, confirmations,
// and one chart helper on top of the vendored uPlot. Page scripts live
// beside this file (one per page) and use window.Pitwall.
(function () {
  "use strict";
  const csrf = () => document.body && document.body.dataset.csrf || "";

  // htmx sends the session's CSRF token on every state-changing request.
  document.addEventListener("htmx:configRequest", (e) => {
    if (csrf()) e.detail.headers["X-CSRF-Token"] = csrf();
  });

  // <form data-confirm="Abort test 12?"> asks before submitting.
  document.addEventListener("submit", (e) => {
    const msg = e.target.dataset && e.target.dataset.confirm;
    if (msg && !window.confirm(msg)) e.preventDefault();
  }, true);

  // The navigation's menu: folded on a phone, open (its summary hidden by
  // the stylesheet) on wider screens.
  const menu = document.getElementById("nav-menu");
  if (menu && window.matchMedia) {
    const phone = window.matchMedia("(max-width: 640px)");
    const fit = () => { menu.open = !phone.matches; };
    fit();
    phone.addEventListener("change", fit);
  }

  // Every table sorts on a click on a header cell: a table whose first
  // row holds only <th> cells (in a <thead> or not). Values sort by their
  // data-sort attribute, a <time>'s datetime, or their text read as a
  // number with its unit prefix (1.2 µs < 850 ms, 3 KiB < 2 MiB), else as
  // text. A second click reverses; aria-sort says which way.
  const prefixes = {
    ns: 1, "\u00b5s": 1e3, us: 1e3, ms: 1e6, s: 1e9,
    b: 1, kib: 1024, mib: 1048576, gib: 1073741824, tib: 1099511627776,
    k: 1e3, m: 1e6, g: 1e9, t: 1e12,
  };
  function sortKey(cell) {
    if (!cell) return "";
    if (cell.dataset.sort != null) {
      const n = Number(cell.dataset.sort);
      return Number.isNaN(n) ? cell.dataset.sort : n;
    }
    const time = cell.querySelector("time[datetime]");
    if (time) return Date.parse(time.getAttribute("datetime"));
    const text = cell.textContent.trim();
    const m = /^#?([-+]?\d+(?:\.\d+)?)\s*(ns|\u00b5s|us|ms|s|B|KiB|MiB|GiB|TiB|k|M|G|T)?\b/.exec(text);
    if (m && m[0].length > 0) return Number(m[1]) * (m[2] ? prefixes[m[2].toLowerCase()] || 1 : 1);
    return text.toLowerCase();
  }
  function headerRow(table) {
    const first = table.rows[0];
    if (!first || !first.cells.length) return null;
    for (const c of first.cells) if (c.tagName !== "TH" || c.colSpan > 1) return null;
    return first;
  }
  // sortTable orders the table's rows by the column of th, ascending
  // (dir 1) or descending (-1).
  function sortTable(table, th, dir) {
    const col = th.cellIndex;
    for (const c of th.parentElement.cells) c.removeAttribute("aria-sort");
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    const rows = Array.from(table.rows).filter((r) => r !== th.parentElement && r.parentElement.tagName !== "TFOOT"
      && r.parentElement.tagName !== "THEAD");
    const keyed = rows.map((r, i) => ({ r, i, k: sortKey(r.cells[col]) }));
    keyed.sort((a, b) => {
      let c;
      if (typeof a.k === "number" && typeof b.k === "number") c = a.k - b.k;
      else if (typeof a.k === "number") c = -1;
      else if (typeof b.k === "number") c = 1;
      else c = a.k < b.k ? -1 : a.k > b.k ? 1 : 0;
      return c * dir || a.i - b.i;
    });
    const parent = rows.length ? rows[0].parentElement : null;
    if (parent) for (const x of keyed) parent.appendChild(x.r);
    table.dataset.sortedBy = th.textContent.trim();
  }
  // tableKey names a table across redraws: its id, else its section's.
  function tableKey(table) {
    if (table.id) return "#" + table.id;
    const sec = table.closest("[id]");
    return sec ? sec.id + " " + Array.from(sec.querySelectorAll("table")).indexOf(table) : "";
  }
  // The sorts a user chose on this page, by table, so that a part htmx
  // redraws (the dashboard's every 2 s) comes back in the same order.
  const chosen = new Map();
  document.addEventListener("click", (e) => {
    const th = e.target.closest && e.target.closest("th");
    if (!th || e.target.closest("button, input, select, label")) return;
    const table = th.closest("table");
    if (!table || table.classList.contains("no-sort") || th.classList.contains("no-sort") || headerRow(table) !== th.parentElement) return;
    // A paged table sorts on the server: its headers are links to the
    // sorted listing (a click beside the label follows it too).
    if (table.hasAttribute("data-server-sort")) {
      const a = th.querySelector("a[href]");
      if (a && !e.target.closest("a")) a.click();
      return;
    }
    if (e.target.closest("a")) return;
    const dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    sortTable(table, th, dir);
    const key = tableKey(table);
    if (key) chosen.set(key, { label: th.textContent.trim(), dir });
  });
  // On htmx:afterSwap, in the same task as the swap: the browser never
  // paints (and nothing reads) the redrawn rows in the server's order.
  document.addEventListener("htmx:afterSwap", () => {
    for (const [key, s] of chosen) {
      const table = key.startsWith("#") ? document.getElementById(key.slice(1))
        : Array.from(document.querySelectorAll("table")).find((t) => tableKey(t) === key);
      if (!table || table.hasAttribute("data-server-sort")) continue;
      const head = headerRow(table);
      const th = head && Array.from(head.cells).find((c) => c.textContent.trim() === s.label);
      if (th) sortTable(table, th, s.dir);
    }
  });

  // axisSize is a y axis's width: its longest label measured in the
  // axis's font, beside the ticks and gap (a label is never clipped).
  function axisSize(u, values, ai) {
    const ax = u.axes[ai];
    const labels = (values || []).map(String);
    let w = 7 * Math.max(4, ...labels.map((v) => v.length));
    if (ax && ax.font && labels.length) {
      u.ctx.save();
      u.ctx.font = ax.font[0];
      w = Math.max(...labels.map((v) => u.ctx.measureText(v).width)) / (window.devicePixelRatio || 1);
      u.ctx.restore();
    }
    return Math.ceil(w) + (ax ? (ax.gap || 5) + ((ax.ticks && ax.ticks.size) || 10) : 15) + 4;
  }

  const palette = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2",
    "#db2777", "#65a30d", "#4b5563", "#ea580c"];

  // fetchJSON GETs (or sends) JSON with the session cookie and CSRF token.
  async function fetchJSON(url, opts) {
    opts = opts || {};
    const headers = Object.assign({ "Accept": "application/json" }, opts.headers || {});
    if (opts.method && opts.method !== "GET") headers["X-CSRF-Token"] = csrf();
    const res = await fetch(url, Object.assign({}, opts, { headers, credentials: "same-origin" }));
    if (!res.ok) {
      let msg = res.status + " " + res.statusText;
      try { msg = (await res.json()).error || msg; } catch (_) { /* not JSON */ }
      throw new Error(msg);
    }
    return res.status === 204 ? null : res.json();
  }

  // chart draws a line chart into el with uPlot.
  //   spec.x       shared x values (seconds since the epoch when spec.time)
  //   spec.series  [{label, values, color?}] aligned with x (null = gap)
  //   spec.marks   [{x, label, color?}] vertical lines (script start/end,
  //                change points)
  //   spec.bands   [{from, to, label, kind?}] shaded spans under the lines
  //                (interference generators), coloured by kind
  //   spec.time    x is time (default true); otherwise x is in seconds
  //   spec.unit    the y values' unit: axis ticks and legend values are
  //                formatted with Pitwall.units (1.2 µs, 14.3 MiB, 2.2k/s)
  //   spec.hidden  [bool] per series: start hidden (toggle in the legend)
  //   spec.points  draw points (for sparse series such as trends)
  //   spec.onClick (index) called when a point is clicked
  // It sizes itself to el's width and follows resizes; el.dataset.drawn
  // counts the points drawn, for tests.
  // bandColors colour interference bands by kind (hex, for an alpha suffix).
  const bandColors = {
    cpu: "#f59e0b", memory: "#8b5cf6", "memory-bandwidth": "#ec4899",
    io: "#0ea5e9", network: "#14b8a6", other: "#6b7280",
  };

  // lastValue is a series' last drawn value, for its legend when the
  // cursor is not on the chart (instead of uPlot's "--").
  function lastValue(values) {
    for (let i = values.length - 1; i >= 0; i--) if (values[i] != null) return values[i];
    return null;
  }

  // markRows spreads mark labels over rows so that none overlaps another:
  // each label takes the first row where it clears the previous label.
  function markRows(ctx, xs, labels, gap) {
    const ends = [];
    return xs.map((x, i) => {
      const w = ctx.measureText(labels[i] || "").width;
      let row = 0;
      while (row < ends.length && x < ends[row] + gap) row++;
      ends[row] = x + 3 + w;
      return row;
    });
  }

  function chart(el, spec) {
    if (!window.uPlot) { el.textContent = "charts need uPlot"; return null; }
    const marks = (spec.marks || []).slice().sort((a, b) => a.x - b.x);
    const bands = spec.bands || [];
    const unit = spec.unit || "";
    const fmt = (v) => (v == null ? "\u2014" : Pitwall.units.format(v, unit));
    const series = [{
      value: spec.time === false
        ? (u, v) => (v == null ? "\u2014" : Pitwall.units.format(v, "s"))
        : (u, v) => (v == null ? "\u2014" : new Date(v * 1000).toLocaleString()),
    }].concat(spec.series.map((s, i) => ({
      label: s.label,
      stroke: s.color || palette[i % palette.length],
      width: 1.5,
      spanGaps: false,
      show: !(spec.hidden && spec.hidden[i]),
      points: { show: !!spec.points, size: 6 },
      value: (u, v, si, idx) => fmt(idx == null ? lastValue(s.values) : v),
    })));
    const markPlugin = {
      hooks: {
        drawClear: [(u) => {
          if (!bands.length) return;
          const ctx = u.ctx;
          ctx.save();
          ctx.font = "11px system-ui, sans-serif";
          bands.forEach((b, i) => {
            const x0 = Math.max(u.valToPos(b.from, "x", true), u.bbox.left);
            const x1 = Math.min(u.valToPos(b.to, "x", true), u.bbox.left + u.bbox.width);
            if (x1 <= x0) return;
            const c = bandColors[b.kind] || bandColors.other;
            ctx.fillStyle = c + "26";
            ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
            ctx.fillStyle = c;
            ctx.fillRect(x0, u.bbox.top, x1 - x0, 3);
            ctx.fillText(b.label || "", x0 + 3, u.bbox.top + u.bbox.height - 4 - 13 * (i % 3));
          });
          ctx.restore();
        }],
        draw: [(u) => {
          const ctx = u.ctx;
          ctx.save();
          ctx.font = "11px system-ui, sans-serif";
          const xs = marks.map((m) => Math.round(u.valToPos(m.x, "x", true)));
          const rows = markRows(ctx, xs, marks.map((m) => m.label), 6 * (window.devicePixelRatio || 1));
          marks.forEach((m, i) => {
            const x = xs[i];
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
            ctx.strokeStyle = m.color || "#6b7280";
            ctx.setLineDash([4, 3]);
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            ctx.fillStyle = m.color || "#374151";
            ctx.fillText(m.label || "", x + 3, u.bbox.top + 12 + 13 * rows[i]);
          });
          el.dataset.markRows = String(rows.length ? Math.max.apply(null, rows) + 1 : 0);
          ctx.restore();
        }],
      },
    };
    // The x range covers the data and the marks; a short run (under a
    // second, or a single sample) gets a small margin on its own scale
    // rather than a window of years or minutes.
    const xRange = (u, min, max) => {
      // uPlot widens a time scale of one x value by 86400 of its units
      // (ms: years): start from the data's own single instant instead.
      const xs = u.data && u.data[0];
      if (xs && xs.length && xs[0] === xs[xs.length - 1]) min = max = xs[0];
      for (const m of marks) {
        if (min == null || m.x < min) min = m.x;
        if (max == null || m.x > max) max = m.x;
      }
      for (const b of bands) {
        if (min == null || b.from < min) min = b.from;
        if (max == null || b.to > max) max = b.to;
      }
      if (min == null || max == null) return [0, 1];
      const span = max - min;
      if (span === 0) return [min - 0.5, max + 0.5];
      if (span < 1) return [min - span * 0.05, max + span * 0.05];
      return [min, max];
    };
    const opts = {
      width: Math.max(el.clientWidth, 200),
      height: spec.height || 220,
      title: spec.title,
      scales: { x: { time: spec.time !== false, range: xRange } },
      axes: [
        spec.time === false ? { values: (u, splits) => splits.map((v) => Pitwall.units.format(v, "s")) } : {},
        {
          values: (u, splits) => splits.map((v) => Pitwall.units.format(v, unit)),
          // Wide enough for the longest label ("586 KiB/s"), so none is clipped.
          size: (u, values, ai) => axisSize(u, values, ai),
        },
      ],
      series,
      plugins: [markPlugin],
      cursor: { drag: { x: true, y: false } },
    };
    const data = [spec.x].concat(spec.series.map((s) => s.values));
    el.textContent = "";
    const u = new uPlot(opts, data, el);
    if (spec.onClick) {
      u.over.addEventListener("click", () => {
        if (u.cursor.idx != null) spec.onClick(u.cursor.idx);
      });
    }
    let drawn = 0;
    for (const s of spec.series) drawn += s.values.filter((v) => v != null).length;
    el.dataset.drawn = String(drawn);
    el.dataset.bands = String(bands.length);
    el.dataset.unit = unit;
    if (window.ResizeObserver) {
      new ResizeObserver(() => u.setSize({ width: Math.max(el.clientWidth, 200), height: opts.height })).observe(el);
    }
    return u;
  }

  window.Pitwall = Object.assign(window.Pitwall || {}, { chart, fetchJSON, palette, csrf, axisSize });
})();
