package layout

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/pitwall/pitwall/internal/auth"
)

// Counts are what the navigation counts for the signed-in principal. A
// page's context carries them, as it carries the principal, and each is
// counted only when a whole page is drawn (not for partials or the API).
type Counts struct {
	// OpenAlerts counts the open alerts the principal of ctx may see:
	// the badge beside Alerts (nil: no badge).
	OpenAlerts func(ctx context.Context) (int, error)
	Log        *slog.Logger
}

type countsKey struct{}

// Middleware gives every request's pages the counts.
func (c Counts) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), countsKey{}, c)))
	})
}

// openAlerts is the navigation's count of open alerts; 0 hides the badge,
// also when counting fails (logged: the page is drawn without it).
func openAlerts(ctx context.Context) int {
	c, _ := ctx.Value(countsKey{}).(Counts)
	if c.OpenAlerts == nil || auth.From(ctx) == nil {
		return 0
	}
	n, err := c.OpenAlerts(ctx)
	if err != nil {
		if c.Log != nil && ctx.Err() == nil {
			c.Log.Warn("count open alerts for the navigation", "err", err)
		}
		return 0
	}
	return n
}
