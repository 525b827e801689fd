// Command worker runs Pitwall's Temporal worker: the central role, the agent
// role for one host, or both.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
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
	_ = fs.Parse(os.Args[1:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := workerapp.Run(ctx, cfg, telemetry.Logger(os.Stderr, "worker")); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}
