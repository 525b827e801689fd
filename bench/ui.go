package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
)

// uiBench is one page the UI measure times: the Go benchmark in
// e2e/ that measures it, and the URL the in-process fallback gets.
type uiBench struct {
	name, bench, goal string
	bound             float64 // ms; 0: no goal
}

var uiBenches = []uiBench{
	{"ui-test-page", "BenchmarkTestPage", "≤ 200 ms", 200},
	{"ui-dashboard", "BenchmarkDashboard/site-admin", "≤ 50 ms", 50},
	{"ui-dashboard-viewer", "BenchmarkDashboard/viewer-of-small-team", "≤ 50 ms", 50},
	{"ui-series-api", "BenchmarkSeriesAPI", "reference (no goal)", 0},
}

// benchLine matches a `go test -bench` result line; a sub-benchmark is
// named Benchmark/sub, without the GOMAXPROCS suffix.
var benchLine = regexp.MustCompile(`^(Benchmark[A-Za-z0-9_]+(?:/\S+?)?)(?:-\d+)?\s+(\d+)\s+(.*)$`)

// goBenchFigures parses `go test -bench` output: per benchmark, the
// iteration count and every "value unit" pair (ns/op, p50-ms, ...).
func goBenchFigures(out []byte) map[string]map[string]float64 {
	res := map[string]map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		figs := map[string]float64{}
		figs["iterations"], _ = strconv.ParseFloat(m[2], 64)
		f := strings.Fields(m[3])
		for i := 0; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				figs[f[i+1]] = v
			}
		}
		res[m[1]] = figs
	}
	return res
}

// measureUI runs the UI's Go benchmarks in e2e/ (40 series ×
// 3,600 points on the test page, 10,000 tests on the dashboard) and reads
// their ns/op; a benchmark not written yet shows as not available. The
// smoke run times the same pages in-process on the suite's own stack with
// smaller data instead (compiling the e2e package takes too long for it).
func measureUI(ctx context.Context, e *env) []Result {
	if e.Smoke {
		return uiInProcess(ctx, e)
	}
	method := "go test -run '^$' -bench 'TestPage|Dashboard|SeriesAPI' ./e2e/ (the e2e package's own in-process stack); " +
		"server time per request as the benchmark reports it: its p50-ms/p99-ms when it reports them, else ns/op"
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-run", "^$", "-bench", "TestPage|Dashboard|SeriesAPI", "./e2e/")
	cmd.Dir = e.Root
	out, err := cmd.CombinedOutput()
	figs := goBenchFigures(out)
	var res []Result
	for _, b := range uiBenches {
		r := Result{Name: b.name, Method: method, Goal: b.goal, Peer: Figure{Text: "no peer measured"}, Met: "n/a"}
		f, ok := figs[b.bench]
		switch {
		case ok:
			r.Ours = benchFigure(f)
			if b.bound > 0 {
				r.Met = met(r.Ours.P50 <= b.bound)
			}
		case err != nil && len(figs) == 0:
			r.Ours = Figure{Text: "not available: go test failed: " + lastLine(out)}
		default:
			r.Ours = Figure{Text: "not available: " + b.bench + " does not exist yet in e2e/"}
		}
		res = append(res, r)
	}
	return res
}

// benchFigure turns a benchmark's figures into ours: p50/p99 when the
// benchmark reports them, else ns/op as the median.
func benchFigure(f map[string]float64) Figure {
	fig := Figure{Unit: "ms", N: int(f["iterations"]), Extra: map[string]float64{"ns/op ms": f["ns/op"] / 1e6}}
	if p50, ok := f["p50-ms"]; ok {
		fig.Percentiles, fig.P50, fig.Median, fig.P99 = true, p50, p50, f["p99-ms"]
		return fig
	}
	fig.Median, fig.P50 = f["ns/op"]/1e6, f["ns/op"]/1e6
	return fig
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// uiInProcess times the test page, the dashboard and the series API over
// HTTP on the suite's own stack (smoke mode).
func uiInProcess(ctx context.Context, e *env) []Result {
	const series, points, repeats = 40, 360, 5
	method := fmt.Sprintf("SMOKE: in-process on the suite's stack, not the e2e benchmarks: GET over real HTTP as the admin, %d repeats, "+
		"for a test with %d series × %d points (not 3,600) and the dashboard with the tests this run created (not 10,000)",
		repeats, series, points)
	fw := "bench-ui"
	var res []Result
	fail := func(err error) []Result {
		for _, b := range uiBenches {
			res = append(res, failed(b.name, method, b.goal, err))
		}
		return res
	}
	if _, err := e.st.Framework(ctx, "name: "+fw+"\nexecution:\n  script: \"#!/bin/sh\\n\"\n  labels: {pool: bench}\n"); err != nil {
		return fail(err)
	}
	t, err := e.st.Submit(ctx, wire.RunRequest{Framework: fw})
	if err == nil {
		t, err = e.st.Await(ctx, t.ID, 2*time.Minute, stack.Ended)
	}
	if err != nil {
		return fail(err)
	}
	start := time.Now().Add(-time.Hour).UnixMilli()
	batch := ingest.Samples{Header: ingest.Header{TestID: t.ID, Host: "bench-host", Batch: "bench-ui"}}
	for s := range series {
		ser := ingest.Series{Metric: fmt.Sprintf("bench.metric%02d", s)}
		for i := range points {
			ser.TS = append(ser.TS, start+int64(i)*1000)
			ser.Values = append(ser.Values, float64((i*7+s)%100))
		}
		batch.Series = append(batch.Series, ser)
	}
	if _, err := store.New(e.st.Pool).SampleIngest(ctx, &batch); err != nil {
		return fail(err)
	}
	paths := map[string]string{
		"ui-test-page":  fmt.Sprintf("/tests/%d", t.ID),
		"ui-dashboard":  "/",
		"ui-series-api": fmt.Sprintf("/api/v1/tests/%d/series?host=bench-host", t.ID),
	}
	for _, b := range uiBenches {
		if paths[b.name] == "" {
			continue // a viewer's dashboard needs the full run's seeded teams
		}
		r := Result{Name: b.name, Method: method, Goal: b.goal, Peer: Figure{Text: "no peer measured"}, Met: "n/a"}
		var took []float64
		for range repeats {
			t0 := time.Now()
			code, n, err := getPage(ctx, e.st.URL+paths[b.name], e.st.Token)
			if err == nil && (code != http.StatusOK || n == 0) {
				err = fmt.Errorf("GET %s: status %d, %d bytes", paths[b.name], code, n)
			}
			if err != nil {
				r.Ours, r.Error = Figure{Text: "not available"}, err.Error()
				break
			}
			took = append(took, ms(time.Since(t0)))
		}
		if r.Error == "" {
			r.Ours = summarize("ms", took, true)
		}
		res = append(res, r)
	}
	return res
}

func getPage(ctx context.Context, url, token string) (int, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, n, err
}
