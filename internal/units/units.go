// Package units formats measured values for people: a value with its unit,
// scaled to a readable prefix (1234 ns → "1.23 µs", 15000000 bytes →
// "14.3 MiB", 2212000 → "2.21M") with at most three significant digits and
// never in exponent notation. ui/static/units.js is its twin for the
// charts; testdata/cases.json holds the cases both must agree on.
package units

import (
	"math"
	"strconv"
	"strings"
)

// Kind is the family a unit belongs to, which decides its prefixes.
type Kind int

// The unit families.
const (
	// Count is a plain number or an unknown unit: SI prefixes k, M, G, T.
	Count Kind = iota
	// Time is a duration: ns, µs, ms, s.
	Time
	// Bytes is a size: B, KiB, MiB, GiB, TiB (powers of 1024).
	Bytes
	// Percent is a share in percent, shown as is.
	Percent
)

// timeUnits are the nanoseconds in each time unit a value may be given in.
var timeUnits = map[string]float64{
	"ns": 1, "nanoseconds": 1,
	"us": 1e3, "µs": 1e3, "μs": 1e3, "microseconds": 1e3,
	"ms": 1e6, "milliseconds": 1e6,
	"s": 1e9, "sec": 1e9, "secs": 1e9, "second": 1e9, "seconds": 1e9,
}

// byteUnits are the bytes in each size unit a value may be given in.
var byteUnits = map[string]float64{
	"b": 1, "byte": 1, "bytes": 1,
	"kib": 1 << 10, "kb": 1e3, "mib": 1 << 20, "mb": 1e6, "gib": 1 << 30, "gb": 1e9,
}

// Parse splits a unit into its family, the factor that brings a value to
// the family's base (nanoseconds, bytes) and a per-time suffix ("/s" of
// "B/s"). An unknown unit is a Count with factor 1.
func Parse(unit string) (kind Kind, factor float64, per string) {
	u := strings.TrimSpace(unit)
	if i := strings.LastIndex(u, "/"); i >= 0 {
		u, per = strings.TrimSpace(u[:i]), u[i:]
	}
	if u == "%" || strings.EqualFold(u, "percent") {
		return Percent, 1, per
	}
	if f, ok := timeUnits[u]; ok && per == "" {
		return Time, f, ""
	}
	if f, ok := byteUnits[strings.ToLower(u)]; ok && u != "b" {
		return Bytes, f, per
	}
	return Count, 1, per
}

// Format is v in unit, scaled to a readable prefix.
func Format(v float64, unit string) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case math.IsInf(v, 1):
		return "∞"
	case math.IsInf(v, -1):
		return "-∞"
	}
	kind, factor, per := Parse(unit)
	switch kind {
	case Time:
		return scaled(v*factor, 1000, []string{" ns", " µs", " ms", " s"}, " s")
	case Bytes:
		return scaled(v*factor, 1024, []string{" B", " KiB", " MiB", " GiB", " TiB", " PiB"}, " B") + per
	case Percent:
		return Number(v) + "%" + per
	}
	s := scaled(v, 1000, []string{"", "k", "M", "G", "T", "P"}, "")
	name := strings.TrimSpace(unit)
	if per != "" && strings.TrimSpace(unit[:len(unit)-len(per)]) == "" {
		return s + per
	}
	if name == "" {
		return s
	}
	return s + " " + name
}

// scaled picks the prefix of v (given in the unit of names[0]) that puts
// it in [1, step), the smallest prefix below 1 and the largest above, and
// prints it with three significant digits; zero is "0"+zero.
func scaled(v float64, step float64, names []string, zero string) string {
	if v == 0 {
		return "0" + zero
	}
	a := math.Abs(v)
	i := 0
	for i < len(names)-1 && round3(a) >= step {
		a /= step
		i++
	}
	s := Number(a)
	if v < 0 {
		s = "-" + s
	}
	return s + names[i]
}

// round3 is a rounded to the digits Number prints.
func round3(a float64) float64 {
	f, _ := strconv.ParseFloat(Number(a), 64)
	return f
}

// Number prints v with three significant digits (all of its integer
// digits when it has more), without exponent or trailing zeros:
// 1234.5 → "1235", 12.345 → "12.3", 0.00057735 → "0.000577".
func Number(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Format(v, "")
	}
	a := math.Abs(v)
	decimals := 0
	// Repeated division rather than a logarithm, so that the JavaScript
	// twin makes the very same floating-point steps.
	for t := 100.0; a > 0 && a < t && decimals < 12; t /= 10 {
		decimals++
	}
	// Ties round away from zero, as JavaScript's toFixed does (Go's
	// FormatFloat would round 120.5 to the even 120).
	p := math.Pow10(decimals)
	s := strconv.FormatFloat(math.Round(v*p)/p, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// Delta prints a signed change in percent, to at most two decimals:
// "+51.2%", "-0.35%", "+0%".
func Delta(pct float64) string {
	s := Number(math.Round(pct*100) / 100)
	if !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s + "%"
}
