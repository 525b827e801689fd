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
  //   spec.time    x is time (default true); spec.unit labels the y axis
  //   spec.points  draw points (for sparse series such as trends)
  //   spec.onClick (index) called when a point is clicked
  // It sizes itself to el's width and follows resizes; el.dataset.drawn
  // counts the points drawn, for tests.
  // bandColors colour interference bands by kind (hex, for an alpha suffix).
  const bandColors = {
    cpu: "#f59e0b", memory: "#8b5cf6", "memory-bandwidth": "#ec4899",
    io: "#0ea5e9", network: "#14b8a6", other: "#6b7280",
  };

  function chart(el, spec) {
    if (!window.uPlot) { el.textContent = "charts need uPlot"; return null; }
    const marks = spec.marks || [];
    const bands = spec.bands || [];
    const series = [{}].concat(spec.series.map((s, i) => ({
      label: s.label,
      stroke: s.color || palette[i % palette.length],
      width: 1.5,
      spanGaps: false,
      points: { show: !!spec.points, size: 6 },
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
          for (const m of marks) {
            const x = Math.round(u.valToPos(m.x, "x", true));
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
            ctx.strokeStyle = m.color || "#6b7280";
            ctx.setLineDash([4, 3]);
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            ctx.fillStyle = m.color || "#374151";
            ctx.fillText(m.label || "", x + 3, u.bbox.top + 12);
          }
          ctx.restore();
        }],
      },
    };
    // The x range covers the data and the marks; a run too short to have
    // more than one sample still gets a readable window around it.
    const xRange = (u, min, max) => {
      for (const m of marks) {
        if (min == null || m.x < min) min = m.x;
        if (max == null || m.x > max) max = m.x;
      }
      for (const b of bands) {
        if (min == null || b.from < min) min = b.from;
        if (max == null || b.to > max) max = b.to;
      }
      if (min == null || max == null) return [0, 1];
      if (max - min < 1) return [min - 5, max + 5];
      return [min, max];
    };
    const opts = {
      width: Math.max(el.clientWidth, 200),
      height: spec.height || 220,
      title: spec.title,
      scales: { x: { time: spec.time !== false, range: xRange } },
      axes: [{}, { label: spec.unit || "", size: 60 }],
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
    if (window.ResizeObserver) {
      new ResizeObserver(() => u.setSize({ width: Math.max(el.clientWidth, 200), height: opts.height })).observe(el);
    }
    return u;
  }

  window.Pitwall = Object.assign(window.Pitwall || {}, { chart, fetchJSON, palette, csrf });
})();
