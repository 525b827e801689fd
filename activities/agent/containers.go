package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/pitwall/pitwall/internal/containers"
	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/workflows/contract"
)

// LoadName is the load generator's name: its container is
// pitwall-<test>-load and its log lines are load.stdout and load.stderr.
const LoadName = framework.LoadName

// containersErr is a failure of a test's containers that a retry would not
// mend: the test fails with msg as its reason.
func containersErr(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return temporal.NewNonRetryableApplicationError(msg, contract.ErrContainers, errors.New(msg))
}

// ContainersUp readies a test's containers on this host through the Docker
// Engine API: whatever an earlier attempt left is removed, the test gets a
// network of its own, every image is built at the commit (or reused, or
// pulled) with its build log kept as an artifact, and the services start
// in order, each waited for until ready. From then on their output goes to
// the test's log and their stats (and /metrics) to its series, until the
// test's containers are removed.
func (a *Activities) ContainersUp(ctx context.Context, in contract.ContainersUpInput) (*contract.ContainersUpResult, error) {
	defer a.touch(in.TestID)()
	eng := a.Docker
	if eng == nil {
		return nil, containersErr("agent %s has no Docker engine (start it with --docker-host, or install and start docker.io)", a.Host)
	}
	id := strconv.FormatInt(in.TestID, 10)
	a.endSession(in.TestID)
	if err := eng.Remove(ctx, id); err != nil {
		return nil, fmt.Errorf("remove what an earlier attempt left: %w", err)
	}
	stage := &heartbeat{}
	stop := stage.beat(ctx)
	defer stop()
	// The session first: the sweep keeps what a session's test made.
	sess := a.startSession(ctx, in.TestID, in.Interval, in.NoStats)
	netName, err := eng.CreateNetwork(ctx, id)
	if err != nil {
		return nil, err
	}
	res := &contract.ContainersUpResult{}
	images, err := a.images(ctx, in, stage, res)
	if err != nil {
		return nil, err
	}
	netEnv := framework.ServiceEnv(in.Services, framework.NetworkEndpoints(in.Services))
	hostEP := map[string]framework.Endpoint{}
	for _, s := range in.Services {
		stage.set("service " + s.Name)
		env := containerEnv(s.Env, append(append(framework.ParamEnv(frameworkParams(in.Params)), netEnv...),
			"PITWALL_TEST_ID="+id, "PITWALL_FRAMEWORK="+in.Framework))
		ready, ep, err := a.startService(ctx, sess, s, containers.Spec{TestID: id, Name: s.Name, Image: images[s.Name],
			Env: env, Network: netName, Ports: s.Ports, CPUSet: s.Cpuset})
		if err != nil {
			return nil, err
		}
		if ep != nil {
			hostEP[s.Name] = *ep
		}
		res.Services = append(res.Services, ready)
	}
	res.HostEnv = framework.ServiceEnv(in.Services, hostEP)
	return res, nil
}

// images readies every service's image and the load generator's, noting
// each in res; it returns the services' images by name.
func (a *Activities) images(ctx context.Context, in contract.ContainersUpInput, stage *heartbeat, res *contract.ContainersUpResult) (map[string]string, error) {
	images := map[string]string{}
	for _, s := range in.Services {
		stage.set("image of " + s.Name)
		img, err := a.image(ctx, in, s.Name, s.Image, s.Build)
		if err != nil {
			return nil, err
		}
		res.Images = append(res.Images, img)
		images[s.Name] = img.Image
	}
	if in.Load != nil {
		stage.set("image of the load generator")
		img, err := a.image(ctx, in, LoadName, in.Load.Image, in.Load.Build)
		if err != nil {
			return nil, err
		}
		res.Images = append(res.Images, img)
		res.LoadImage = img.Image
	}
	return images, nil
}

