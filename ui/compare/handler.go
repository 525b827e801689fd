// Package compare is /compare?ids=1,2: what differs between 2-10 tests
// (parameters and environment first), their KPIs side by side and their
// system metrics overlaid.
package compare

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/ui/api"
	"github.com/pitwall/pitwall/ui/layout"
)

// Handler serves the compare page.
type Handler struct {
	API *api.API
	Log *slog.Logger
}

func (h Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw := strings.Join(r.URL.Query()["ids"], ",")
	if strings.TrimSpace(raw) == "" {
		layout.Render(w, r, http.StatusOK, view(model{}))
		return
	}
	m := model{IDs: raw}
	ids, err := parseIDs(raw)
	if err != nil {
		m.Error = err.Error()
		layout.Render(w, r, http.StatusBadRequest, view(m))
		return
	}
	// The search page's checkboxes send ids=1&ids=2: go to the stable URL.
	if len(r.URL.Query()["ids"]) > 1 {
		canonical := make([]string, len(ids))
		for i, id := range ids {
			canonical[i] = strconv.FormatInt(id, 10)
		}
		http.Redirect(w, r, "/compare?ids="+strings.Join(canonical, ","), http.StatusSeeOther)
		return
	}
	var tests []wire.Test
	for _, id := range ids {
		t, err := h.API.ViewTest(r.Context(), id)
		if errors.Is(err, store.ErrNotFound) {
			m.Error = fmt.Sprintf("test %d not found", id)
			layout.Render(w, r, http.StatusNotFound, view(m))
			return
		}
		if err != nil {
			h.Log.Error("compare", "test", id, "error", err)
			http.Error(w, "could not load the tests", http.StatusInternalServerError)
			return
		}
		tests = append(tests, *t)
	}
	m.Comparison = wire.Compare(tests)
	m.Better = h.directions(r, tests)
	m.Charts = chartData(tests)
	layout.Render(w, r, http.StatusOK, view(m))
}

// parseIDs reads 2-10 comma-separated test IDs, as the API's compare does.
func parseIDs(s string) ([]int64, error) {
	parts := strings.Split(s, ",")
	if len(parts) < 2 || len(parts) > 10 {
		return nil, errors.New("give 2 to 10 test IDs, comma-separated")
	}
	var ids []int64
	for _, p := range parts {
		id, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		if err != nil || id <= 0 {
			return nil, fmt.Errorf("test ID %q is not a positive number", strings.TrimSpace(p))
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// directions says, per KPI name, whether higher or lower is better, from
// the declarations of the tests' framework versions (the first one wins).
func (h Handler) directions(r *http.Request, tests []wire.Test) map[string]string {
	out := map[string]string{}
	seen := map[string]bool{}
	for _, t := range tests {
		key := fmt.Sprintf("%s/%s/%d", t.Team, t.Framework, t.FrameworkVersion)
		if seen[key] {
			continue
		}
		seen[key] = true
		info, err := h.API.Store.FrameworkGetVersion(r.Context(), t.Team, t.Framework, t.FrameworkVersion)
		if err != nil {
			continue // no direction: deltas stay uncoloured
		}
		for _, k := range info.KPIs {
			if _, ok := out[k.Name]; !ok {
				out[k.Name] = k.Better
			}
		}
	}
	return out
}

// chartTest is what compare.js needs to fetch and align a test's samples.
type chartTest struct {
	ID    int64  `json:"id"`
	Label string `json:"label"`
	// StartMS is when the script (or its first warm-up or iteration)
	// started, Unix ms; 0 when unknown (the first sample is used).
	StartMS int64 `json:"start_ms"`
}

func chartData(tests []wire.Test) []chartTest {
	out := make([]chartTest, 0, len(tests))
	for _, t := range tests {
		c := chartTest{ID: t.ID, Label: fmt.Sprintf("#%d", t.ID)}
		for _, s := range t.Timeline {
			if s.Kind == "stage" && strings.HasSuffix(s.Stage, " started") && s.Stage != "monitors started" {
				c.StartMS = s.At.UnixMilli()
				break
			}
		}
		out = append(out, c)
	}
	return out
}

// betterClass colours a delta: "better", "worse" or "" (no change or no direction).
func betterClass(better string, delta *float64) string {
	if delta == nil || *delta == 0 {
		return ""
	}
	switch {
	case better == framework.BetterHigher && *delta > 0, better == framework.BetterLower && *delta < 0:
		return "better"
	case better == framework.BetterHigher || better == framework.BetterLower:
		return "worse"
	}
	return ""
}
