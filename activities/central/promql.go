package central

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/promq"
	"github.com/pitwall/pitwall/internal/results"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// PromHost is the host the series of PromQL range queries are stored under.
const PromHost = "prometheus"

// PromQueries runs the framework's PromQL queries over the test's window
// (shrunk by the ramp at each end) against its Prometheus server: instant
// queries at the window's end give KPIs, range queries give series stored
// under the host "prometheus" as prom.<series>[{labels}]. Every query's
// text, window, evaluation time and raw answer are stored with the test.
// A query that fails or gives nothing usable is a note, or, with
// mustHaveData, the test's failure.
func (a *Activities) PromQueries(ctx context.Context, in contract.PromQueriesInput) (*contract.PromQueriesResult, error) {
	plan, err := a.checkPlan(ctx, "querying Prometheus for", in.TestID)
	if err != nil {
		return nil, err
	}
	p := plan.Framework.Prometheus
	res := &contract.PromQueriesResult{Start: in.Start, End: in.End}
	if p == nil {
		return res, nil
	}
	if ramp := time.Duration(p.Ramp); ramp > 0 {
		if in.End.Sub(in.Start) > 2*ramp {
			res.Start, res.End = in.Start.Add(ramp), in.End.Add(-ramp)
		} else {
			res.Notes = append(res.Notes, fmt.Sprintf("prometheus: the window (%s) is not longer than twice the ramp (%s); the whole window was used",
				in.End.Sub(in.Start).Round(time.Millisecond), ramp))
		}
	}
	auth, err := a.promAuth(p)
	if err != nil {
		res.Fail("prometheus: " + err.Error())
		res.Notes = append(res.Notes, "prometheus: "+err.Error())
		return res, nil
	}
	client, err := promq.New(p.URL, auth, time.Duration(p.Timeout))
	if err != nil {
		res.Fail("prometheus: " + err.Error())
		return res, nil
	}
	answers, series := askAll(ctx, client, plan, in.TestID, res)
	if err := a.Store.PromQueriesStore(ctx, in.TestID, answers); err != nil {
		return nil, fmt.Errorf("store the queries of test %d: %w", in.TestID, err)
	}
	if len(series) > 0 {
		b := &ingest.Samples{Header: ingest.Header{TestID: in.TestID, Host: PromHost,
			Batch: fmt.Sprintf("promql-%d", in.End.UnixMilli())}, Series: series}
		if _, err := a.Store.SampleIngest(ctx, b); err != nil {
			return nil, fmt.Errorf("store the series of test %d: %w", in.TestID, err)
		}
	}
	return res, nil
}

// askAll runs each query of the plan's prometheus section over res's
// window. KPIs, notes and the failure go into res; it returns every answer
// and the range queries' series.
func askAll(ctx context.Context, client *promq.Client, plan *store.TestPlan, testID int64, res *contract.PromQueriesResult) ([]wire.PromQuery, []ingest.Series) {
	params := map[string]string{}
	for _, prm := range plan.Params {
		params[prm.Name] = prm.Value
	}
	window := framework.NewPromWindow(res.Start, res.End, testID, plan.Commit, plan.Branch, params)
	units := map[string]string{}
	for _, k := range plan.Framework.KPIs {
		units[k.Name] = k.Unit
	}
	var answers []wire.PromQuery
	var series []ingest.Series
	for _, q := range plan.Framework.Prometheus.Queries {
		text, err := q.Render(window)
		var ans wire.PromQuery
		if err != nil {
			ans = wire.PromQuery{Name: q.Name(), Kind: promq.KindKPI, Query: q.Query, WindowStart: res.Start, WindowEnd: res.End,
				EvaluatedAt: time.Now(), Problem: "the template failed: " + err.Error(), Warnings: []string{}}
		} else {
			ans = client.Run(ctx, q, text, res.Start, res.End)
		}
		answers = append(answers, ans)
		switch {
		case ans.Problem != "":
			note := fmt.Sprintf("prometheus %s %s: %s", ans.Kind, ans.Name, ans.Problem)
			res.Notes = append(res.Notes, note)
			if q.MustHaveData {
				res.Fail(note + " (mustHaveData)")
			}
		case ans.Kind == promq.KindKPI:
			res.KPIs = append(res.KPIs, contract.KPI{Name: q.KPI, Value: *ans.Value, Unit: units[q.KPI],
				Raw: strconv.FormatFloat(*ans.Value, 'g', -1, 64) + units[q.KPI]})
		default:
			got, _ := promq.SeriesFromRaw(ans.Raw)
			for _, s := range got {
				name := "prom." + q.Series + s.Labels
				if len(name) > 200 {
					res.Notes = append(res.Notes, fmt.Sprintf("prometheus series %s: a series name longer than 200 bytes was left out: %.80s…", q.Series, name))
					continue
				}
				series = append(series, ingest.Series{Metric: name, TS: s.TS, Values: s.Values})
			}
		}
	}
	return answers, series
}

// withPromKPIs adds the PromQL KPIs to the test's results as iteration 0
// (the test's own, one value each). A KPI that results.csv reported too
// keeps PromQL's value alone, with a note.
func withPromKPIs(its []store.IterationResults, notes []string, kpis []contract.KPI) ([]store.IterationResults, []string) {
	if len(kpis) == 0 {
		return its, notes
	}
	prom := map[string]bool{}
	for _, k := range kpis {
		prom[k.Name] = true
	}
	replaced := map[string]bool{}
	zero := -1
	for i := range its {
		its[i].KPIs = slices.DeleteFunc(its[i].KPIs, func(k results.KPI) bool {
			if prom[k.Name] {
				replaced[k.Name] = true
			}
			return prom[k.Name]
		})
		if its[i].Iteration == 0 {
			zero = i
		}
	}
	// "No results.csv, so no KPIs" is not true of a test whose KPIs come
	// from PromQL.
	notes = slices.DeleteFunc(notes, func(n string) bool { return n == contract.NoResultsNote })
	for _, name := range slices.Sorted(maps.Keys(replaced)) {
		notes = append(notes, fmt.Sprintf("KPI %s came from results.csv and from a PromQL query: the query's value is kept", name))
	}
	if zero < 0 {
		its = append(its, store.IterationResults{Iteration: 0})
		zero = len(its) - 1
	}
	for _, k := range kpis {
		its[zero].KPIs = append(its[zero].KPIs, results.KPI{Name: k.Name, Value: k.Value, Unit: k.Unit, Raw: k.Raw})
	}
	return its, notes
}

// promAuth reads the secret the section names from SecretsDir.
func (a *Activities) promAuth(p *framework.Prometheus) (promq.Auth, error) {
	name := p.BearerSecret
	if name == "" {
		name = p.BasicSecret
	}
	if name == "" {
		return promq.Auth{}, nil
	}
	if a.SecretsDir == "" {
		return promq.Auth{}, fmt.Errorf("the framework names the secret %q, but the central worker holds no secrets (--secrets-dir)", name)
	}
	b, err := os.ReadFile(filepath.Join(a.SecretsDir, filepath.Base(name)))
	if err != nil {
		return promq.Auth{}, fmt.Errorf("secret %q: %v", name, err)
	}
	v := strings.TrimSpace(string(b))
	if p.BearerSecret != "" {
		return promq.Auth{Bearer: v}, nil
	}
	user, pass, ok := strings.Cut(v, ":")
	if !ok {
		return promq.Auth{}, fmt.Errorf("secret %q must hold user:password", name)
	}
	return promq.Auth{User: user, Password: pass}, nil
}
