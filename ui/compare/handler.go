// Package compare is /compare?ids=1,2: what differs between 2-10 tests
// (parameters and environment first), their KPIs side by side and their
// system metrics overlaid.
package compare

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service/frameworks"
	"github.com/pitwall/pitwall/service/tests"
	"github.com/pitwall/pitwall/ui/httperr"
	"github.com/pitwall/pitwall/ui/layout"
)

// Handler serves the compare page.
type Handler struct {
	Tests      *tests.Service
	Frameworks *frameworks.Service
	Log        *slog.Logger
}

func (h Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("test") {
		h.baseline(w, r)
		return
	}
	raw := strings.Join(r.URL.Query()["ids"], ",")
	if strings.TrimSpace(raw) == "" {
		layout.Render(w, r, http.StatusOK, view(model{}))
		return
	}
	m := model{IDs: raw}
	ids, err := tests.ParseIDs(raw)
	if err != nil {
		m.Error = httperr.Message(err)
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
	list, cmp, err := h.Tests.Compare(r.Context(), ids)
	if err != nil {
		var status int
		status, m.Error = httperr.Explain(h.Log, r, err)
		layout.Render(w, r, status, view(m))
		return
	}
	m.Comparison = cmp
	m.Better = h.Frameworks.Directions(r.Context(), list)
	m.Charts = chartData(list)
	m.Profiles = h.profileDiffs(r, ids)
	layout.Render(w, r, http.StatusOK, view(m))
}

// chartTest is what compare.js needs to fetch and align a test's samples.
type chartTest struct {
	ID    int64  `json:"id"`
	Label string `json:"label"`
	// StartMS is when the script (or its first warm-up or iteration)
	// started, Unix ms; 0 when unknown (the first sample is used).
	StartMS int64 `json:"start_ms"`
	// Bands are the test's interference generators' spans.
	Bands []chartBand `json:"bands"`
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
		c.Bands = interferenceBands(t, c.StartMS)
		out = append(out, c)
	}
	return out
}

// betterClass colours a delta against the reference test: "better" or
// "worse" only when the test's own verdict on the KPI says it improved or
// regressed and the delta points the same way; else "" (neutral: a
// difference within the noise is no news, whichever way it points).
func betterClass(better string, delta *float64, verdict string) string {
	if delta == nil || *delta == 0 {
		return ""
	}
	c := directionClass(better, delta)
	if c == "better" && verdict == "improved" || c == "worse" && verdict == "regressed" {
		return c
	}
	return ""
}

// directionClass is "better" or "worse" by the KPI's direction alone.
func directionClass(better string, delta *float64) string {
	switch {
	case better == framework.BetterHigher && *delta > 0, better == framework.BetterLower && *delta < 0:
		return "better"
	case better == framework.BetterHigher || better == framework.BetterLower:
		return "worse"
	}
	return ""
}

// maxProfileDiffs bounds the tests whose profiles are drawn against the
// first test's.
const maxProfileDiffs = 3

// profileDiffs compares the profiles of up to maxProfileDiffs later tests
// with the first test's.
func (h Handler) profileDiffs(r *http.Request, ids []int64) []tests.ProfileDiff {
	var out []tests.ProfileDiff
	for _, id := range ids[1:min(len(ids), maxProfileDiffs+1)] {
		d, err := h.Tests.ProfileDiffs(r.Context(), ids[0], id)
		if err != nil {
			h.Log.Error("profile differences", "base", ids[0], "test", id, "error", err)
			continue
		}
		out = append(out, d...)
	}
	return out
}

// recentTests is how many tests of the framework the picker offers.
const recentTests = 30

// baseline is GET /compare?test=ID: the test against its baseline, the
// baseline first.
func (h Handler) baseline(w http.ResponseWriter, r *http.Request) {
	m := baselineModel{Raw: r.URL.Query().Get("test")}
	id, err := strconv.ParseInt(strings.TrimSpace(m.Raw), 10, 64)
	if err != nil || id <= 0 {
		m.Error = "test must be a test ID (a positive number)"
		layout.Render(w, r, http.StatusBadRequest, baselineView(m))
		return
	}
	c, err := h.Tests.CompareBaseline(r.Context(), id, recentTests)
	if err != nil {
		var status int
		status, m.Error = httperr.Explain(h.Log, r, err)
		layout.Render(w, r, status, baselineView(m))
		return
	}
	m.C = c
	if c.Newest != nil {
		m.Charts = chartData([]wire.Test{*c.Newest, *c.Test})
		m.Charts[0].Label += " (newest baseline)"
	}
	layout.Render(w, r, http.StatusOK, baselineView(m))
}
