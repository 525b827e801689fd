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
	"github.com/pitwall/pitwall/internal/temporalcli"
)

// startPostgres uses PITWALL_DATABASE_URL when set, else starts (and on
// first use creates) a private cluster under .pitwall/postgres.
func (s *stack) startPostgres(ctx context.Context) error {
	if url := os.Getenv("PITWALL_DATABASE_URL"); url != "" {
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
	root, err := pgRoot(s.opts.dir)
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

// pgRoot is where the private cluster lives: .pitwall/postgres, unless we
// run as root and the postgres user (which PostgreSQL must run as, since it
// refuses root) cannot enter the clone, as with every clone under /root
// (mode 700). Then it lives under /var/lib/pitwall/postgres in a folder
// named after the clone's path, so the demo works from a clone anywhere
// without opening the clone or the home directory to other users. Its path
// goes in .pitwall/postgres-root, for `task clean`.
func pgRoot(stateDir string) (string, error) {
	root := filepath.Join(stateDir, "postgres")
	if pgcluster.Reachable(root) == nil {
		return root, nil
	}
	shared, err := pgcluster.SharedRoot(root)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(stateDir, "postgres-root"), []byte(shared+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("record where the cluster lives: %w", err)
	}
	return shared, nil
}

// startTemporal uses TEMPORAL_ADDRESS when set, else runs the Temporal CLI's
// dev server with its history in .pitwall/temporal.db, so a restart keeps
// running workflows.
func (s *stack) startTemporal(ctx context.Context) error {
	if addr := os.Getenv("TEMPORAL_ADDRESS"); addr != "" {
		s.temporalAddr = addr
		s.say("using Temporal at TEMPORAL_ADDRESS (%s)", addr)
		return nil
	}
	if _, err := os.Stat(filepath.Join(s.bin, "temporal")); err != nil {
		s.say("building the Temporal CLI (%s) into %s; the first time takes a few minutes", temporalcli.Module, s.bin)
	}
	logPath := filepath.Join(s.logs, "temporal-install.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cli, err := temporalcli.Ensure(ctx, s.bin, logf)
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
	args := temporalcli.DevServer{Port: s.opts.tempPort, UIPort: s.opts.tempUIPort,
		DBFile: filepath.Join(s.opts.dir, "temporal.db")}.Args()
	p, err := startProc("temporal", filepath.Join(s.logs, "temporal.log"), os.Environ(), cli, args...)
	if err != nil {
		return err
	}
	s.procs = append(s.procs, p)
	if err := temporalcli.WaitReady(ctx, s.temporalAddr, "default", p.Done(), 60*time.Second); err != nil {
		return fmt.Errorf("%w; see %s", err, p.LogPath())
	}
	return nil
}
