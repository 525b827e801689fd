package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pitwall/pitwall/internal/wire"
)

// Do sends a request to the server as the site admin and decodes a JSON
// answer into out (if not nil), returning the status code. It fails only
// when the request cannot be made or the answer not read or decoded; the
// status is the caller's to judge.
func (s *Stack) Do(ctx context.Context, method, path, contentType string, body []byte, out any) (int, error) {
	a, err := s.do(ctx, method, path, contentType, body)
	if err != nil {
		return a.status, err
	}
	if out != nil && len(a.body) > 0 && a.status < 300 {
		if err := json.Unmarshal(a.body, out); err != nil {
			return a.status, fmt.Errorf("%s %s: decode %q: %w", method, path, a.body, err)
		}
	}
	return a.status, nil
}

// answer is what do got back.
type answer struct {
	status int
	req    *http.Request
	header http.Header
	body   []byte
}

func (s *Stack) do(ctx context.Context, method, path, contentType string, body []byte) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{req: req}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, req: req, header: resp.Header}
	if a.body, err = io.ReadAll(resp.Body); err != nil {
		return a, fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	return a, nil
}

// Page gets a page (or any answer) as the site admin and returns its
// status and body; it fails tb only when the request cannot be made.
func (s *Stack) Page(tb testing.TB, path string) (int, string) {
	tb.Helper()
	a, err := s.do(tb.Context(), http.MethodGet, path, "", nil)
	if err != nil {
		tb.Fatal(err)
	}
	return a.status, string(a.body)
}

// Call is Do for a test: it fails tb when the request cannot be made or
// the answer decoded, shows every answer to Options.Check, and decodes
// into out whatever the status.
func (s *Stack) Call(tb testing.TB, method, path, contentType string, body []byte, out any) int {
	tb.Helper()
	a, err := s.do(tb.Context(), method, path, contentType, body)
	if err != nil {
		tb.Fatal(err)
	}
	if s.opts.Check != nil {
		s.opts.Check(tb, a.req, a.status, a.header, a.body)
	}
	if out != nil && len(a.body) > 0 {
		if err := json.Unmarshal(a.body, out); err != nil {
			tb.Fatalf("%s %s: decode %q: %v", method, path, a.body, err)
		}
	}
	return a.status
}

// Framework applies a framework file.
func (s *Stack) Framework(ctx context.Context, yaml string) (wire.ApplyResult, error) {
	var res wire.ApplyResult
	code, err := s.Do(ctx, http.MethodPost, "/api/v1/frameworks", "application/yaml", []byte(yaml), &res)
	if err == nil && code != http.StatusOK && code != http.StatusCreated {
		err = fmt.Errorf("apply framework: status %d", code)
	}
	return res, err
}

// Apply applies a framework file and fails tb unless it is accepted.
func (s *Stack) Apply(tb testing.TB, yaml string) wire.ApplyResult {
	tb.Helper()
	var res wire.ApplyResult
	code := s.Call(tb, http.MethodPost, "/api/v1/frameworks", "application/yaml", []byte(yaml), &res)
	if code != http.StatusOK && code != http.StatusCreated {
		tb.Fatalf("apply framework: status %d", code)
	}
	return res
}

// Submit creates a test and returns it as created.
func (s *Stack) Submit(ctx context.Context, req wire.RunRequest) (*wire.Test, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode the run request: %w", err)
	}
	var t wire.Test
	a, err := s.do(ctx, http.MethodPost, "/api/v1/tests", "application/json", body)
	switch {
	case err != nil:
	case a.status != http.StatusCreated:
		err = fmt.Errorf("create test: status %d: %s", a.status, a.body)
	default:
		if err = json.Unmarshal(a.body, &t); err != nil {
			err = fmt.Errorf("create test: decode %q: %w", a.body, err)
		}
	}
	return &t, err
}

