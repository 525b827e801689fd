package githubtest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// event is one webhook event in the examples package's index.
type event struct {
	Name     string            `json:"name"`
	Actions  []string          `json:"actions"`
	Examples []json.RawMessage `json:"examples"`
}

var loadedExamples struct {
	once   sync.Once
	events map[string]event
	err    error
}

// Example returns GitHub's first example payload of event with action (""
// for events without actions, such as push) that matches GitHub's schema
// of the event. The first published example of many events is years older
// than the schema and lacks fields GitHub now always sends (repository's
// is_template, topics, visibility…); a later one is current. A name that
// GitHub's examples lack is a failed test.
func Example(t testing.TB, event, action string) []byte {
	t.Helper()
	dir := examplesPackage.Require(t)
	loadedExamples.once.Do(func() {
		loadedExamples.events, loadedExamples.err = readExamples(filepath.Join(dir, filepath.FromSlash(examplesFile)))
	})
	if loadedExamples.err != nil {
		t.Fatalf("GitHub's webhook examples (%s): %v", examplesPackage, loadedExamples.err)
	}
	ev, ok := loadedExamples.events[event]
	if !ok {
		t.Fatalf("GitHub's webhook examples (%s) have no %q event", examplesPackage, event)
	}
	var firstErr error
	for _, raw := range ev.Examples {
		var head struct {
			Action string `json:"action"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			t.Fatalf("an example of %q is not JSON: %v", event, err)
		}
		if head.Action != action {
			continue
		}
		err := CheckPayload(t, event, raw)
		if err == nil {
			return bytes.Clone(raw)
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		t.Fatalf("no %q example with action %q in %s matches %s: %v",
			event, action, examplesPackage, schemasPackage, firstErr)
	}
	t.Fatalf("GitHub's webhook examples (%s) have no %q example with action %q (actions: %q)",
		examplesPackage, event, action, ev.Actions)
	return nil
}

func readExamples(file string) (map[string]event, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var events []event
	if err := json.Unmarshal(data, &events); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	m := make(map[string]event, len(events))
	for _, e := range events {
		m[e.Name] = e
	}
	return m, nil
}

// Payload returns GitHub's example of event with action after tweak has
// changed it (decoded with numbers as json.Number, so ids keep every
// digit), and fails the test unless the result still matches GitHub's
// schema of the event: a test cannot drift from what GitHub sends.
func Payload(t testing.TB, event, action string, tweak func(m map[string]any)) []byte {
	t.Helper()
	m := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(Example(t, event, action)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode the %s example: %v", event, err)
	}
	if tweak != nil {
		tweak(m)
	}
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("encode the tweaked %s payload: %v", event, err)
	}
	ValidatePayload(t, event, body)
	return body
}

// Set changes the field at a dotted path of a decoded payload, such as
// "pull_request.head.sha"; every object along the path must be there
// already, so a misspelt path fails the test rather than adding a field.
func Set(t testing.TB, m map[string]any, path string, v any) {
	t.Helper()
	keys := strings.Split(path, ".")
	for i, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			t.Fatalf("set %s: %s is not an object in the payload", path, strings.Join(keys[:i+1], "."))
		}
		m = next
	}
	m[keys[len(keys)-1]] = v
}

// ValidatePayload fails the test unless body matches GitHub's JSON Schema
// of event (of its action's definition when the payload has an action).
func ValidatePayload(t testing.TB, event string, body []byte) {
	t.Helper()
	if err := CheckPayload(t, event, body); err != nil {
		t.Fatalf("the %s payload is not what GitHub sends: %v", event, err)
	}
}

// CheckPayload says why body does not match GitHub's JSON Schema of
// event, or nil when it does; for tests of payloads meant to be wrong.
func CheckPayload(t testing.TB, event string, body []byte) error {
	t.Helper()
	sch, err := payloadSchema(t, event, body)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return sch.Validate(v)
}

// schemaURL is the made-up location the schema package's schema.json is
// compiled under; its definitions are compiled from it one at a time.
const schemaURL = "https://pitwall.invalid/webhooks-schemas/schema.json"

var schemas struct {
	once     sync.Once
	compiler *jsonschema.Compiler
	defs     map[string]any
	err      error

	mu       sync.Mutex
	compiled map[string]*jsonschema.Schema
}

// payloadSchema returns the compiled definition for a payload of event.
// schema.json holds one definition per event and action, named
// EVENT$ACTION (pull_request$opened), one per event that is a oneOf over
// them, EVENT_event (pull_request_event), and EVENT$event for events
// without actions (push$event).
func payloadSchema(t testing.TB, event string, body []byte) (*jsonschema.Schema, error) {
	t.Helper()
	dir := schemasPackage.Require(t)
	schemas.once.Do(func() {
		schemas.compiler, schemas.defs, schemas.err = readSchema(filepath.Join(dir, schemaFile))
		schemas.compiled = map[string]*jsonschema.Schema{}
	})
	if schemas.err != nil {
		t.Fatalf("GitHub's webhook schemas (%s): %v", schemasPackage, schemas.err)
	}
	var head struct {
		Action string `json:"action"`
	}
	_ = json.Unmarshal(body, &head)
	var name string
	for _, n := range []string{event + "$" + head.Action, event + "_event", event + "$event"} {
		if _, ok := schemas.defs[n]; ok && !strings.HasSuffix(n, "$") {
			name = n
			break
		}
	}
	if name == "" {
		return nil, fmt.Errorf("GitHub's webhook schemas (%s) have no %q event", schemasPackage, event)
	}
	schemas.mu.Lock()
	defer schemas.mu.Unlock()
	if sch, ok := schemas.compiled[name]; ok {
		return sch, nil
	}
	sch, err := schemas.compiler.Compile(schemaURL + "#/definitions/" + name)
	if err != nil {
		return nil, fmt.Errorf("compile the schema of %s: %w", name, err)
	}
	schemas.compiled[name] = sch
	return sch, nil
}

// readSchema loads schema.json into a compiler. Being draft-07, it has
// formats (date-time, uri, email…) asserted; uri-template's own check is
// replaced, as the library's refuses RFC 6570's path expansions
// ("…/issues{/number}"), which every repository in every payload has.
func readSchema(file string) (*jsonschema.Compiler, map[string]any, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	defs, _ := doc.(map[string]any)["definitions"].(map[string]any)
	if defs == nil {
		return nil, nil, fmt.Errorf("%s has no definitions", file)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.RegisterFormat(&jsonschema.Format{Name: "uri-template", Validate: validateURITemplate})
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, nil, err
	}
	return c, defs, nil
}

// validateURITemplate checks what RFC 6570 asks of a URI template's
// shape: expressions in braces, none nested or left open.
func validateURITemplate(v any) error {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	open := false
	for _, r := range s {
		switch {
		case r == '{' && open, r == '}' && !open:
			return fmt.Errorf("unbalanced braces in %q", s)
		case r == '{', r == '}':
			open = !open
		}
	}
	if open {
		return fmt.Errorf("unclosed brace in %q", s)
	}
	return nil
}

// Sign returns the X-Hub-Signature-256 header GitHub sends with a payload
// delivered to a webhook with secret: "sha256=" and the hex HMAC-SHA256.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// hookshotAgent is the User-Agent of GitHub's webhook deliveries.
const hookshotAgent = "GitHub-Hookshot/5f1c0f8"

// Deliver posts body to url as GitHub delivers event deliveryID to a
// webhook with secret (none: no signature headers), and returns the
// response, closed when the test ends. Like GitHub, it gives up after 10
// seconds.
func Deliver(t testing.TB, url, event, deliveryID string, secret, body []byte) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("deliver %s: %v", event, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", hookshotAgent)
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", deliveryID)
	if len(secret) > 0 {
		req.Header.Set("X-Hub-Signature-256", Sign(secret, body))
		// The SHA-1 signature GitHub still sends beside it, for old receivers.
		mac := hmac.New(sha1.New, secret)
		mac.Write(body)
		req.Header.Set("X-Hub-Signature", "sha1="+hex.EncodeToString(mac.Sum(nil)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("deliver %s %s to %s: %v", event, deliveryID, url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}
