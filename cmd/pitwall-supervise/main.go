// Command pitwall-supervise is a script's supervisor on an agent, and
// nothing else: `pitwall-supervise supervise STATE-DIR`, started by the
// agent for every script and hook (internal/supervise). The worker binary
// can do the same job (`worker supervise STATE-DIR`), but it links
// Temporal, gRPC and the protobuf registries, whose start-up every script
// would wait for: this binary starts in a few milliseconds. An agent uses
// it when it lies beside the worker binary (or is named by --supervisor).
package main

import (
	"fmt"
	"os"

	"github.com/pitwall/pitwall/internal/supervise"
)

func main() {
	supervise.Dispatch()
	fmt.Fprintln(os.Stderr, "usage: pitwall-supervise supervise STATE-DIR (started by a Pitwall agent, not by hand)")
	os.Exit(2)
}
