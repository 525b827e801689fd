package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"github.com/pitwall/pitwall/internal/changepoint"
	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/testenv"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/migrations"
	"github.com/pitwall/pitwall/ui/server"
	"github.com/pitwall/pitwall/workflows/contract"
)

// yearScale is the scale of the full measure: PITWALL_BENCH_YEAR_SCALE, or
// what a quarter of the free disk under dir holds at about 6 bytes a raw
// sample (raw samples dominate), at most 0.02 (20 tests a day: the seeding
// then takes minutes on 2 cores).
func yearScale(dir string) float64 {
	if v, err := strconv.ParseFloat(os.Getenv("PITWALL_BENCH_YEAR_SCALE"), 64); err == nil && v > 0 {
		return v
	}
	scale := 0.02
	var fs syscall.Statfs_t
	if syscall.Statfs(dir, &fs) == nil {
		free := float64(fs.Bavail) * float64(fs.Bsize)
		y := FullYear
		raw := float64(y.RawDays+1) * float64(y.TestsPerDay) * float64(y.Series*y.Points) * 6
		scale = min(scale, free/4/raw)
	}
	return scale
}

// measureSeededYear seeds a year of the workload (scaled) into the
// suite's database and measures bytes per sample and per test, ingest,
// the pages' server times against the same pages before the seeding,
// change-point detection over the longest KPI history, and the retention
// job's run for the day partition that expires.
func measureSeededYear(ctx context.Context, e *env) []Result {
	y := FullYear.Scaled(yearScale(os.TempDir()))
	if e.Smoke {
		y = YearShape{Days: 40, TestsPerDay: 2, Series: 4, Points: 60, RawDays: 30, LogDays: 35, LogLines: 10, Frameworks: 2}
	}
	scale := float64(y.TestsPerDay) / float64(FullYear.TestsPerDay)
	method := fmt.Sprintf("seeded year at scale %.4g of the issue's workload: %d tests a day (not 1,000) × %d days, %d series × %d points, "+
		"raw samples for %d+1 days, logs %d days (%d lines a test), roll-ups for all; rows generated in SQL; then measured on that database",
		scale, y.TestsPerDay, y.Days, y.Series, y.Points, y.RawDays, y.LogDays, y.LogLines)
	if e.Smoke {
		method = "SMOKE: " + method
	}
	fail := func(err error) []Result { return []Result{failed("year-seed", method, "-", err)} }
	pool, now := e.st.Pool, YearClock(time.Now())
	// The measure runs retention itself: the stack's hourly schedule must
	// not run it in the middle.
	if err := e.st.Temporal.ScheduleClient().GetHandle(ctx, contract.RetentionScheduleID).
		Pause(ctx, client.SchedulePauseOptions{Note: "the seeded-year measure runs retention itself"}); err != nil {
		return fail(fmt.Errorf("pause the retention schedule: %w", err))
	}
	// The pages' "before": a database of its own on the same PostgreSQL
	// server with the same shape of test (raw and rolled up), 5 tests a
	// day for 3 days of one framework, timed beside the year's pages.
	before, err := newBeforeDB(ctx, e)
	if err != nil {
		return fail(fmt.Errorf("the database before the year: %w", err))
	}
	defer before.close()
	small, err := SeedYear(ctx, before.pool, YearShape{Days: 3, TestsPerDay: 5, Series: y.Series, Points: y.Points, RawDays: 0,
		LogDays: 1, LogLines: y.LogLines, Frameworks: 1, Prefix: "bench-empty"}, now, nil)
	if err != nil {
		return fail(err)
	}
	// 15 requests a page left the trends page's ratio between 2.03 and
	// 2.77 from one full run to the next on the same code; 100 take about
	// 10 s more and give a median that holds.
	repeats := e.pick(3, 100)
	pages := func(fw string, oldest, newest int64) map[string]string {
		return map[string]string{
			"dashboard": "/", "test-page": fmt.Sprintf("/tests/%d", newest),
			"test-page-rolled-up": fmt.Sprintf("/tests/%d", oldest),
			"search":              "/tests?framework=" + fw, "compare": fmt.Sprintf("/compare?ids=%d,%d", oldest, newest),
			"trends": "/trends?framework=" + fw + "&kpi=Latency-ms",
		}
	}
	year, err := SeedYear(ctx, pool, y, now, e.Log)
	if err != nil {
		return fail(err)
	}
	e.logf("seeded %d tests, %d raw samples in %s", year.Tests, year.RawSamples, year.Took.Round(time.Second))
	s := store.New(pool)
	// The newest days' tests are rolled up by the job, as every hour.
	t0 := time.Now()
	rolled, err := s.RetentionRollUp(ctx, now.Add(-10*time.Minute), 0)
	if err != nil {
		return fail(err)
	}
	rollTook := time.Since(t0)
	sizes, err := s.RetentionSizesGet(ctx)
	if err != nil {
		return fail(err)
	}
	res := []Result{}
	raw := float64(sizes.Samples) / float64(max(year.RawSamples, 1))
	rollupPer := float64(sizes.Rollups) / float64(year.Tests*int64(y.Series*y.Points))
	steady := float64(sizes.Samples+sizes.Rollups) / float64(y.Samples())
	res = append(res,
		Result{Name: "year-bytes-per-sample", Method: method + "; pg_total_relation_size of sample_chunks (all partitions, TOAST, " +
			"indexes) / raw samples; extra: roll-ups per sample they stand for, and samples + roll-ups of the year / samples the year ingested",
			Ours: Figure{Unit: "B", N: 1, Median: raw, P50: raw, Extra: map[string]float64{
				"rollup B per sample": rollupPer, "year B per ingested sample": steady, "scale": scale,
				"raw samples": float64(year.RawSamples), "tests": float64(year.Tests)}},
			Peer: Figure{Text: "no peer measured"}, Goal: "≤ 2 B/sample after compression", Met: met(steady <= 2)},
		Result{Name: "year-bytes-per-test", Method: method + "; pg_total_relation_size of every table retention manages and " +
			"the tests' own (tests, KPIs, transitions, notes, ingest batches) / tests",
			Ours: Figure{Unit: "kB", N: 1, Median: float64(sizes.Tests) / float64(year.Tests) / 1000,
				P50: float64(sizes.Tests) / float64(year.Tests) / 1000, Extra: map[string]float64{
					"total MB": float64(sizes.Tests) / 1e6, "samples MB": float64(sizes.Samples) / 1e6,
					"rollups MB": float64(sizes.Rollups) / 1e6, "logs MB": float64(sizes.Logs) / 1e6}},
			Peer: Figure{Text: "no peer measured"}, Goal: "reference (no goal)", Met: "n/a"},
		Result{Name: "year-rollup", Method: method + "; RetentionRollUp of the tests with raw samples (10 s and 1 min, mean/min/max)",
			Ours: Figure{Unit: "ms/test", N: rolled, Median: ms(rollTook) / float64(max(rolled, 1)),
				P50: ms(rollTook) / float64(max(rolled, 1))},
			Peer: Figure{Text: "no peer measured"}, Goal: "reference (no goal)", Met: "n/a"},
	)
	res = append(res, yearIngest(ctx, e, pool, method))
	// The dashboard lists the installation's agents: the database before
	// the year gets the suite's, so the two sides differ by the year alone.
	if err := mirrorAgents(ctx, s, store.New(before.pool)); err != nil {
		return append(res, failed("year-seed", method, "-", fmt.Errorf("the agents before the year: %w", err)))
	}
	names := []string{"dashboard", "test-page", "test-page-rolled-up", "search", "compare", "trends"}
	beforeFig, after := timePagesAlternating(ctx, names,
		pageSide{handler: before.handler, token: before.token, pages: pages("bench-empty-01", small.Oldest, small.Newest)},
		pageSide{handler: server.New(server.Deps{Store: s, Log: slog.New(slog.DiscardHandler), Ctx: ctx}), token: e.st.Token,
			pages: pages("bench-year-01", year.Oldest, year.Newest)}, repeats)
	for _, name := range names {
		b, a := beforeFig[name], after[name]
		r := Result{Name: "year-" + name, Method: method + fmt.Sprintf("; GET over loopback HTTP as the site admin, %d repeats "+
			"after a warm-up, each page's request on the year's database and on the database before it alternating (the first of "+
			"the two every other round), so the machine's load weighs on both alike; both served by ui/server.New in the bench's "+
			"process (as cmd/yearpages -http); peer: the same page on a database of its own before any year (one framework of 15 "+
			"tests of the same shape, on the same PostgreSQL server, with the suite's agents copied in)", repeats),
			Ours: a, Peer: b, PeerName: "before the year", Goal: "≤ 2 × before", Met: "n/a"}
		if a.N > 0 && b.N > 0 && b.P50 > 0 {
			r.Ratio = a.P50 / b.P50
			r.Met = met(r.Ratio <= 2)
		}
		res = append(res, r)
	}
	res = append(res, yearChangepoint(ctx, pool, year, method))
	// The retention job: the oldest raw day is past 30 days.
	t0 = time.Now()
	rep, err := s.RetentionRun(ctx, now, store.RetentionOptions{})
	if err != nil {
		return append(res, failed("year-retention", method, "< 1 s for a day's partition", err))
	}
	total := time.Since(t0)
	drop := rep.Took["samples"]
	res = append(res, Result{Name: "year-retention", Method: method + fmt.Sprintf("; store.RetentionRun as of now: partitions "+
		"ahead, roll-up pass, the expired day's sample partition (%d tests) dropped after moving its baselines' rows to the kept "+
		"partition; ours is the samples part, extra the whole run and its parts", y.TestsPerDay),
		Ours: Figure{Unit: "ms", N: 1, Median: ms(drop), P50: ms(drop), Extra: map[string]float64{
			"run ms": ms(total), "partitions ms": ms(rep.Took["partitions"]), "rollup ms": ms(rep.Took["rollup"]),
			"logs ms": ms(rep.Took["logs"]), "rollups ms": ms(rep.Took["rollups"]), "artifacts ms": ms(rep.Took["artifacts"]),
			"dropped": float64(len(rep.PartitionsDropped)), "kept rows": float64(rep.KeptRows)}},
		Peer: Figure{Text: "no peer measured"}, Goal: "< 1 s for a day's partition", Met: met(drop < time.Second && len(rep.PartitionsDropped) > 0)})
	return res
}

