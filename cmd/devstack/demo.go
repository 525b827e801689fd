package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

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
	return nil
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
