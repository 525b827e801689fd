// Dashboard and account pages: a Copy button for a token shown once.
// Without JavaScript the button stays hidden and the token is selectable.
(function () {
  "use strict";
  const show = () => document.querySelectorAll("button[data-copy]").forEach((b) => { b.hidden = false; });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", show);
  else show();

  document.addEventListener("click", async (e) => {
    const btn = e.target.closest && e.target.closest("button[data-copy]");
    if (!btn) return;
    const el = document.getElementById(btn.dataset.copy);
    if (!el) return;
    try {
      await navigator.clipboard.writeText(el.textContent);
      btn.textContent = "Copied";
    } catch (_) {
      // No clipboard access (plain HTTP): select it for Ctrl+C instead.
      const range = document.createRange();
      range.selectNodeContents(el);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      btn.textContent = "Selected: press Ctrl+C";
    }
  });
})();
