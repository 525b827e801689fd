package containers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Spec is a container to run for a test. Entrypoint and Cmd are argv lists
// handed to the engine as they are: no shell ever sees them.
type Spec struct {
	TestID     string
	Name       string // the service's name; the container is pitwall-<test>-<name>
	Image      string
	Entrypoint []string // replaces the image's entrypoint when set
	Cmd        []string
	Env        map[string]string
	Network    string // the test's network; the container answers there as Name
	Ports      []int  // container TCP ports, published on 127.0.0.1 at free host ports (needs Network)
	CPUSet     string // e.g. "0-1"
	NanoCPUs   int64  // CPU quota in 1e-9 CPUs
	Memory     int64  // bytes
	ResultsDir string // host directory mounted read-write at /results
}

// Container is a started container.
type Container struct {
	ID    string
	Name  string         // the service's name
	Ports map[int]string // container port -> host address (127.0.0.1:port)
}

// ResultsMount is where Spec.ResultsDir appears inside the container.
const ResultsMount = "/results"

// MaxPids bounds the processes of one container (a fork bomb stops there).
const MaxPids = 4096

func (e *Engine) nameLabels(testID, name string) map[string]string {
	l := e.labels(testID)
	l[LabelName] = name
	return l
}

// Run creates and starts spec's container.
func (e *Engine) Run(ctx context.Context, spec Spec) (Container, error) {
	env := make([]string, 0, len(spec.Env))
	for k, v := range spec.Env {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	if len(spec.Ports) > 0 && spec.Network == "" {
		return Container{}, fmt.Errorf("container %s publishes ports but has no network", spec.Name)
	}
	exposed := network.PortSet{}
	bindings := network.PortMap{}
	for _, p := range spec.Ports {
		port, ok := network.PortFrom(uint16(p), network.TCP)
		if !ok {
			return Container{}, fmt.Errorf("bad port %d", p)
		}
		exposed[port] = struct{}{}
		bindings[port] = []network.PortBinding{{HostIP: netip.MustParseAddr("127.0.0.1")}}
	}
	// A test's containers are untrusted: never privileged, no privilege
	// gained through set-uid files, a bounded number of processes, and
	// nothing of the host but the results directory.
	pids := int64(MaxPids)
	host := &container.HostConfig{
		PortBindings: bindings,
		Resources:    container.Resources{CpusetCpus: spec.CPUSet, NanoCPUs: spec.NanoCPUs, Memory: spec.Memory, PidsLimit: &pids},
		SecurityOpt:  []string{"no-new-privileges"},
	}
	if spec.ResultsDir != "" {
		host.Mounts = []mount.Mount{{Type: mount.TypeBind, Source: spec.ResultsDir, Target: ResultsMount}}
	}
	var netcfg *network.NetworkingConfig
	if spec.Network != "" {
		host.NetworkMode = container.NetworkMode(spec.Network)
		netcfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			spec.Network: {Aliases: []string{spec.Name}}}}
	}
	name := "pitwall-" + spec.TestID + "-" + spec.Name
	res, err := e.c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{
			Image: spec.Image, Entrypoint: spec.Entrypoint, Cmd: spec.Cmd, Env: env,
			ExposedPorts: exposed, Hostname: spec.Name,
			Labels: e.nameLabels(spec.TestID, spec.Name),
		},
		HostConfig: host, NetworkingConfig: netcfg,
	})
	if err != nil {
		return Container{}, fmt.Errorf("create container %s: %w", name, err)
	}
	c := Container{ID: res.ID, Name: spec.Name, Ports: map[int]string{}}
	if _, err := e.c.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		return c, fmt.Errorf("start container %s: %w", name, err)
	}
	in, err := e.c.ContainerInspect(ctx, res.ID, client.ContainerInspectOptions{})
	if err != nil {
		return c, err
	}
	if ns := in.Container.NetworkSettings; ns != nil {
		for port, bs := range ns.Ports {
			for _, b := range bs {
				if b.HostIP.Is4() {
					c.Ports[int(port.Num())] = netip.AddrPortFrom(b.HostIP, mustPort(b.HostPort)).String()
				}
			}
		}
	}
	return c, nil
}

func mustPort(s string) uint16 {
	n, _ := strconv.Atoi(s)
	return uint16(n)
}

// Readiness is how to tell that a service is ready: an HTTP GET of Path on
// Port answering 2xx, or Command (an argv list run inside the container)
// exiting 0.
type Readiness struct {
	Path    string
	Port    int
	Command []string
	Timeout time.Duration
}

