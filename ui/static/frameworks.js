// Framework pages: show only the script field that the chosen kind uses.
// Without this script both fields show and the radio button decides.
(function () {
  "use strict";
  function sync(form) {
    const kind = form.querySelector('input[name="script_kind"]:checked');
    if (!kind) return;
    const inline = kind.value !== "path";
    for (const [id, show] of [["script", inline], ["script_path", !inline]]) {
      const el = form.querySelector("#" + id);
      if (!el) continue;
      el.hidden = !show;
      const label = form.querySelector('label[for="' + id + '"]');
      if (label) label.hidden = !show;
    }
  }
  document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("fw-form");
    if (!form) return;
    sync(form);
    form.addEventListener("change", (e) => {
      if (e.target.name === "script_kind") sync(form);
    });
  });
})();
