package containers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/moby/moby/client"
)

// PIDs lists the host PIDs of the processes of testID's container called
// name: its main process and every process in its PID namespace, for
// profilers that watch a service from the host (perf, strace).
func (e *Engine) PIDs(ctx context.Context, testID, name string) ([]int, error) {
	in, err := e.c.ContainerInspect(ctx, "pitwall-"+testID+"-"+name, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", name, err)
	}
	st := in.Container.State
	if st == nil || !st.Running || st.Pid <= 0 {
		return nil, fmt.Errorf("container %s is not running", name)
	}
	return namespacePIDs("/proc", st.Pid)
}

// namespacePIDs lists the processes under proc that share pid's PID
// namespace, pid first.
func namespacePIDs(proc string, pid int) ([]int, error) {
	ns, err := os.Readlink(filepath.Join(proc, strconv.Itoa(pid), "ns", "pid"))
	if err != nil {
		return nil, fmt.Errorf("PID namespace of %d: %w", pid, err)
	}
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil, err
	}
	out := []int{pid}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == pid {
			continue
		}
		if other, err := os.Readlink(filepath.Join(proc, e.Name(), "ns", "pid")); err == nil && other == ns {
			out = append(out, p)
		}
	}
	slices.Sort(out[1:])
	return out, nil
}
