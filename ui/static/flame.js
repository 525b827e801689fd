// Flame graphs drawn by the server (internal/profiles): a click on a frame
// zooms to it (its callers stay, full width; everything outside it hides),
// a click on the bottom frame zooms out. Frame names are read from each
// frame's title, which the server escaped; nothing here parses HTML.
(function () {
  "use strict";
  var WIDTH = 1200;

  function frames(svg) {
    return Array.prototype.map.call(svg.querySelectorAll("g.fr"), function (g) {
      var title = g.querySelector("title");
      var text = title ? title.textContent : "";
      return {
        g: g,
        x: parseFloat(g.getAttribute("data-x")),
        w: parseFloat(g.getAttribute("data-w")),
        d: parseInt(g.getAttribute("data-d"), 10),
        name: text.split(" — ")[0],
        rect: g.querySelector("rect"),
        label: g.querySelector("text"),
      };
    });
  }

  function fit(name, w) {
    var chars = Math.floor((w - 6) / 7);
    if (chars < 3) return "";
    if (name.length <= chars) return name;
    return name.slice(0, chars - 2) + "..";
  }

  function place(f, x, w) {
    f.rect.setAttribute("x", (x * WIDTH).toFixed(2));
    f.rect.setAttribute("width", (w * WIDTH).toFixed(2));
    var label = fit(f.name, w * WIDTH);
    if (!f.label && label) {
      f.label = document.createElementNS("http://www.w3.org/2000/svg", "text");
      f.label.setAttribute("y", (parseFloat(f.rect.getAttribute("y")) + 12).toString());
      f.g.appendChild(f.label);
    }
    if (f.label) {
      f.label.setAttribute("x", (x * WIDTH + 3).toFixed(2));
      f.label.textContent = label;
    }
  }

  function zoom(all, to) {
    all.forEach(function (f) {
      var inside = f.d >= to.d && f.x >= to.x - 1e-9 && f.x + f.w <= to.x + to.w + 1e-9;
      var above = f.d < to.d && f.x <= to.x + 1e-9 && f.x + f.w >= to.x + to.w - 1e-9;
      if (inside) {
        f.g.style.display = "";
        place(f, (f.x - to.x) / to.w, f.w / to.w);
      } else if (above) {
        f.g.style.display = "";
        place(f, 0, 1);
      } else {
        f.g.style.display = "none";
      }
    });
  }

  function init(svg) {
    var all = frames(svg);
    all.forEach(function (f) {
      f.g.style.cursor = "pointer";
      f.g.addEventListener("click", function () { zoom(all, f); });
    });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("svg.flame"), init);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
