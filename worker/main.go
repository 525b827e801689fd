// Command worker runs Pitwall's Temporal worker: the central role, the agent
// role for one host, or both.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"github.com/pitwall/pitwall/internal/supervise"
	"github.com/pitwall/pitwall/internal/telemetry"
	"github.com/pitwall/pitwall/worker/workerapp"
)

func main() {
	// "worker supervise DIR" is the supervisor of one script (see internal/supervise).
	supervise.Dispatch()
	var cfg workerapp.Config
	fs := flag.NewFlagSet("worker", flag.ExitOnError)
	cfg.Flags(fs)
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the worker (pprof) to this file until it stops; for measuring its own cost")
	_ = fs.Parse(os.Args[1:])
	if !cfg.Has(workerapp.RoleCentral) && os.Getenv("GOMAXPROCS") == "" {
		// An agent-only worker waits on timers, pipes and the network: one
		// P spares the scheduler's spinning on its wake-ups across the
		// measured host's cores (GOMAXPROCS in the environment wins). Only
		// the binary does this; stacks that run agents in-process do not.
		runtime.GOMAXPROCS(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "worker: cpuprofile:", err)
			os.Exit(2)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if err := workerapp.Run(ctx, cfg, telemetry.Logger(os.Stderr, "worker")); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}
