package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
)

// ParseTestFilter reads a test listing's filters from a query: framework, state,
// branch, commit (prefix), owner, tag (key or key=value), from, to, limit
// and cursor. A bad value is a *Refusal.
func ParseTestFilter(q url.Values) (store.TestFilter, error) {
	f := store.TestFilter{Framework: q.Get("framework"), State: q.Get("state"), Branch: q.Get("branch"),
		Commit: q.Get("commit"), Owner: q.Get("owner"), Tag: q.Get("tag"), Limit: 50}
	if f.State != "" && !validState(f.State) {
		return f, &Refusal{http.StatusBadRequest, fmt.Sprintf("state %q is not one of queued, waiting, setup, running, collating, finished, failed, aborted, timed_out", f.State), "state"}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return f, &Refusal{http.StatusBadRequest, "limit must be between 1 and 500", "limit"}
		}
		f.Limit = n
	}
	if s := q.Get("cursor"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return f, &Refusal{http.StatusBadRequest, "cursor is not one this API gave", "cursor"}
		}
		f.Before = n
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if s := q.Get(p.name); s != "" {
			t, err := parseTime(s)
			if err != nil {
				return f, &Refusal{http.StatusBadRequest, p.name + ": " + err.Error(), p.name}
			}
			*p.dst = t
		}
	}
	return f, nil
}

// ListTests lists the tests matching f that the principal of r may see,
// as the API shows them, with the cursor of the next page.
func (a *API) ListTests(r *http.Request, f store.TestFilter) (wire.List[wire.Test], error) {
	f.Teams, f.AllTeams = principal(r).ViewableTeams()
	tests, err := a.Store.TestList(r.Context(), f)
	if err != nil {
		return wire.List[wire.Test]{}, err
	}
	out := wire.List[wire.Test]{Items: tests}
	for i := range out.Items {
		a.decorate(&out.Items[i])
	}
	if len(tests) == f.Limit {
		out.Next = strconv.FormatInt(tests[len(tests)-1].ID, 10)
	}
	return out, nil
}

// DeleteTest deletes an ended test if the principal of r may (its owner
// and the team's admins); otherwise a *Refusal says why not.
func (a *API) DeleteTest(r *http.Request, id int64) error {
	t, err := a.ViewTest(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return &Refusal{http.StatusNotFound, fmt.Sprintf("test %d not found", id), "id"}
	}
	if err != nil {
		return err
	}
	if !principal(r).CanModify(t.Team, t.Owner) {
		return &Refusal{http.StatusForbidden, "not allowed: only the test's owner and the team's admins delete it", ""}
	}
	if !wire.Ended(t.State) {
		return &Refusal{http.StatusConflict, fmt.Sprintf("test %d is %s; abort it before deleting it", id, t.State), "id"}
	}
	if err := a.Store.TestDelete(r.Context(), id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	a.Log.Info("test deleted", "test", id)
	a.audit(r, "test deleted", t.Team, fmt.Sprintf("test %d", id), "")
	return nil
}

// MayAcceptChangePoint reports whether p may accept change points of team.
func MayAcceptChangePoint(p *auth.Principal, team string) bool { return p.Can(team, auth.Admin) }

// AcceptChangePoint marks a change as intended if the principal of r may
// (the team's admins); otherwise a *Refusal says why not.
func (a *API) AcceptChangePoint(r *http.Request, id int64) (*store.ChangePoint, error) {
	cp, err := a.Store.ChangePointGet(r.Context(), id)
	p := principal(r)
	if errors.Is(err, store.ErrNotFound) || err == nil && !p.Can(cp.Team, auth.Viewer) {
		return nil, &Refusal{http.StatusNotFound, "no such change point", "id"}
	}
	if err != nil {
		return nil, err
	}
	if !MayAcceptChangePoint(p, cp.Team) {
		return nil, &Refusal{http.StatusForbidden, "not allowed: only the team's admins accept a change as intended", ""}
	}
	if err := a.Store.ChangePointAccept(r.Context(), id, p.Name); err != nil {
		return nil, err
	}
	a.audit(r, "change accepted", cp.Team, fmt.Sprintf("%s %s at test %d", cp.Framework, cp.KPI, cp.TestID), fmt.Sprintf("%+.2f%%", cp.DeltaPct))
	return a.Store.ChangePointGet(r.Context(), id)
}
