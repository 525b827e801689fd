// Command yearpages times the seeded-year measure's pages on a small and
// a seeded database side by side, alternating request by request, so a
// shared machine's load weighs on both alike (docs/performance.md, "A
// seeded year: the pages"). Two builds (before and after a change) can
// then be run one after the other on the same databases.
//
//	yearpages -mode seed -dir DIR [-scale 0.01]   # PostgreSQL in DIR, seeded; serves until interrupted
//	yearpages -mode time -dir DIR [-rounds 40] [-http] [-only trends,search] [-cpuprofile FILE: samples labelled side=small or side=year]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pitwall/pitwall/bench"
	"github.com/pitwall/pitwall/internal/pgcluster"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/migrations"
	"github.com/pitwall/pitwall/ui/server"
)

// token is the site admin's API token the seed makes in both databases.
const token = "yearpages-site-admin-token-0123456789abcdef"

// pageNames are the pages timed, in order.
var pageNames = []string{"dashboard", "test-page", "test-page-rolled-up", "search", "compare", "trends", "trends-every"}

func main() {
	mode := flag.String("mode", "time", "seed (start and seed the databases, then serve them) or time")
	dir := flag.String("dir", filepath.Join(os.TempDir(), "yearpages"), "the PostgreSQL cluster's directory")
	scale := flag.Float64("scale", 0.01, "the seeded year's scale of the issue's workload (0.01: 10 tests a day)")
	rounds := flag.Int("rounds", 40, "requests of each page on each database")
	overHTTP := flag.Bool("http", false, "over loopback HTTP instead of in-process")
	only := flag.String("only", "", "comma-separated pages: "+strings.Join(pageNames, ", "))
	profile := flag.String("cpuprofile", "", "write a CPU profile of the timing to this file")
	flag.Parse()
	ctx := context.Background()
	var err error
	switch *mode {
	case "seed":
		err = seed(ctx, *dir, *scale)
	case "time":
		names := pageNames
		if *only != "" {
			names = strings.Split(*only, ",")
			for _, n := range names {
				if !slices.Contains(pageNames, n) {
					log.Fatalf("-only: %q is not one of %s", n, strings.Join(pageNames, ", "))
				}
			}
		}
		err = timePages(ctx, *dir, names, *rounds, *overHTTP, *profile)
	default:
		err = fmt.Errorf("-mode is seed or time, not %q", *mode)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// seed starts a cluster in dir with two databases, small (15 tests of
// one framework, the measure's "before") and year (the same, then a year
// at scale), writes their URLs to dir/urls and serves until interrupted.
func seed(ctx context.Context, dir string, scale float64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	c, err := pgcluster.Start(ctx, pgcluster.Options{Root: dir})
	if err != nil {
		return err
	}
	defer func() { _ = c.Stop() }()
	now := bench.YearClock(time.Now())
	y := bench.FullYear.Scaled(scale)
	for _, db := range []string{"small", "year"} {
		if err := c.CreateDatabase(ctx, db); err != nil {
			return err
		}
		pool, err := pgxpool.New(ctx, c.URL(db))
		if err != nil {
			return err
		}
		err = seedOne(ctx, pool, db == "year", y, now)
		pool.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", db, err)
		}
	}
	urls := c.URL("small") + "\n" + c.URL("year") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "urls"), []byte(urls), 0o644); err != nil {
		return err
	}
	fmt.Print("ready (interrupt to stop)\n" + urls)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return nil
}

func seedOne(ctx context.Context, pool *pgxpool.Pool, year bool, y bench.YearShape, now time.Time) error {
	log := slog.New(slog.DiscardHandler)
	if err := migrations.Apply(ctx, pool, log); err != nil {
		return err
	}
	if _, err := server.Bootstrap(ctx, store.New(pool), token, "yearpages admin password", log); err != nil {
		return err
	}
	if _, err := bench.SeedYear(ctx, pool, bench.YearShape{Days: 3, TestsPerDay: 5, Series: y.Series, Points: y.Points,
		LogDays: 1, LogLines: y.LogLines, Frameworks: 1, Prefix: "bench-empty"}, now, nil); err != nil {
		return err
	}
	if year {
		_, err := bench.SeedYear(ctx, pool, y, now, os.Stdout)
		return err
	}
	return nil
}