// Run creates a test and waits until it has ended, failing tb otherwise.
func (s *Stack) Run(tb testing.TB, req wire.RunRequest) *wire.Test {
	tb.Helper()
	body, _ := json.Marshal(req)
	var answer json.RawMessage
	if code := s.Call(tb, http.MethodPost, "/api/v1/tests", "application/json", body, &answer); code != http.StatusCreated {
		tb.Fatalf("create test: status %d: %s", code, answer)
	}
	var created wire.Test
	if err := json.Unmarshal(answer, &created); err != nil {
		tb.Fatalf("create test: decode %s: %v", answer, err)
	}
	return s.Wait(tb, created.ID)
}

// Ended reports whether a test has ended, for Await.
func Ended(t *wire.Test) bool { return wire.Ended(t.State) }

// Await polls test id until cond holds and returns it, riding out a server
// that does not answer for a while (the crash tests restart it), until
// limit passes.
func (s *Stack) Await(ctx context.Context, id int64, limit time.Duration, cond func(*wire.Test) bool) (*wire.Test, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	path := fmt.Sprintf("/api/v1/tests/%d", id)
	start := time.Now()
	var last wire.Test
	var lastErr error
	for {
		var got wire.Test
		code, err := s.Do(ctx, http.MethodGet, path, "", nil, &got)
		switch {
		case err != nil:
			lastErr = err
		case code != http.StatusOK:
			lastErr = fmt.Errorf("get test %d: status %d", id, code)
		default:
			if last = got; cond(&got) {
				return &got, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("test %d: condition not met within %s; last state %q (%s), last error %v",
				id, limit, last.State, last.Reason, lastErr)
		case <-time.After(pollEvery(time.Since(start))):
		}
	}
}

// pollEvery is how long Await sleeps between reads, after waiting so
// long: 20 ms for two seconds (most of the tests' tests end by then), then
// 100 ms, since every read loads the whole test on the server and a suite
// has many tests waiting at once on two cores.
func pollEvery(waited time.Duration) time.Duration {
	if waited < 2*time.Second {
		return 20 * time.Millisecond
	}
	return 100 * time.Millisecond
}

// Wait waits up to two minutes until test id has ended, failing tb otherwise.
func (s *Stack) Wait(tb testing.TB, id int64) *wire.Test {
	tb.Helper()
	t, err := s.Await(tb.Context(), id, 2*time.Minute, Ended)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// AgentToken makes agent's token and, as a site admin would, gives the
// host the stack's labels and shares it with every team.
func (s *Stack) AgentToken(ctx context.Context, agent string) (string, error) {
	body, _ := json.Marshal(map[string]string{"agent": agent})
	var out struct {
		Token string `json:"token"`
	}
	code, err := s.Do(ctx, http.MethodPost, "/api/v1/agent-tokens", "application/json", body, &out)
	if err == nil && out.Token == "" {
		err = fmt.Errorf("status %d and no token", code)
	}
	if err == nil {
		body, _ = json.Marshal(wire.AgentSettings{Labels: s.opts.Labels, Shared: true})
		code, err = s.Do(ctx, http.MethodPut, "/api/v1/agents/"+agent+"/settings", "application/json", body, nil)
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("settings: status %d", code)
		}
	}
	if err != nil {
		return "", fmt.Errorf("agent token for %s: %w", agent, err)
	}
	return out.Token, nil
}

// WaitAgentOnline waits up to a minute until the server lists the agent as
// online, failing tb otherwise.
func (s *Stack) WaitAgentOnline(tb testing.TB, name string) {
	tb.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var list wire.List[wire.Agent]
		if code, err := s.Do(tb.Context(), http.MethodGet, "/api/v1/agents", "", nil, &list); err == nil && code == http.StatusOK {
			for _, a := range list.Items {
				if a.Name == name && a.Online {
					return
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	tb.Fatalf("agent %s did not come online within a minute", name)
}

// Result is what a run of the starter command gave.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Starter runs the built starter command (Options.Build holds "starter")
// against the stack as the admin, failing tb only if it cannot run.
func (s *Stack) Starter(tb testing.TB, args ...string) Result {
	tb.Helper()
	cmd := exec.Command(filepath.Join(s.Bin, "starter"), args...)
	cmd.Env = append(os.Environ(), "PITWALL_SERVER="+s.URL, "PITWALL_TOKEN="+s.Token)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		tb.Fatalf("run starter: %v", err)
	}
	return Result{code, out.String(), errb.String()}
}