// startService starts one service from spec (its memory limit taken from
// s), follows it in the session and waits until it is ready. It returns
// where the host reaches its first port, if it has one.
func (a *Activities) startService(ctx context.Context, sess *session, s framework.Service, spec containers.Spec) (contract.ServiceReady, *framework.Endpoint, error) {
	eng := a.Docker
	ready := contract.ServiceReady{Name: s.Name}
	if s.Memory != "" {
		var err error
		if spec.Memory, err = framework.ParseBytes(s.Memory); err != nil {
			return ready, nil, containersErr("service %s: memory: %v", s.Name, err)
		}
	}
	started := time.Now()
	c, err := eng.Run(ctx, spec)
	if err != nil {
		if c.ID != "" {
			logs, _ := eng.Tail(context.WithoutCancel(ctx), c.ID, 50)
			return ready, nil, containersErr("service %s did not start: %v%s", s.Name, err, lastLines(logs))
		}
		return ready, nil, containersErr("service %s did not start: %v", s.Name, err)
	}
	sess.follow(c)
	var ep *framework.Endpoint
	if len(s.Ports) > 0 {
		ready.Address = c.Ports[s.Ports[0]]
		host, port, err := net.SplitHostPort(ready.Address)
		if err != nil {
			return ready, nil, fmt.Errorf("service %s: published address %q: %w", s.Name, ready.Address, err)
		}
		p, _ := strconv.Atoi(port)
		ep = &framework.Endpoint{Host: host, Port: p}
	}
	if r := s.Ready; r != nil {
		check := containers.Readiness{Path: r.HTTP, Command: r.Command, Timeout: time.Duration(r.Timeout)}
		if r.HTTP != "" {
			check.Port = s.Ports[0]
		}
		if err := eng.WaitReady(ctx, c, check); err != nil {
			var nr *containers.NotReadyError
			if errors.As(err, &nr) {
				return ready, nil, containersErr("service %s never became ready: %s%s", s.Name, nr.Cause, lastLines(nr.Logs))
			}
			return ready, nil, err
		}
	}
	ready.Ready = time.Since(started)
	if s.Metrics != "" && ready.Address != "" {
		sess.scrape(s.Name, "http://"+ready.Address+s.Metrics)
	}
	return ready, ep, nil
}

// containerEnv is a container's environment: its own variables, then
// vars (NAME=value) over them.
func containerEnv(own map[string]string, vars []string) map[string]string {
	env := make(map[string]string, len(own)+len(vars))
	for k, v := range own {
		env[k] = v
	}
	for _, kv := range vars {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}

// lastLines puts a container's last log lines after a reason, at most
// about 2 KiB of them (the reason is one line of the test's page).
func lastLines(logs string) string {
	logs = strings.TrimSpace(logs)
	if logs == "" {
		return " (it wrote nothing)"
	}
	if len(logs) > 2048 {
		logs = "…" + logs[len(logs)-2048:]
	}
	return "; its last log lines:\n" + logs
}

// image readies one image: pulled when named, else built from its
// repository at the ref (the test's commit by default), with the build log
// sent as the artifact build/<name>.log.
func (a *Activities) image(ctx context.Context, in contract.ContainersUpInput, name, image string, b *framework.Build) (contract.ImageReady, error) {
	out := contract.ImageReady{For: name, Image: image}
	start := time.Now()
	if image != "" {
		pulled, err := a.Docker.EnsureImage(ctx, image)
		if err != nil {
			return out, containersErr("image %s for %s: %v", image, name, err)
		}
		out.Pulled, out.Reused, out.Duration = pulled, !pulled, time.Since(start)
		return out, nil
	}
	ref := b.Ref
	if ref == "" {
		ref = in.Commit
	}
	if ref == "" {
		return out, containersErr("%s is built from %s, but the test names no commit and the build no ref", name, b.Repo)
	}
	src := filepath.Join(a.WorkDir, "builds", strconv.FormatInt(in.TestID, 10), name)
	commit, err := checkout(ctx, b.Repo, ref, src)
	if err != nil {
		return out, containersErr("%s: %v", name, err)
	}
	defer os.RemoveAll(src)
	ctxDir := filepath.Join(src, filepath.FromSlash(b.Context))
	if err := inside(src, ctxDir); err != nil {
		return out, containersErr("%s: build context: %v", name, err)
	}
	built, err := a.Docker.Build(ctx, containers.BuildSpec{Repo: repoName(b.Repo), Commit: commit,
		ContextDir: ctxDir, Dockerfile: b.Dockerfile, Args: b.Args})
	out.Image, out.Reused, out.Built, out.Duration = built.Image, built.Reused, !built.Reused, time.Since(start)
	if !built.Reused && a.Ingest != nil {
		out.Log = "build/" + name + ".log"
		text := built.Log
		if err != nil {
			text += "\n" + err.Error() + "\n"
		}
		if serr := a.Ingest.SendArtifact(ctx, in.TestID, a.Host, out.Log, strings.NewReader(text), int64(len(text))); serr != nil {
			a.logger().Warn("build log not kept", "test", in.TestID, "image", built.Image, "error", serr)
			out.Log = ""
		}
	}
	if err != nil {
		return out, containersErr("build of %s at %s failed: %v%s", name, shortCommit(commit), err, lastLines(tailText(built.Log, 20)))
	}
	return out, nil
}

// checkout clones repo into dir and checks ref out, returning the commit's
// full hash. git runs with argv only, no prompt, no system or global
// configuration and no remote helper; a clone runs none of the
// repository's hooks.
func checkout(ctx context.Context, repo, ref, dir string) (string, error) {
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return "", err
	}
	git := gitRunner(ctx)
	if _, err := git("clone", "--quiet", "--no-checkout", "--", repo, dir); err != nil {
		return "", err
	}
	if _, err := git("-C", dir, "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", ref, "--"); err != nil {
		return "", fmt.Errorf("ref %q of %s: %w", ref, repo, err)
	}
	return git("-C", dir, "rev-parse", "HEAD")
}

