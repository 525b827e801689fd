// Command sampler runs Pitwall's /proc sampler (internal/sampler) on its
// own at a fixed interval and writes each sample as a JSON line, so the
// benchmark suite can read its CPU time and RSS from the kernel as it does
// for sysstat's sadc and the Prometheus node exporter.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/pitwall/pitwall/internal/sampler"
)

func main() {
	n := flag.Int("n", 60, "samples to take")
	every := flag.Duration("interval", time.Second, "time between samples")
	out := flag.String("out", os.DevNull, "file the samples are written to")
	flag.Parse()
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	s := sampler.New()
	tick := time.NewTicker(*every)
	defer tick.Stop()
	type line struct {
		TS     int64              `json:"ts"`
		Points map[string]float64 `json:"points"`
	}
	for i := 0; i < *n; i++ {
		if i > 0 {
			<-tick.C
		}
		now := time.Now()
		pts := s.Sample(now, []int{os.Getpid()})
		l := line{TS: now.UnixMilli(), Points: make(map[string]float64, len(pts))}
		for _, p := range pts {
			l.Points[p.Metric] = p.Value
		}
		_ = enc.Encode(l)
		_ = w.Flush()
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
