// Command loadgen is the http-service example's load generator: it sends
// requests to a URL at a constant rate for a while with vegeta and writes
// what it saw to results.csv, Pitwall's "Key, Value" contract.
//
//	loadgen [-target URL] [-path /work] [-rate 100] [-duration 10s] [-out FILE] [-hdr FILE] [-hlog FILE]
//
// With -hdr it also writes every request's latency, in microseconds, as
// one HdrHistogram (base64 V2-compressed, 3 significant figures): a file a
// multi-host test merges exactly across its load hosts. With -hlog it
// writes them as an HdrHistogram log instead, one interval a second as the
// load runs, which a multi-host test can also watch live (abort_above;
// framework-multihost.yaml).
//
// Pitwall appends the framework's parameters as "--rate 100 --duration 20s"
// (execution.args: named), and sets PITWALL_SERVICE_APP_URL and
// PITWALL_RESULTS_DIR, which give -target and -out their defaults.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Exit statuses.
const (
	exitOK      = 0
	exitNoneOK  = 1 // the results were written, but no request succeeded
	exitUsage   = 2
	exitResults = 3 // results.csv could not be written
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

type config struct {
	target, path, out, hdr, hlog string
	rate                         int
	duration, timeout            time.Duration
}

func parse(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	out := "results.csv"
	if dir := getenv("PITWALL_RESULTS_DIR"); dir != "" {
		out = filepath.Join(dir, "results.csv")
	}
	fs.StringVar(&c.target, "target", getenv("PITWALL_SERVICE_APP_URL"), "base URL of the service (default $PITWALL_SERVICE_APP_URL)")
	fs.StringVar(&c.path, "path", "/work", "path requested on the target")
	fs.IntVar(&c.rate, "rate", 100, "requests per second")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long to send requests")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Second, "timeout of one request")
	fs.StringVar(&c.out, "out", out, "where to write results.csv (default $PITWALL_RESULTS_DIR/results.csv)")
	fs.StringVar(&c.hdr, "hdr", "", "also write the latencies (µs) as a base64 HdrHistogram to this file")
	fs.StringVar(&c.hlog, "hlog", "", "also write the latencies (µs) as an HdrHistogram log, an interval a second, to this file")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case c.target == "":
		return c, errors.New("give -target or set PITWALL_SERVICE_APP_URL")
	case !strings.HasPrefix(c.target, "http://") && !strings.HasPrefix(c.target, "https://"):
		return c, fmt.Errorf("target %q is not an http(s) URL", c.target)
	case c.rate < 1 || c.rate > 100000:
		return c, fmt.Errorf("rate %d must be 1-100000", c.rate)
	case c.duration <= 0 || c.duration > 24*time.Hour:
		return c, fmt.Errorf("duration %s must be positive and at most 24h", c.duration)
	}
	return c, nil
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	c, err := parse(args, getenv, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return exitUsage
	}
	url := strings.TrimSuffix(c.target, "/") + c.path
	targeter := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodGet, URL: url})
	attacker := vegeta.NewAttacker(vegeta.Timeout(c.timeout), vegeta.KeepAlive(true))
	fmt.Fprintf(stdout, "loadgen: GET %s at %d/s for %s\n", url, c.rate, c.duration)

	var m vegeta.Metrics
	hist := hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3)
	ilog, err := newIntervalLog(c.hlog)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen: histogram log:", err)
		return exitResults
	}
	for res := range attacker.Attack(targeter, vegeta.Rate{Freq: c.rate, Per: time.Second}, c.duration, "pitwall") {
		m.Add(res)
		us := max(res.Latency.Microseconds(), 1)
		_ = hist.RecordValue(us) // above an hour: not recorded
		ilog.record(us)
	}
	m.Close()
	if err := ilog.close(); err != nil {
		fmt.Fprintln(stderr, "loadgen: histogram log:", err)
		return exitResults
	}
	if c.hdr != "" {
		enc, err := hist.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err == nil {
			err = os.WriteFile(c.hdr, enc, 0o644)
		}
		if err != nil {
			fmt.Fprintln(stderr, "loadgen: write histogram:", err)
			return exitResults
		}
	}

	csv := resultsCSV(&m)
	if err := os.WriteFile(c.out, []byte(csv), 0o644); err != nil {
		fmt.Fprintln(stderr, "loadgen: write results:", err)
		return exitResults
	}
	fmt.Fprint(stdout, csv)
	if m.Requests == 0 || m.Success == 0 {
		fmt.Fprintf(stderr, "loadgen: none of %d requests succeeded; errors: %s\n", m.Requests, strings.Join(firstN(m.Errors, 3), "; "))
		return exitNoneOK
	}
	return exitOK
}

// resultsCSV renders the KPIs with their units in the value, as Pitwall's
// results parser reads them ("12.5ms", "250req/s", "0.5%").
func resultsCSV(m *vegeta.Metrics) string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond)) }
	var b strings.Builder
	b.WriteString("Key, Value\n")
	fmt.Fprintf(&b, "LatencyP50, %s\n", ms(m.Latencies.P50))
	fmt.Fprintf(&b, "LatencyP90, %s\n", ms(m.Latencies.P90))
	fmt.Fprintf(&b, "LatencyP99, %s\n", ms(m.Latencies.P99))
	fmt.Fprintf(&b, "Throughput, %.2freq/s\n", m.Throughput)
	errRate := 100.0
	if m.Requests > 0 {
		errRate = (1 - m.Success) * 100
	}
	fmt.Fprintf(&b, "ErrorRate, %.3f%%\n", errRate)
	fmt.Fprintf(&b, "Requests, %d\n", m.Requests)
	return b.String()
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// intervalLog writes an HdrHistogram log (format 1.3: a start time, the
// legend, then "start,length,max,histogram" lines, times in seconds from
// the start, the max in milliseconds), one interval histogram a second,
// each line written whole as soon as its second is over; nil writes
// nothing. (hdrhistogram-go's own HistogramLogWriter writes milliseconds
// where the format has seconds.)
type intervalLog struct {
	f          *os.File
	h          *hdrhistogram.Histogram
	start, cur time.Time
	err        error
}

func newIntervalLog(path string) (*intervalLog, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	l := &intervalLog{f: f, start: now, cur: now, h: hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3)}
	_, err = fmt.Fprintf(f, "#[Histogram log format version 1.3]\n#[StartTime: %.3f (seconds since epoch), %s]\n"+
		"\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
		float64(now.UnixMilli())/1000, now.UTC().Format(time.RFC3339))
	return l, err
}

// record adds one latency, first writing the interval that has ended.
func (l *intervalLog) record(us int64) {
	if l == nil {
		return
	}
	if time.Since(l.cur) >= time.Second {
		l.flush()
	}
	_ = l.h.RecordValue(us)
}

func (l *intervalLog) flush() {
	now := time.Now()
	if l.h.TotalCount() > 0 && l.err == nil {
		var enc []byte
		enc, l.err = l.h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if l.err == nil {
			_, l.err = fmt.Fprintf(l.f, "%.3f,%.3f,%.3f,%s\n", l.cur.Sub(l.start).Seconds(), now.Sub(l.cur).Seconds(),
				float64(l.h.Max())/1000, enc)
		}
	}
	l.h.Reset()
	l.cur = now
}

func (l *intervalLog) close() error {
	if l == nil {
		return nil
	}
	l.flush()
	if err := l.f.Close(); l.err == nil {
		l.err = err
	}
	return l.err
}