// beforeDB is the seeded-year measure's database before the year: its
// own database on the suite's PostgreSQL server (a cluster of its own when
// the suite's user may not create one), migrated, with a site admin, served
// by ui/server.New.
type beforeDB struct {
	pool    *pgxpool.Pool
	handler http.Handler
	token   string
	close   func()
}

func newBeforeDB(ctx context.Context, e *env) (*beforeDB, error) {
	const name = "pitwall_year_before"
	url, drop := "", func() {}
	if u, err := neturl.Parse(e.st.DBURL); err == nil && u.Scheme != "" {
		_, _ = e.st.Pool.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
		if _, err := e.st.Pool.Exec(ctx, `CREATE DATABASE `+name); err == nil {
			u.Path = "/" + name
			url = u.String()
			drop = func() {
				_, _ = e.st.Pool.Exec(context.WithoutCancel(ctx), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
			}
		} else {
			e.logf("create database %s: %v; a PostgreSQL cluster of its own instead", name, err)
		}
	}
	if url == "" {
		var err error
		if url, drop, err = testenv.Postgres(ctx); err != nil {
			return nil, err
		}
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		drop()
		return nil, err
	}
	b := &beforeDB{pool: pool, token: "pwt_year-before-bootstrap-token-0123456789abcdef",
		close: func() { pool.Close(); drop() }}
	log := slog.New(slog.DiscardHandler)
	if err := migrations.Apply(ctx, pool, log); err != nil {
		b.close()
		return nil, err
	}
	st := store.New(pool)
	if _, err := server.Bootstrap(ctx, st, b.token, "year-before admin password", log); err != nil {
		b.close()
		return nil, err
	}
	b.handler = server.New(server.Deps{Store: st, Log: log, Ctx: ctx})
	return b, nil
}

// mirrorAgents registers from's agents in to, with their facts, labels
// and settings, as just seen (online while the pages are timed).
func mirrorAgents(ctx context.Context, from, to *store.Store) error {
	agents, err := from.AgentList(ctx)
	if err != nil {
		return err
	}
	for _, a := range agents {
		if err := to.AgentUpsert(ctx, a.Name, wire.Heartbeat{Labels: a.DeclaredLabels, Facts: a.Facts, Version: a.Version}); err != nil {
			return err
		}
		if len(a.Labels) > 0 || len(a.Teams) > 0 || a.Shared {
			set := wire.AgentSettings{Labels: a.Labels, Teams: a.Teams, Shared: a.Shared}
			if err := to.AgentSettingsSet(ctx, a.Name, set, "bench"); err != nil {
				return err
			}
		}
	}
	return nil
}

// pageSide is one database's server and the addresses of its pages.
type pageSide struct {
	handler http.Handler
	token   string
	pages   map[string]string
}

// timePagesAlternating gets each page repeats times (after a warm-up) on
// both servers over loopback HTTP, the two sides' requests of a page one
// after the other and the first of them alternating round by round, and
// summarises each side's server times: the ratio of the two does not move
// with the machine's load between them (the measure timed them minutes
// apart before).
func timePagesAlternating(ctx context.Context, names []string, before, year pageSide, repeats int) (map[string]Figure, map[string]Figure) {
	sides := [2]pageSide{before, year}
	var urls [2]string
	for i, sd := range sides {
		srv := httptest.NewServer(sd.handler)
		defer srv.Close()
		urls[i] = srv.URL
	}
	client := &http.Client{Timeout: time.Minute}
	get := func(i int, path string) (float64, bool) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, urls[i]+path, nil)
		if err != nil {
			return 0, false
		}
		req.Header.Set("Authorization", "Bearer "+sides[i].token)
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return ms(time.Since(t0)), resp.StatusCode == http.StatusOK
	}
	xs := map[string]*[2][]float64{}
	failed := map[string]bool{}
	for _, name := range names {
		xs[name] = &[2][]float64{}
		for i := range sides { // warm-up
			if _, ok := get(i, sides[i].pages[name]); !ok {
				failed[name] = true
			}
		}
	}
	for r := range repeats {
		for _, name := range names {
			if failed[name] {
				continue
			}
			for k := range 2 {
				i := k
				if r%2 == 1 { // the year first every other round
					i = 1 - k
				}
				d, ok := get(i, sides[i].pages[name])
				if !ok {
					failed[name] = true
					break
				}
				xs[name][i] = append(xs[name][i], d)
			}
		}
	}
	out := [2]map[string]Figure{{}, {}}
	for _, name := range names {
		for i := range sides {
			if failed[name] {
				out[i][name] = Figure{Text: "a request failed"}
				continue
			}
			out[i][name] = summarize("ms", xs[name][i], true)
		}
	}
	return out[0], out[1]
}

