package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pitwall/pitwall/internal/pgcluster"
	"github.com/pitwall/pitwall/internal/reach"
	"github.com/pitwall/pitwall/internal/secret"
	"github.com/pitwall/pitwall/internal/temporaldev"
	"github.com/pitwall/pitwall/workflows/contract"
)

// startPostgres uses PITWALL_DATABASE_URL when set, else starts (and on
// first use creates) a private cluster under .pitwall/postgres.
func (s *stack) startPostgres(ctx context.Context) error {
	url, err := secret.FromEnv("PITWALL_DATABASE_URL", os.Getenv)
	if err != nil {
		return err
	}
	if url != "" {
		s.dbURL = url
		s.say("using the database at PITWALL_DATABASE_URL")
		return nil
	}
	if _, err := pgcluster.BinDir(); errors.Is(err, pgcluster.ErrNoServer) {
		s.say("PostgreSQL server binaries not found; installing Debian's postgresql package")
		if err := pgcluster.Install(ctx, s.out); err != nil {
			return err
		}
	}
	root, err := stateFor(s.opts.dir, "postgres", func(d string) error { return reach.Check(d, "postgres") })
	if err != nil {
		return err
	}
	s.say("starting PostgreSQL (%s, port %d)", root, s.opts.pgPort)
	c, err := pgcluster.Start(ctx, pgcluster.Options{Root: root, Port: s.opts.pgPort, Durable: true})
	if err != nil {
		return err
	}
	if c.Reused {
		s.say("PostgreSQL was already running on %s from an earlier run; using it", root)
	} else {
		s.stopPG = func() { _ = c.Stop() }
	}
	if err := c.CreateDatabase(ctx, "pitwall"); err != nil {
		return fmt.Errorf("create database pitwall: %w", err)
	}
	s.dbURL = c.URL("pitwall")
	return nil
}

// stateFor returns where something of the dev stack that another user
// must reach lives: .pitwall/NAME, unless we run as root and that user
// cannot enter the clone, as with every clone under /root (mode 700). Then
// it lives under /var/lib/pitwall/NAME in a folder named after the clone's
// path (reach.Shared), so the demo works from a clone anywhere without
// opening the clone or the home directory to other users; its path goes
// in .pitwall/NAME-root, for `task clean`. The cluster must be reached by
// the postgres user (PostgreSQL refuses to run as root), the agent's work
// folder by the per-test users its scripts run as; reachable says whether
// they can.
func stateFor(stateDir, name string, reachable func(dir string) error) (string, error) {
	dir := filepath.Join(stateDir, name)
	if os.Geteuid() != 0 || reachable(dir) == nil {
		return dir, nil
	}
	shared, err := reach.Shared(name, filepath.Dir(stateDir))
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(stateDir, name+"-root"), []byte(shared+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("record where %s lives: %w", name, err)
	}
	return shared, nil
}

// startTemporal uses TEMPORAL_ADDRESS when set, else runs Pitwall's
// Temporal server in its dev mode with its history in .pitwall/temporal.sqlite,
// so a restart keeps running workflows. (The Temporal CLI's dev server,
// used before, kept an older schema in .pitwall/temporal.db.)
func (s *stack) startTemporal(ctx context.Context) error {
	if addr := os.Getenv("TEMPORAL_ADDRESS"); addr != "" {
		s.temporalAddr = addr
		s.say("using Temporal at TEMPORAL_ADDRESS (%s)", addr)
		return nil
	}
	if _, err := os.Stat(filepath.Join(s.bin, temporaldev.Binary)); err != nil {
		s.say("building Pitwall's Temporal server (deploy/temporal) into %s; the first time takes a few minutes", s.bin)
	}
	logPath := filepath.Join(s.logs, "temporal-install.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	server, err := temporaldev.Ensure(ctx, s.bin, logf)
	logf.Close()
	if err != nil {
		return fmt.Errorf("%w (see %s)", err, logPath)
	}
	s.temporalAddr = "127.0.0.1:" + strconv.Itoa(s.opts.tempPort)
	for _, port := range []int{s.opts.tempPort, s.opts.tempUIPort} {
		if err := checkFree("127.0.0.1:" + strconv.Itoa(port)); err != nil {
			return fmt.Errorf("port %d for the Temporal dev server: %w (set TEMPORAL_ADDRESS to use a running Temporal)", port, err)
		}
	}
	s.say("starting the Temporal dev server (%s, web UI on port %d)", s.temporalAddr, s.opts.tempUIPort)
	args := temporaldev.DevServer{Port: s.opts.tempPort, UIPort: s.opts.tempUIPort,
		DBFile: filepath.Join(s.opts.dir, "temporal.sqlite"), SearchAttributes: contract.SearchAttributes()}.Args()
	p, err := startProc("temporal", filepath.Join(s.logs, "temporal.log"), os.Environ(), server, args...)
	if err != nil {
		return err
	}
	s.procs = append(s.procs, p)
	if err := temporaldev.WaitReady(ctx, s.temporalAddr, "default", p.Done(), 60*time.Second); err != nil {
		return fmt.Errorf("%w; see %s", err, p.LogPath())
	}
	return nil
}
