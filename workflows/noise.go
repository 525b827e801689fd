package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// NoiseFloor measures a host's noise for a framework (docs/noise.md): it
// leases the host (and the framework's statistics hosts) once for the
// whole series, then runs the same commit Runs times on it, each run a
// test of its own (a child PerfTest pinned to the host and told that its
// hosts are held, marked arm AA so it stays out of baselines, trends,
// change points and alerts). At the end the central activity computes
// each KPI's CV with its interval and whether it jumped against the
// host's earlier measurements, and records them. A failed run fails the
// measurement; the leases are always given back.
func NoiseFloor(ctx workflow.Context, in contract.NoiseInput) error {
	n := &noiseSeries{id: in.ID, values: map[string][]float64{}}
	return n.run(ctx)
}

type noiseSeries struct {
	id   int64
	plan *contract.NoisePlan
	hold
	values map[string][]float64
}

func (n *noiseSeries) run(ctx workflow.Context) error {
	plan, err := contract.NoiseLoad.ExecuteLocal(central(ctx), n.id).Result(ctx)
	if err != nil {
		// Ended as failed, so the host and framework may be measured again.
		in := contract.NoiseEndInput{ID: n.id, State: wire.NoiseFailed, Reason: because("load", err)}
		if endErr := contract.NoiseEnd.ExecuteLocal(central(ctx), in).Get(ctx, nil); endErr != nil {
			workflow.GetLogger(ctx).Warn("record failed noise measurement", "error", endErr)
		}
		return fmt.Errorf("load noise measurement %d: %w", n.id, err)
	}
	n.plan, n.host, n.hosts = plan, plan.Host, plan.Hosts
	state, reason := n.series(ctx)
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	if ctx.Err() != nil {
		state, reason = wire.NoiseCancelled, "cancelled"
	}
	n.release(dctx)
	in := contract.NoiseEndInput{ID: n.id, State: state, Reason: reason}
	if state == wire.NoiseFinished {
		in.Values = n.values
	}
	return contract.NoiseEnd.ExecuteLocal(central(dctx), in).Get(dctx, nil)
}

// series makes the runs; it returns the measurement's ending and why.
func (n *noiseSeries) series(ctx workflow.Context) (string, string) {
	for i := range n.plan.Runs {
		testID, err := contract.NoiseRun.ExecuteLocal(central(ctx), n.id).Result(ctx)
		if err != nil {
			return wire.NoiseFailed, because("create run", err)
		}
		if i == 0 {
			if why := n.acquire(ctx, testID); why != "" {
				return wire.NoiseFailed, why
			}
		}
		if why := n.runOnce(ctx, testID); why != "" {
			return wire.NoiseFailed, why
		}
	}
	return wire.NoiseFinished, fmt.Sprintf("%d runs on %s", n.plan.Runs, n.plan.Host)
}

// runOnce runs one test of the series as a child PerfTest on the held
// host and keeps its KPIs' values.
func (n *noiseSeries) runOnce(ctx workflow.Context, testID int64) string {
	res, err := n.child(ctx, testID)
	if err != nil {
		return fmt.Sprintf("run %d: %s", testID, errorMessage(err))
	}
	if res.State != wire.StateFinished {
		return fmt.Sprintf("run %d %s: %s", testID, res.State, res.Reason)
	}
	got, err := contract.ConfirmValues.ExecuteLocal(central(ctx), testID).Result(ctx)
	if err != nil {
		return because(fmt.Sprintf("read run %d", testID), err)
	}
	for _, k := range n.plan.KPIs {
		v, ok := got.Values[k]
		if !ok {
			return fmt.Sprintf("run %d reported no %s", testID, k)
		}
		n.values[k] = append(n.values[k], v)
	}
	return ""
}
