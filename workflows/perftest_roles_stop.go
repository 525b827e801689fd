package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/pitwall/pitwall/workflows/contract"
)

// Stopping a multi-host test's services and killing its hosts' runs.

// stopServices stops the serve roles' scripts and waits until they end.
func (t *perfTest) stopServices(ctx workflow.Context) {
	gentle := workflow.GetVersion(ctx, versionStopServices, workflow.DefaultVersion, 1) == 1
	for _, h := range t.roles.hosts {
		if h.role.Serve && h.exec != nil && !h.exec.IsReady() {
			if gentle {
				t.stopHost(ctx, h)
			} else {
				t.killHost(ctx, h)
			}
		}
	}
	for _, h := range t.roles.hosts {
		if h.role.Serve && h.exec != nil {
			h.err = h.exec.Get(ctx, &h.run)
			if h.err != nil {
				h.lost = agentGone(h.err)
			}
		}
	}
}

// killHost tells a host to kill the test's scripts, without waiting.
func (t *perfTest) killHost(ctx workflow.Context, h *roleHost) workflow.Future {
	h.killed = true
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	kctx := workflow.WithActivityOptions(dctx, workflow.ActivityOptions{
		TaskQueue: contract.AgentQueue(h.host), ScheduleToCloseTimeout: 10 * time.Second,
	})
	return contract.Kill.Execute(kctx, t.id)
}

// stopHost tells a host to stop the test's scripts and let their
// profilers finish, without waiting.
func (t *perfTest) stopHost(ctx workflow.Context, h *roleHost) workflow.Future {
	h.killed = true
	return contract.StopScripts.Execute(t.agent(ctx, h.host, 30*time.Second, 3), t.id)
}

// killRoles kills the scripts on every host (an abort); the future is
// ready when every host answered.
func (t *perfTest) killRoles(ctx workflow.Context) workflow.Future {
	f, set := workflow.NewFuture(ctx)
	var kills []workflow.Future
	for _, h := range t.roles.hosts {
		if h.setup != nil && !h.lost {
			kills = append(kills, t.killHost(ctx, h))
		}
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	workflow.Go(dctx, func(gctx workflow.Context) {
		for _, k := range kills {
			_ = k.Get(gctx, nil)
		}
		set.Set(nil, nil)
	})
	return f
}