// gitRunner runs git with argv only, no prompt, no system or global
// configuration, no remote helper and no hook, and returns its output
// trimmed.
func gitRunner(ctx context.Context) func(args ...string) (string, error) {
	return func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-c", "protocol.ext.allow=never", "-c", "core.hooksPath=/dev/null"}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("git %s: %v: %s", args[0], err, strings.TrimSpace(tailText(stderr.String(), 5)))
		}
		return strings.TrimSpace(string(out)), nil
	}
}

// inside refuses a path that leaves root once links are resolved.
func inside(root, p string) error {
	r, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	q, err := filepath.EvalSymlinks(p)
	if err != nil {
		return err
	}
	if q != r && !strings.HasPrefix(q, r+string(filepath.Separator)) {
		return fmt.Errorf("%s leaves the repository", p)
	}
	return nil
}

// repoName is the last element of a repository's path or URL, without
// .git: the name of the images built from it.
func repoName(repo string) string {
	base := strings.TrimSuffix(strings.TrimRight(repo, "/"), "/.git")
	base = base[strings.LastIndexAny(base, "/:")+1:]
	return strings.TrimSuffix(base, ".git")
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// tailText is the last n lines of s.
func tailText(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// RunLoad runs the load-generator container once on the test's network:
// its command with the parameters appended as argv (never a shell line),
// the PITWALL_* variables, the results directory mounted at /results. Its
// output goes to the test's log as load.stdout and load.stderr, its stats
// to the test's series. The timeout stops it; so does Kill. A non-zero
// exit is a result, not an error.
func (a *Activities) RunLoad(ctx context.Context, in contract.RunLoadInput) (*contract.ExecuteResult, error) {
	defer a.touch(in.TestID)()
	eng := a.Docker
	if eng == nil {
		return nil, containersErr("agent %s has no Docker engine", a.Host)
	}
	sess := a.session(in.TestID)
	if sess == nil {
		return nil, containersErr("the test's containers are gone from %s (the agent restarted)", a.Host)
	}
	id := strconv.FormatInt(in.TestID, 10)
	vars := append(framework.ParamEnv(frameworkParams(in.Params)),
		framework.ServiceEnv(in.Services, framework.NetworkEndpoints(in.Services))...)
	vars = append(vars, "PITWALL_TEST_ID="+id, "PITWALL_FRAMEWORK="+in.Framework,
		"PITWALL_RESULTS_DIR="+containers.ResultsMount, "PITWALL_HOST="+a.Host)
	if in.Iteration > 0 {
		vars = append(vars, "PITWALL_ITERATION="+strconv.Itoa(in.Iteration))
	}
	env := containerEnv(in.Load.Env, vars)
	// A load container of an earlier run (or attempt) goes first: the name is the test's.
	_ = eng.RemoveNamed(ctx, id, LoadName)
	res := &contract.ExecuteResult{StartedAt: time.Now()}
	c, err := eng.Run(ctx, containers.Spec{TestID: id, Name: LoadName, Image: in.Image,
		Cmd: framework.LoadArgv(in.Load.Command, in.Args, frameworkParams(in.Params)), Env: env,
		Network: "pitwall-" + id, ResultsDir: in.ResultsDir})
	if err != nil {
		return nil, containersErr("the load generator did not start: %v", err)
	}
	sess.follow(c)
	timeout := in.Timeout
	if timeout <= 0 {
		timeout = framework.DefaultTimeout
	}
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	exited := make(chan struct{})
	var code int64
	var waitErr error
	go func() {
		defer close(exited)
		code, waitErr = eng.Wait(waitCtx, c.ID)
	}()
	beat := time.NewTicker(HeartbeatInterval)
	defer beat.Stop()
	for done := false; !done; {
		select {
		case <-exited:
			done = true
		case <-beat.C:
			activity.RecordHeartbeat(ctx, "load running")
		}
	}
	res.EndedAt = time.Now()
	stopCtx := context.WithoutCancel(ctx)
	switch {
	case ctx.Err() != nil:
		// Cancelled (an abort): stop it now, report nothing.
		_ = eng.Stop(stopCtx, c.ID, 0)
		return nil, ctx.Err()
	case waitCtx.Err() != nil:
		res.TimedOut = true
		_ = eng.Stop(stopCtx, c.ID, killGrace)
		code, _ = eng.Wait(stopCtx, c.ID)
	case waitErr != nil:
		return nil, fmt.Errorf("wait for the load generator: %w", waitErr)
	}
	res.ExitCode = int(code)
	if code == 137 && !res.TimedOut {
		res.Signal = "SIGKILL"
	}
	res.StderrTail, _ = eng.Tail(stopCtx, c.ID, 20)
	return res, nil
}

func frameworkParams(ps []contract.Param) []framework.Param {
	out := make([]framework.Param, len(ps))
	for i, p := range ps {
		out[i] = framework.Param{Name: p.Name, Value: p.Value}
	}
	return out
}

// removeContainers ends the test's session (its last samples and lines go
// out) and removes every container, network and volume of the test.
func (a *Activities) removeContainers(testID int64) error {
	a.endSession(testID)
	if a.Docker == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.Docker.Remove(ctx, strconv.FormatInt(testID, 10)); err != nil {
		return fmt.Errorf("remove the test's containers: %w", err)
	}
	return nil
}

// killContainers kills the test's containers at once (an abort); Cleanup
// removes them later.
func (a *Activities) killContainers(testID int64) {
	if a.Docker == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Docker.Kill(ctx, strconv.FormatInt(testID, 10)); err != nil {
		a.logger().Warn("kill the test's containers", "test", testID, "error", err)
	}
}

// SweepContainers removes what the engine holds of tests this agent runs
// no containers for (with the agent's name as the engine's Owner, only
// what this agent made): at start, everything of an earlier run; later,
// what a test left when its cleanup never came. It also prunes built
// images past the operator's limits. (A function, not a method: see
// Register.)
func SweepContainers(ctx context.Context, a *Activities) {
	if a.Docker == nil {
		return
	}
	swept, err := a.Docker.Sweep(ctx, func(id string) bool {
		n, err := strconv.ParseInt(id, 10, 64)
		return err == nil && a.session(n) != nil
	})
	if len(swept) > 0 {
		a.logger().Warn("removed the containers of tests that no longer run here", "tests", swept)
	}
	if err != nil && ctx.Err() == nil {
		a.logger().Warn("container sweep", "error", err)
	}
	if a.ImageMaxBytes > 0 || a.ImageMaxAge > 0 {
		pruned, err := a.Docker.PruneImages(ctx, a.ImageMaxBytes, a.ImageMaxAge)
		if len(pruned) > 0 {
			a.logger().Info("pruned built images", "images", pruned)
		}
		if err != nil && ctx.Err() == nil {
			a.logger().Warn("image prune", "error", err)
		}
	}
}

// heartbeat heartbeats a long activity with what it is doing.
type heartbeat struct {
	what atomic.Pointer[string]
}

func (h *heartbeat) set(s string) { h.what.Store(&s) }

func (h *heartbeat) beat(ctx context.Context) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(HeartbeatInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if w := h.what.Load(); w != nil {
					activity.RecordHeartbeat(ctx, *w)
				}
			}
		}
	})
	// Stopped, it beats no more: the activity may return at once.
	return func() {
		close(done)
		wg.Wait()
	}
}

// containerLines sends container output lines to the test's log.
func (a *Activities) containerLines(ctx context.Context, testID int64, batch string, lines []ingest.Line) {
	if a.Ingest == nil || len(lines) == 0 {
		return
	}
	if err := a.Ingest.Send(ctx, ingest.LogsPath, ingest.Logs{
		Header: ingest.Header{TestID: testID, Host: a.Host, Batch: batch}, Lines: lines}); err != nil && ctx.Err() == nil {
		a.logger().Warn("container output refused", "test", testID, "error", err)
	}
}
