package layout

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/a-h/templ"

	"github.com/pitwall/pitwall/internal/auth"
)

func itoa(n int) string { return strconv.Itoa(n) }

// Time formats a timestamp for pages, to the millisecond.
func Time(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05.000") }

// Number formats a KPI value without needless digits.
func Number(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

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

// Percent formats a signed change in percent.
func Percent(v float64) string { return fmt.Sprintf("%+.2f%%", v) }

// CV formats a fraction as a percentage with two decimals (0.0213 is
// "2.13%"), as noise floors show.
func CV(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) }