// yearIngest times the server's store path of sample ingest
// (store.SampleIngest: batch claim and COPY of chunk rows) at the seeded
// size: batches of one second of the shape's series, as agents send them.
func yearIngest(ctx context.Context, e *env, pool *pgxpool.Pool, method string) Result {
	const name, goal = "year-ingest", "reference (no goal)"
	var id int64
	err := pool.QueryRow(ctx, `INSERT INTO tests (framework_id, framework_version, state, owner)
		SELECT id, 1, 'running', 'bench' FROM frameworks WHERE name = 'bench-year-01' RETURNING id`).Scan(&id)
	if err != nil {
		return failed(name, method, goal, err)
	}
	defer func() {
		_, _ = pool.Exec(context.WithoutCancel(ctx), `DELETE FROM tests WHERE id = $1`, id)
	}()
	s := store.New(pool)
	const series, points = 40, 60
	batches := e.pick(5, 100)
	start := time.Now().UnixMilli()
	t0 := time.Now()
	for b := range batches {
		batch := ingest.Samples{Header: ingest.Header{TestID: id, Host: "bench-host", Batch: "year-" + strconv.Itoa(b)}}
		for k := range series {
			ser := ingest.Series{Metric: fmt.Sprintf("host.m%02d", k), TS: make([]int64, points), Values: make([]float64, points)}
			for i := range points {
				ser.TS[i] = start + int64(b*points+i)*1000
				ser.Values[i] = float64((i*7+k)%100) + 0.25
			}
			batch.Series = append(batch.Series, ser)
		}
		if _, err := s.SampleIngest(ctx, &batch); err != nil {
			return failed(name, method, goal, err)
		}
	}
	rate := float64(batches*series*points) / time.Since(t0).Seconds()
	return Result{Name: name, Method: method + fmt.Sprintf("; store.SampleIngest (the ingest endpoint's database path, no HTTP) "+
		"of %d batches of %d series × %d points into the seeded database, one after another", batches, series, points),
		Ours: Figure{Unit: "samples/s", N: 1, Median: rate, P50: rate}, Peer: Figure{Text: "no peer measured"}, Goal: goal, Met: "n/a"}
}

