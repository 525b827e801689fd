// Pitwall.units: the twin of internal/units for the charts. Both print a
// value with its unit scaled to a readable prefix (1200 ns → "1.2 µs",
// 15000000 B → "14.3 MiB", 2212000 → "2.21M"), three significant digits,
// never an exponent; internal/units/testdata/cases.json holds the cases
// both must print alike (e2e TestUnitsJSMatchesGo runs them in Chromium).
(function () {
  "use strict";
  const timeUnits = {
    ns: 1, nanoseconds: 1,
    us: 1e3, "\u00b5s": 1e3, "\u03bcs": 1e3, microseconds: 1e3,
    ms: 1e6, milliseconds: 1e6,
    s: 1e9, sec: 1e9, secs: 1e9, second: 1e9, seconds: 1e9,
  };
  const byteUnits = {
    b: 1, byte: 1, bytes: 1,
    kib: 1024, kb: 1e3, mib: 1048576, mb: 1e6, gib: 1073741824, gb: 1e9,
  };

  // parse splits a unit into its family (count, time, bytes, percent), the
  // factor to the family's base and a per-time suffix ("/s").
  function parse(unit) {
    let u = (unit || "").trim(), per = "";
    const i = u.lastIndexOf("/");
    if (i >= 0) { per = u.slice(i); u = u.slice(0, i).trim(); }
    if (u === "%" || u.toLowerCase() === "percent") return { kind: "percent", factor: 1, per };
    if (Object.prototype.hasOwnProperty.call(timeUnits, u) && per === "") return { kind: "time", factor: timeUnits[u], per: "" };
    const lu = u.toLowerCase();
    if (Object.prototype.hasOwnProperty.call(byteUnits, lu) && u !== "b") return { kind: "bytes", factor: byteUnits[lu], per };
    return { kind: "count", factor: 1, per };
  }

  // number prints v with three significant digits, no exponent, no
  // trailing zeros (as units.Number).
  function number(v) {
    if (!isFinite(v)) return format(v, "");
    const a = Math.abs(v);
    let decimals = 0;
    for (let t = 100; a > 0 && a < t && decimals < 12; t /= 10) decimals++;
    let s = v.toFixed(decimals);
    if (s.indexOf(".") >= 0) s = s.replace(/0+$/, "").replace(/\.$/, "");
    if (s === "-0") s = "0";
    return s;
  }

  function scaled(v, step, names, zero) {
    if (v === 0) return "0" + zero;
    let a = Math.abs(v);
    let i = 0;
    while (i < names.length - 1 && parseFloat(number(a)) >= step) { a /= step; i++; }
    return (v < 0 ? "-" : "") + number(a) + names[i];
  }

  // format is v in unit, scaled to a readable prefix.
  function format(v, unit) {
    if (v == null || Number.isNaN(v)) return "\u2014";
    if (v === Infinity) return "\u221e";
    if (v === -Infinity) return "-\u221e";
    const p = parse(unit);
    switch (p.kind) {
      case "time": return scaled(v * p.factor, 1000, [" ns", " \u00b5s", " ms", " s"], " s");
      case "bytes": return scaled(v * p.factor, 1024, [" B", " KiB", " MiB", " GiB", " TiB", " PiB"], " B") + p.per;
      case "percent": return number(v) + "%" + p.per;
    }
    const s = scaled(v, 1000, ["", "k", "M", "G", "T", "P"], "");
    const name = (unit || "").trim();
    if (p.per !== "" && unit.slice(0, unit.length - p.per.length).trim() === "") return s + p.per;
    return name === "" ? s : s + " " + name;
  }

  // delta prints a signed change in percent, to at most two decimals.
  function delta(pct) {
    const s = number(Math.round(pct * 100) / 100);
    return (s[0] === "-" ? s : "+" + s) + "%";
  }

  // counter reports whether a system series is a cumulative counter (a
  // scraped Prometheus *_total, *_count or *_sum) that charts show as a
  // rate; the agent's own host and container counters arrive as rates.
  function counter(metric) {
    return /\.prom\.[^{]*_(total|count|sum)(\{|$)/.test(metric);
  }

  // metricUnit is the unit of a system series, from its name: the agent's
  // host and container series (cpu.user, mem.used, net.eth0.rx_bytes, …)
  // and scraped Prometheus metrics by their base-unit suffixes. A counter
  // is per second, as it is drawn as a rate.
  function metricUnit(metric) {
    const prom = /\.prom\.([^{]*)/.exec(metric);
    if (prom) {
      const name = prom[1];
      const per = counter(metric) && !/_(count|sum)$/.test(name) ? "/s" : "";
      if (/_bytes(_total)?$/.test(name)) return "B" + per;
      if (/_seconds(_total)?$/.test(name)) return per ? "s/s" : "s";
      return per;
    }
    if (/^cpu\d*\.|\.cpu\.percent$|^proc\.\d+\.cpu$/.test(metric)) return "%";
    if (/^mem\.|\.mem\.bytes$|\.rss$/.test(metric)) return "B";
    if (/_bytes$/.test(metric)) return "B/s";
    if (/_ops$|_packets$|^ctxt$/.test(metric)) return "/s";
    if (/throttled_ms$/.test(metric)) return "ms/s";
    return "";
  }

  // rate turns a counter's samples (ts in ms) into per-second rates; a
  // reset (the counter going down) leaves a gap, not a negative spike.
  function rate(ts, values) {
    const out = new Array(values.length).fill(null);
    for (let i = 1; i < values.length; i++) {
      const dt = (ts[i] - ts[i - 1]) / 1000;
      const dv = values[i] - values[i - 1];
      if (dt > 0 && dv >= 0 && values[i] != null && values[i - 1] != null) out[i] = dv / dt;
    }
    return out;
  }

  window.Pitwall = window.Pitwall || {};
  window.Pitwall.units = { format, number, delta, parse, counter, metricUnit, rate };
})();
