package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pitwall/pitwall/internal/pgcluster"
	"github.com/pitwall/pitwall/internal/temporalcfg"
)

// temporalCLI is the Temporal CLI version whose dev server the stack runs
// (see ../shared/TOOLCHAIN.md: later versions do not install here).
const temporalCLI = "github.com/temporalio/cli/cmd/temporal@v1.5.1"

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
	root := filepath.Join(s.opts.dir, "postgres")
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

// startTemporal uses TEMPORAL_ADDRESS when set, else runs the Temporal CLI's
// dev server with its history in .pitwall/temporal.db, so a restart keeps
// running workflows.
func (s *stack) startTemporal(ctx context.Context) error {
	if addr := os.Getenv("TEMPORAL_ADDRESS"); addr != "" {
		s.temporalAddr = addr
		s.say("using Temporal at TEMPORAL_ADDRESS (%s)", addr)
		return nil
	}
	cli := filepath.Join(s.bin, "temporal")
	if _, err := os.Stat(cli); err != nil {
		s.say("building the Temporal CLI (%s) into %s; the first time takes a few minutes", temporalCLI, s.bin)
		logPath := filepath.Join(s.logs, "temporal-install.log")
		logf, err := os.Create(logPath)
		if err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, "go", "install", temporalCLI)
		cmd.Env = append(os.Environ(), "GOBIN="+s.bin, "GOFLAGS=-mod=mod")
		cmd.Stdout, cmd.Stderr = logf, logf
		err = cmd.Run()
		logf.Close()
		if err != nil {
			return fmt.Errorf("go install %s: %w (see %s)", temporalCLI, err, logPath)
		}
	}
	s.temporalAddr = "127.0.0.1:" + strconv.Itoa(s.opts.tempPort)
	for _, port := range []int{s.opts.tempPort, s.opts.tempUIPort} {
		if err := checkFree("127.0.0.1:" + strconv.Itoa(port)); err != nil {
			return fmt.Errorf("port %d for the Temporal dev server: %w (set TEMPORAL_ADDRESS to use a running Temporal)", port, err)
		}
	}
	s.say("starting the Temporal dev server (%s, web UI on port %d)", s.temporalAddr, s.opts.tempUIPort)
	args := append([]string{"server", "start-dev", "--ip", "127.0.0.1", "--port", strconv.Itoa(s.opts.tempPort),
		"--ui-port", strconv.Itoa(s.opts.tempUIPort), "--db-filename", filepath.Join(s.opts.dir, "temporal.db"),
		"--namespace", "default", "--log-level", "warn"}, temporalcfg.DevServerFlags()...)
	p, err := startProc("temporal", filepath.Join(s.logs, "temporal.log"), os.Environ(), cli, args...)
	if err != nil {
		return err
	}
	s.procs = append(s.procs, p)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("the Temporal dev server exited; see %s", p.logPath)
		}
		if c, err := net.DialTimeout("tcp", s.temporalAddr, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("the Temporal dev server did not listen on %s within 60s; see %s", s.temporalAddr, p.logPath)
}
