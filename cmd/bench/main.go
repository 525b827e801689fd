// Command bench runs Pitwall's benchmark suite (bench): it starts
// what it needs in-process, measures, prints one table and writes it as
// JSON under --out (<UTC timestamp>.json and latest.json).
//
//	go tool task bench                   # full run
//	go tool task bench -- --smoke        # a few seconds, every measure
//	go tool task bench -- --only ingest  # one measure (repeatable, or comma-separated)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/pitwall/pitwall/bench"
	"github.com/pitwall/pitwall/internal/supervise"
)

func main() {
	// The in-process agents start this binary as their scripts' supervisor.
	supervise.Dispatch()
	var o bench.Options
	flag.IntVar(&o.ThroughputTests, "throughput-tests", 0, "tests per round of the throughput measure (0: 500, or 12 with --smoke)")
	flag.BoolVar(&o.Smoke, "smoke", false, "short run: every measure once, small sizes (figures are not representative)")
	flag.Func("only", "run only this measure (repeatable or comma-separated): "+strings.Join(bench.Measures(), ", "), func(s string) error {
		o.Only = append(o.Only, strings.Split(s, ",")...)
		return nil
	})
	out := flag.String("out", "bench/results", "directory for <UTC timestamp>.json, latest.json and latest.md")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (stack included) to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	o.Log = os.Stderr
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	o.Root = wd
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := bench.Run(ctx, o)
	if err != nil && rep == nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	rep.PrintTable(os.Stdout)
	path, werr := rep.Write(*out)
	if werr != nil {
		fmt.Fprintln(os.Stderr, "bench:", werr)
		os.Exit(1)
	}
	fmt.Printf("\nwritten: %s\n", path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