// NotReadyError is a service that did not become ready; Logs holds its
// last log lines.
type NotReadyError struct {
	Name  string
	Cause string
	Logs  string
}

func (e *NotReadyError) Error() string {
	return fmt.Sprintf("service %s not ready: %s; its last log lines:\n%s", e.Name, e.Cause, e.Logs)
}

// WaitReady polls c until r holds, the timeout passes or the container
// exits; a failure is a *NotReadyError carrying the last 50 log lines.
func (e *Engine) WaitReady(ctx context.Context, c Container, r Readiness) error {
	if r.Timeout <= 0 {
		r.Timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	cause := "no readiness check passed"
	for {
		var err error
		switch {
		case len(r.Command) > 0:
			err = e.execOK(ctx, c.ID, r.Command)
		case r.Port != 0:
			err = httpOK(ctx, hc, "http://"+c.Ports[r.Port]+r.Path)
		default:
			return nil
		}
		if err == nil {
			return nil
		}
		if ctx.Err() == nil { // keep the last real failure, not the deadline's
			cause = err.Error()
		}
		if in, ierr := e.c.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{}); ierr == nil &&
			in.Container.State != nil && !in.Container.State.Running {
			cause = fmt.Sprintf("container exited with code %d (last check: %s)", in.Container.State.ExitCode, cause)
			break
		}
		select {
		case <-ctx.Done():
			cause = fmt.Sprintf("not ready after %s (last check: %s)", r.Timeout, cause)
		case <-time.After(200 * time.Millisecond):
			continue
		}
		break
	}
	logs, _ := e.Tail(context.Background(), c.ID, 50)
	return &NotReadyError{Name: c.Name, Cause: cause, Logs: logs}
}

func httpOK(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return nil
}

func (e *Engine) execOK(ctx context.Context, id string, argv []string) error {
	ex, err := e.c.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: argv})
	if err != nil {
		return err
	}
	if _, err := e.c.ExecStart(ctx, ex.ID, client.ExecStartOptions{Detach: true}); err != nil {
		return err
	}
	for {
		in, err := e.c.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
		if err != nil {
			return err
		}
		if !in.Running {
			if in.ExitCode != 0 {
				return fmt.Errorf("%s exited with code %d", strings.Join(argv, " "), in.ExitCode)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Tail returns the container's last n lines of stdout and stderr.
func (e *Engine) Tail(ctx context.Context, id string, n int) (string, error) {
	rc, err := e.c.ContainerLogs(ctx, id, client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(n)})
	if err != nil {
		return "", err
	}
	defer rc.Close()
	var sb strings.Builder
	_, err = stdcopy.StdCopy(&sb, &sb, rc)
	return sb.String(), err
}

// Line is one line a container wrote.
type Line struct {
	Container string // the service's name
	Stream    string // "stdout" or "stderr"
	Text      string
}

// Follow calls fn with each line c writes, from its start, until the
// container stops or ctx ends. fn is called from one goroutine at a time.
func (e *Engine) Follow(ctx context.Context, c Container, fn func(Line)) error {
	rc, err := e.c.ContainerLogs(ctx, c.ID, client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Follow: true})
	if err != nil {
		return err
	}
	defer rc.Close()
	var mu sync.Mutex
	var wg sync.WaitGroup
	pipe := func(stream string) *io.PipeWriter {
		pr, pw := io.Pipe()
		wg.Go(func() {
			sc := bufio.NewScanner(pr)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				mu.Lock()
				fn(Line{Container: c.Name, Stream: stream, Text: sc.Text()})
				mu.Unlock()
			}
			_, _ = io.Copy(io.Discard, pr)
		})
		return pw
	}
	out, errw := pipe("stdout"), pipe("stderr")
	_, err = stdcopy.StdCopy(out, errw, rc)
	out.Close()
	errw.Close()
	wg.Wait()
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		return nil
	}
	return err
}

// Wait waits for c to exit and returns its exit code.
func (e *Engine) Wait(ctx context.Context, id string) (int64, error) {
	w := e.c.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case r := <-w.Result:
		if r.Error != nil && r.Error.Message != "" {
			return r.StatusCode, errors.New(r.Error.Message)
		}
		return r.StatusCode, nil
	case err := <-w.Error:
		return -1, err
	}
}

// Stop stops c, killing it after grace.
func (e *Engine) Stop(ctx context.Context, id string, grace time.Duration) error {
	s := int(grace.Seconds())
	_, err := e.c.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &s})
	return err
}