// target is one database's server and the framework whose pages are timed.
type target struct {
	fw, url          string
	handler          http.Handler
	oldest, newestID int64
}

// timePages times each page on both databases, alternating, and prints
// each page's medians and their ratio.
func timePages(ctx context.Context, dir string, names []string, rounds int, overHTTP bool, profile string) error {
	b, err := os.ReadFile(filepath.Join(dir, "urls"))
	if err != nil {
		return fmt.Errorf("no seeded databases (run -mode seed first): %w", err)
	}
	urls := strings.Fields(string(b))
	if len(urls) != 2 {
		return errors.New(filepath.Join(dir, "urls") + " does not hold two database URLs")
	}
	var ts [2]target
	for i, u := range urls {
		pool, err := pgxpool.New(ctx, u)
		if err != nil {
			return err
		}
		defer pool.Close()
		fw := [2]string{"bench-empty-01", "bench-year-01"}[i]
		t := target{fw: fw, handler: server.New(server.Deps{Store: store.New(pool), Log: slog.New(slog.DiscardHandler)})}
		// Test IDs count down as the seed goes back in time.
		if err := pool.QueryRow(ctx, `SELECT max(t.id), min(t.id) FROM tests t JOIN frameworks f ON f.id = t.framework_id
			WHERE f.name = $1`, fw).Scan(&t.oldest, &t.newestID); err != nil {
			return err
		}
		if overHTTP {
			srv := httptest.NewServer(t.handler)
			defer srv.Close()
			t.url = srv.URL
		}
		ts[i] = t
	}
	client := &http.Client{Timeout: time.Minute}
	get := func(t target, path string) (float64, error) {
		t0 := time.Now()
		var code int
		if overHTTP {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url+path, nil)
			if err != nil {
				return 0, err
			}
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			if err != nil {
				return 0, err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			code = resp.StatusCode
		} else {
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			w := httptest.NewRecorder()
			t.handler.ServeHTTP(w, req)
			code = w.Code
		}
		d := time.Since(t0)
		if code != http.StatusOK {
			return 0, fmt.Errorf("GET %s: %d", path, code)
		}
		return float64(d.Microseconds()) / 1000, nil
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	times := map[string]*[2][]float64{}
	for _, name := range names {
		times[name] = &[2][]float64{}
		for _, t := range ts { // warm-up
			if _, err := get(t, t.path(name)); err != nil {
				return err
			}
		}
	}
	for r := range rounds {
		for _, name := range names {
			for k := range 2 {
				i := k
				if r%2 == 1 { // the year first every other round
					i = 1 - k
				}
				var ms float64
				var err error
				// Labelled, so a profile splits by side: -tagfocus side=year.
				pprof.Do(ctx, pprof.Labels("side", [2]string{"small", "year"}[i]), func(context.Context) {
					ms, err = get(ts[i], ts[i].path(name))
				})
				if err != nil {
					return err
				}
				times[name][i] = append(times[name][i], ms)
			}
		}
	}
	for _, name := range names {
		s, y := median(times[name][0]), median(times[name][1])
		fmt.Printf("%-20s small %7.2f ms  year %7.2f ms  ratio %.2f\n", name, s, y, y/s)
	}
	return nil
}

// path is the page's address for the target's framework: the pages of
// the seeded-year measure (bench/seeded.go), and trends of every KPI.
func (t target) path(name string) string {
	switch name {
	case "dashboard":
		return "/"
	case "test-page":
		return fmt.Sprintf("/tests/%d", t.newestID)
	case "test-page-rolled-up":
		return fmt.Sprintf("/tests/%d", t.oldest)
	case "search":
		return "/tests?framework=" + t.fw
	case "compare":
		return fmt.Sprintf("/compare?ids=%d,%d", t.oldest, t.newestID)
	case "trends":
		return "/trends?framework=" + t.fw + "&kpi=Latency-ms"
	default: // trends-every
		return "/trends?framework=" + t.fw
	}
}

// median is the middle of xs (the mean of the two middle ones).
func median(xs []float64) float64 {
	xs = slices.Sorted(slices.Values(xs))
	n := len(xs)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
