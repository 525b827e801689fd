package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/pitwall/pitwall/internal/containers"
	"github.com/pitwall/pitwall/internal/wire"
)

// runDemo applies the sample framework and runs one test of it with the
// starter, as a user would, showing the commands and what they print.
func (s *stack) runDemo(ctx context.Context, env []string) error {
	starter := filepath.Join(s.bin, "starter")
	if err := s.show(ctx, env, starter, "framework", "apply", "-f", "examples/sample/framework.yaml"); err != nil {
		return err
	}
	var out bytes.Buffer
	// On main, so each demo run joins the baseline history and, from the
	// second run on, gets a verdict against the earlier ones.
	cmd := exec.CommandContext(ctx, starter, "run", "sample", "--branch", "main", "--wait", "--json")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &out, s.out
	s.say("$ starter run sample --branch main --wait")
	runErr := cmd.Run()
	var t wire.Test
	if err := json.Unmarshal(out.Bytes(), &t); err != nil {
		if runErr != nil {
			return runErr
		}
		return fmt.Errorf("starter printed no test: %w", err)
	}
	if err := s.show(ctx, env, starter, "status", fmt.Sprint(t.ID)); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return err
		}
	}
	s.say("test page        %s", t.URL)
	if s.temporalUIFor(t.WorkflowID) != "" {
		s.say("its workflow     %s", s.temporalUIFor(t.WorkflowID))
	}
	if t.State != wire.StateFinished {
		return fmt.Errorf("test %d %s: %s", t.ID, t.State, t.Reason)
	}
	s.offerContainers(ctx, env)
	return nil
}

// offerContainers readies the http-service example (examples/http-service)
// when a Docker engine answers: its git repository with two commits (the
// second 20% slower), its framework applied, and the commands that test
// both commits printed. Without an engine it says what is missing.
func (s *stack) offerContainers(ctx context.Context, env []string) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	eng, err := containers.Connect(cctx, "")
	cancel()
	if err != nil {
		s.say("no Docker engine answers (%v): the example that builds and load-tests an application in containers, examples/http-service, needs one (apt-get install docker.io)", err)
		return
	}
	eng.Close()
	repo := filepath.Join(s.opts.dir, "examples", "http-service.git")
	commitsFile := repo + ".commits"
	if _, err := os.Stat(commitsFile); err != nil {
		s.say("Docker is available: preparing the http-service example (its repository, two commits) in %s", repo)
		_ = os.RemoveAll(repo)
		if err := os.MkdirAll(filepath.Dir(repo), 0o755); err != nil {
			s.say("could not prepare it: %v", err)
			return
		}
		out, err := exec.CommandContext(ctx, "examples/http-service/make-repo.sh", repo, "--slower").Output()
		if err != nil {
			s.say("could not prepare it: make-repo.sh: %v", err)
			return
		}
		if err := os.WriteFile(commitsFile, out, 0o644); err != nil {
			s.say("could not prepare it: %v", err)
			return
		}
	}
	b, err := os.ReadFile(commitsFile)
	commits := strings.Fields(string(b))
	if err != nil || len(commits) != 2 {
		s.say("the http-service example's commits are unreadable (%s); remove it to prepare it again", commitsFile)
		return
	}
	fw, err := os.ReadFile("examples/http-service/framework.yaml")
	if err != nil {
		s.say("could not read the http-service framework: %v", err)
		return
	}
	fwFile := filepath.Join(s.opts.dir, "examples", "http-service.yaml")
	text := strings.ReplaceAll(string(fw), "/var/lib/pitwall/examples/http-service.git", repo)
	if err := os.WriteFile(fwFile, []byte(text), 0o644); err != nil {
		s.say("could not write %s: %v", fwFile, err)
		return
	}
	if err := s.show(ctx, env, filepath.Join(s.bin, "starter"), "framework", "apply", "-f", fwFile); err != nil {
		s.say("could not apply the http-service framework: %v", err)
		return
	}
	s.say("Docker is available: test an application built at a commit, in containers, with a load generator beside it:")
	s.say("  %s/starter run http-service --commit %s --branch main --wait", s.bin, commits[0])
	s.say("  %s/starter run http-service --commit %s --branch main --wait   # 20%% slower: regressed, exit 1", s.bin, commits[1])
}

func (s *stack) temporalUIFor(workflowID string) string {
	if s.temporalUI()[0] == '(' {
		return ""
	}
	return fmt.Sprintf("http://127.0.0.1:%d/namespaces/default/workflows/%s", s.opts.tempUIPort, workflowID)
}

// show runs a starter command with its output on ours.
func (s *stack) show(ctx context.Context, env []string, bin string, args ...string) error {
	s.say("$ starter %s", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = s.out, s.out
	return cmd.Run()
}
