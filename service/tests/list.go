package tests

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
)

// ParseFilter reads a test listing's filters from query values: framework,
// state, branch, commit (prefix), owner, tag (key or key=value), from, to,
// limit and cursor, and the order: sort (a column of SortColumns) and dir
// (asc, the default, or desc).
func ParseFilter(q url.Values) (store.TestFilter, error) {
	f := store.TestFilter{Framework: q.Get("framework"), State: q.Get("state"), Branch: q.Get("branch"),
		Commit: q.Get("commit"), Owner: q.Get("owner"), Tag: q.Get("tag"), Verdict: q.Get("verdict"), Limit: 50,
		Sort: q.Get("sort")}
	switch d := q.Get("dir"); d {
	case "", "asc":
	case "desc":
		f.Desc = true
	default:
		return f, service.InvalidField("dir", fmt.Sprintf("dir %q is not asc or desc", d))
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			n = -1
		}
		f.Limit = n
	}
	if s := q.Get("cursor"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 || f.Sort != "" && n > maxOffset {
			return f, service.InvalidField("cursor", "cursor is not one this API gave")
		}
		// A sorted listing's cursor is how many rows came before.
		if f.Sort != "" {
			f.Offset = int(n)
		} else {
			f.Before = n
		}
	}
	if err := parseTimes(q, &f.From, &f.To); err != nil {
		return f, err
	}
	return f, checkFilter(f)
}

// SortColumns are the columns a test listing sorts by (sort=).
var SortColumns = func() []string {
	out := make([]string, 0, len(store.TestSortColumns))
	for c := range store.TestSortColumns {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}()

// maxOffset bounds how deep a sorted listing pages.
const maxOffset = 1_000_000

// checkFilter validates a listing's state, verdict, order and limit.
func checkFilter(f store.TestFilter) error {
	if f.Sort != "" && !slices.Contains(SortColumns, f.Sort) {
		return service.InvalidField("sort", fmt.Sprintf("sort %q is not one of %s", f.Sort, strings.Join(SortColumns, ", ")))
	}
	if f.State != "" && !ValidState(f.State) {
		return service.InvalidField("state", fmt.Sprintf("state %q is not one of %s", f.State, strings.Join(States, ", ")))
	}
	if f.Verdict != "" && !slices.Contains(Verdicts, f.Verdict) {
		return service.InvalidField("verdict", fmt.Sprintf("verdict %q is not one of %s", f.Verdict, strings.Join(Verdicts, ", ")))
	}
	if f.Limit < 1 || f.Limit > 500 {
		return service.InvalidField("limit", "limit must be between 1 and 500")
	}
	return nil
}

// parseTimes reads the "from" and "to" query values (RFC 3339 or Unix ms)
// into from and to when given.
func parseTimes(q url.Values, from, to *time.Time) error {
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", from}, {"to", to}} {
		if s := q.Get(p.name); s != "" {
			t, err := parseTime(s)
			if err != nil {
				return service.InvalidField(p.name, p.name+": "+err.Error())
			}
			*p.dst = t
		}
	}
	return nil
}

func parseTime(s string) (time.Time, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("give RFC 3339 time or Unix milliseconds")
	}
	return t, nil
}

// List lists the tests matching f that the principal of ctx may see,
// newest first, with the cursor of the next page.
func (s *Service) List(ctx context.Context, f store.TestFilter) (wire.List[wire.Test], error) {
	if err := checkFilter(f); err != nil {
		return wire.List[wire.Test]{}, err
	}
	f.Teams, f.AllTeams = service.Principal(ctx).ViewableTeams()
	tests, err := s.Store.TestList(ctx, f)
	if err != nil {
		return wire.List[wire.Test]{}, fmt.Errorf("list tests: %w", err)
	}
	out := wire.List[wire.Test]{Items: tests}
	for i := range out.Items {
		s.decorate(&out.Items[i])
	}
	switch {
	case len(tests) < f.Limit:
	case f.Sort != "":
		out.Next = strconv.Itoa(f.Offset + f.Limit)
	default:
		out.Next = strconv.FormatInt(tests[len(tests)-1].ID, 10)
	}
	return out, nil
}

// OfFramework lists the newest tests of a framework of team, at most
// limit, for a principal who may see the team.
func (s *Service) OfFramework(ctx context.Context, team, framework string, limit int) ([]wire.Test, error) {
	team = service.TeamOr(team)
	if !service.MayView(ctx, team) {
		return nil, service.Errorf(service.NotFound, "name", "framework %q not found", framework)
	}
	list, err := s.Store.TestList(ctx, store.TestFilter{Framework: framework, Teams: []string{team}, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("tests of framework %s: %w", framework, err)
	}
	for i := range list {
		s.decorate(&list[i])
	}
	return list, nil
}

// Dashboard is what the front page shows of the tests a principal may see.
type Dashboard struct {
	// Queue are the tests that wait for the scheduler or a host, oldest first.
	Queue []store.DashTest
	// Running are the other tests that have not ended, oldest first.
	Running []store.DashTest
	// Recent are the newest ended tests.
	Recent []store.DashTest
}

// Dashboard loads the active tests and the recent ended ones the
// principal may see, with the verdicts they show.
func (s *Service) Dashboard(ctx context.Context, recent int) (*Dashboard, error) {
	teams, all := service.Principal(ctx).ViewableTeams()
	d, err := s.Store.DashboardGet(ctx, teams, all, recent)
	if err != nil {
		return nil, fmt.Errorf("dashboard tests: %w", err)
	}
	out := &Dashboard{Recent: d.Recent}
	for i := range out.Recent {
		out.Recent[i].Verdict = Verdict(out.Recent[i].State, out.Recent[i].Verdict)
	}
	for _, t := range d.Active {
		switch t.State {
		case wire.StateQueued, wire.StateWaiting:
			out.Queue = append(out.Queue, t)
		default:
			out.Running = append(out.Running, t)
		}
	}
	return out, nil
}

// Verdicts are the verdicts a test may have, for filters.
var Verdicts = []string{wire.VerdictRegressed, wire.VerdictImproved, wire.VerdictUnchanged, wire.VerdictNoBaseline}

// Facets are the framework names and branches of the tests the principal
// may see, for the test list's dropdowns.
func (s *Service) Facets(ctx context.Context) (frameworks, branches []string, err error) {
	teams, all := service.Principal(ctx).ViewableTeams()
	frameworks, branches, err = s.Store.TestFacets(ctx, teams, all)
	if err != nil {
		return nil, nil, fmt.Errorf("list test facets: %w", err)
	}
	return frameworks, branches, nil
}
