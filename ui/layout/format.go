package layout

import (
	"context"
	"strconv"
	"time"

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
