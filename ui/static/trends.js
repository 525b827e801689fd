// The trends page: the KPI's points over time (click one to open its
// test) with change points as vertical marks, and accepting a change point
// through the API without leaving the page.
(function () {
  "use strict";
  if (!window.Pitwall) return;
  const dataEl = document.getElementById("trend-data");
  const el = document.getElementById("trend-chart");
  if (dataEl && el) {
    const d = JSON.parse(dataEl.textContent);
    Pitwall.chart(el, {
      title: d.title,
      unit: d.unit,
      x: d.x,
      series: [{ label: d.title, values: d.y }].concat(
        (d.outliers || []).some((v) => v != null) ? [{ label: "outliers", values: d.outliers, color: "#b91c1c" }] : []),
      marks: d.marks,
      points: true,
      onClick: (i) => { window.location.href = "/tests/" + d.ids[i]; },
    });
    el.dataset.marks = String(d.marks.length);
  }

  // The plain form posts to the page's route; with JavaScript the API's
  // accept endpoint answers and the row changes in place.
  document.addEventListener("submit", async (e) => {
    const form = e.target;
    if (!form.classList || !form.classList.contains("accept") || e.defaultPrevented) return;
    e.preventDefault();
    const cell = form.closest("td");
    try {
      const cp = await Pitwall.fetchJSON("/api/v1/changepoints/" + form.dataset.cp + "/accept", { method: "POST" });
      cell.textContent = "by " + cp.accepted_by + ", just now";
    } catch (err) {
      const p = document.createElement("span");
      p.className = "error";
      p.textContent = err.message;
      cell.appendChild(p);
    }
  });
})();
