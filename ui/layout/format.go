package layout

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/a-h/templ"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/units"
)

func itoa(n int) string { return strconv.Itoa(n) }

// Time formats a timestamp for pages, to the millisecond.
func Time(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05.000") }

// Number formats a value without a unit: three significant digits, k/M/G
// prefixes, never an exponent (units.Format).
func Number(v float64) string { return units.Format(v, "") }

// Value formats a value in its unit, scaled to a readable prefix
// (units.Format): 1200 with "ns" is "1.2 µs".
func Value(v float64, unit string) string { return units.Format(v, unit) }

// csrf is the session's CSRF token for forms ("" for token callers).
func csrf(ctx context.Context) string {
	if p := auth.From(ctx); p != nil {
		return p.CSRF
	}
	return ""
}

// Render writes a page (or a partial) as HTML with the status.
func Render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = c.Render(r.Context(), w)
}

// ShortSHA shortens a commit to its first ten characters.
func ShortSHA(sha string) string {
	if len(sha) > 10 {
		return sha[:10]
	}
	return sha
}

// Percent formats a signed change in percent (units.Delta): "+51.2%".
func Percent(v float64) string { return units.Delta(v) }

// PValue formats a p-value: three significant digits, and "< 0.001" below
// that (never an exponent).
func PValue(p float64) string {
	if p < 0.001 {
		return "< 0.001"
	}
	return units.Number(p)
}
