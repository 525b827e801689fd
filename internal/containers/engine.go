// Package containers runs a test's services and load generator in Docker
// through the Engine API: a network per test, images built at a commit,
// containers started with argv lists (never a shell line), readiness checks,
// log streaming, stats sampling, and removal of everything a test created.
package containers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Labels carried by everything Pitwall creates in the engine.
const (
	LabelTest  = "pitwall.test"  // the test's ID, on containers, networks and volumes
	LabelBuilt = "pitwall.built" // "1" on images Pitwall built
	LabelName  = "pitwall.name"  // the service's name inside its test
	LabelAgent = "pitwall.agent" // the agent that created it, when Engine.Owner is set
)

// Engine is a connection to one Docker engine.
type Engine struct {
	c *client.Client
	// Owner, when set, is the agent's name: it labels what the engine
	// creates (LabelAgent), and Sweep then touches only what Owner made, so
	// agents sharing one engine never remove each other's tests.
	Owner string
}

// labels are the labels of what Pitwall creates for testID.
func (e *Engine) labels(testID string) map[string]string {
	l := map[string]string{LabelTest: testID}
	if e.Owner != "" {
		l[LabelAgent] = e.Owner
	}
	return l
}

// Connect opens a client for host ("unix:///path/docker.sock"); an empty host
// means DOCKER_HOST or the default socket. The API version is negotiated, so
// an engine as old as API 1.41 (Debian's docker.io 20.10) answers.
func Connect(ctx context.Context, host string) (*Engine, error) {
	opts := []client.Opt{client.WithAPIVersionNegotiation()}
	if host == "" {
		host = os.Getenv("DOCKER_HOST")
	}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	c, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		c.Close()
		return nil, fmt.Errorf("docker engine at %q: %w", host, err)
	}
	return &Engine{c: c}, nil
}

// EnsureImage pulls ref unless the engine already holds it.
func (e *Engine) EnsureImage(ctx context.Context, ref string) (pulled bool, err error) {
	if ok, err := e.ImageExists(ctx, ref); err != nil || ok {
		return false, err
	}
	res, err := e.c.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return false, fmt.Errorf("pull %s: %w", ref, err)
	}
	if err := res.Wait(ctx); err != nil {
		return false, fmt.Errorf("pull %s: %w", ref, err)
	}
	return true, nil
}

// Version is the engine's version and the API version agreed on, as
// "20.10.24 (API 1.41)"; "" when the engine does not answer.
func (e *Engine) Version() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := e.c.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return ""
	}
	return v.Version + " (API " + e.c.ClientVersion() + ")"
}

// Close releases the client.
func (e *Engine) Close() error { return e.c.Close() }

// Client is the underlying moby client, for what this package does not wrap.
func (e *Engine) Client() *client.Client { return e.c }

// CreateNetwork creates the test's bridge network, named pitwall-<testID>.
func (e *Engine) CreateNetwork(ctx context.Context, testID string) (string, error) {
	name := "pitwall-" + testID
	_, err := e.c.NetworkCreate(ctx, name, client.NetworkCreateOptions{
		Driver: "bridge", Labels: e.labels(testID)})
	if err != nil {
		return "", fmt.Errorf("create network %s: %w", name, err)
	}
	return name, nil
}

// Remove stops and removes every container, network and volume labelled with
// testID. It keeps going past errors and returns them joined.
func (e *Engine) Remove(ctx context.Context, testID string) error {
	f := client.Filters{}.Add("label", LabelTest+"="+testID)
	var errs []error
	cs, err := e.c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	errs = append(errs, err)
	for _, c := range cs.Items {
		_, err := e.c.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove container %s: %w", c.ID[:12], err))
		}
	}
	ns, err := e.c.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	errs = append(errs, err)
	for _, n := range ns.Items {
		if _, err := e.c.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
		}
	}
	vs, err := e.c.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	errs = append(errs, err)
	for _, v := range vs.Items {
		if _, err := e.c.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove volume %s: %w", v.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Kill kills every running container of testID at once (an abort);
// Remove takes them away later.
func (e *Engine) Kill(ctx context.Context, testID string) error {
	f := client.Filters{}.Add("label", LabelTest+"="+testID)
	cs, err := e.c.ContainerList(ctx, client.ContainerListOptions{Filters: f})
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range cs.Items {
		if _, err := e.c.ContainerKill(ctx, c.ID, client.ContainerKillOptions{}); err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
			errs = append(errs, fmt.Errorf("kill container %s: %w", c.ID[:12], err))
		}
	}
	return errors.Join(errs...)
}

// RemoveNamed removes the container of testID called name, if there is one.
func (e *Engine) RemoveNamed(ctx context.Context, testID, name string) error {
	_, err := e.c.ContainerRemove(ctx, "pitwall-"+testID+"-"+name, client.ContainerRemoveOptions{Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return err
	}
	return nil
}

// Sweep removes the resources of every test for which keep returns false
// (with Owner set, only those Owner made): an agent calls it when it
// starts and when a test ends, so a test whose agent was killed leaves
// nothing behind. It returns the tests swept.
func (e *Engine) Sweep(ctx context.Context, keep func(testID string) bool) ([]string, error) {
	f := client.Filters{}.Add("label", LabelTest)
	if e.Owner != "" {
		f = f.Add("label", LabelAgent+"="+e.Owner)
	}
	ids := map[string]bool{}
	cs, err := e.c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, err
	}
	for _, c := range cs.Items {
		ids[c.Labels[LabelTest]] = true
	}
	ns, err := e.c.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return nil, err
	}
	for _, n := range ns.Items {
		ids[n.Labels[LabelTest]] = true
	}
	vs, err := e.c.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		return nil, err
	}
	for _, v := range vs.Items {
		ids[v.Labels[LabelTest]] = true
	}
	var swept []string
	var errs []error
	for id := range ids {
		if id == "" || keep(id) {
			continue
		}
		swept = append(swept, id)
		errs = append(errs, e.Remove(ctx, id))
	}
	return swept, errors.Join(errs...)
}