// yearChangepoint loads the longest KPI history (the first framework's
// Latency-ms over the year) and runs change-point detection over it.
func yearChangepoint(ctx context.Context, pool *pgxpool.Pool, year *SeededYear, method string) Result {
	const name, goal = "year-changepoint", "reference (no goal)"
	t0 := time.Now()
	rows, err := pool.Query(ctx, `SELECT k.value FROM test_kpis k JOIN tests t ON t.id = k.test_id
		WHERE t.framework_id = $1 AND k.name = 'Latency-ms' ORDER BY t.id`, year.Frameworks[0])
	if err != nil {
		return failed(name, method, goal, err)
	}
	xs, err := pgx.CollectRows(rows, pgx.RowTo[float64])
	if err != nil {
		return failed(name, method, goal, err)
	}
	load := time.Since(t0)
	t1 := time.Now()
	found := changepoint.Detect(xs, changepoint.Options{})
	detect := time.Since(t1)
	return Result{Name: name, Method: method + fmt.Sprintf("; the longest KPI history (%d tests of one framework) read from "+
		"test_kpis, then changepoint.Detect over all of it; ours is detection, extra the read", len(xs)),
		Ours: Figure{Unit: "ms", N: 1, Median: ms(detect), P50: ms(detect), Extra: map[string]float64{
			"read ms": ms(load), "runs": float64(len(xs)), "change points": float64(len(found))}},
		Peer: Figure{Text: "no peer measured"}, Goal: goal, Met: "n/a"}
}
