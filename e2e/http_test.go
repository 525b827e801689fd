package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/results"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/ui/server"
)

// Behind the proxy (the e2e server trusts 127.0.0.1), a sign-in is audited
// with the address the proxy reports, not the proxy's own; the client's
// forgery left of it is not believed.
func TestClientAddressFromTheProxy(t *testing.T) {
	t.Parallel()
	name := fmt.Sprintf("proxied-%d", time.Now().UnixNano())
	user(t, name, "", "")
	browser := newBrowser()
	form := loginForm(t, browser, name, "dash password 12345")
	req, err := http.NewRequest(http.MethodPost, st.URL+"/login", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", "203.0.113.250, 198.51.100.23")
	resp, err := browser.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)

	var audit wire.List[store.AuditEntry]
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, "/api/v1/audit", "", nil, &audit))
	var remote []string
	for _, e := range audit.Items {
		if e.Actor == name && e.Action == "login" {
			remote = append(remote, e.Remote)
		}
	}
	require.Equal(t, []string{"198.51.100.23"}, remote)
}

// A sign-in posted from another site (the attacker's form, with the
// attacker's own good credentials, in the victim's browser) is refused and
// starts no session; the same browser signs in through the page.
func TestLoginCSRF(t *testing.T) {
	t.Parallel()
	name := fmt.Sprintf("attacker-%d", time.Now().UnixNano())
	user(t, name, "", "")
	victim := newBrowser()
	forged := "name=" + name + "&password=dash+password+12345&next=%2F"
	req, err := http.NewRequest(http.MethodPost, st.URL+"/login", strings.NewReader(forged))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := victim.Do(req)
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Contains(t, string(page), "sent from another site")
	require.Contains(t, string(page), `name="csrf_token"`, "the form is shown again")
	for _, c := range resp.Cookies() {
		require.NotEqual(t, "pitwall_session", c.Name, "no session was started")
	}

	resp, err = victim.PostForm(st.URL+"/login", loginForm(t, victim, name, "dash password 12345"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
}

// tokenFor makes an API token of user name (created with role in the
// default team).
func tokenFor(t *testing.T, name string, role auth.Role) string {
	t.Helper()
	user(t, name, "default", string(role))
	s := store.New(st.Pool)
	id, err := s.UserByName(context.Background(), name)
	require.NoError(t, err)
	plain, hash := auth.NewToken(auth.UserTokenPrefix)
	_, err = s.TokenCreate(context.Background(), store.NewToken{Hash: hash, Name: "http-test", Kind: auth.KindUser,
		UserID: id, Team: "default", Role: role})
	require.NoError(t, err)
	return plain
}

// importDoc is a valid export document whose one table has rows of 1 KiB
// until the document is size bytes, made as it is sent; read counts the
// bytes the server took.
type importDoc struct {
	pending, suffix []byte
	rows            int64
	read            atomic.Int64
}

var importRow = []byte(`["` + strings.Repeat("x", 1017) + `"],`)

func newImportDoc(t *testing.T, size int64) *importDoc {
	t.Helper()
	f, err := framework.Parse([]byte("name: http-import\nexecution: {script: \"#!/bin/sh\\n\"}\n"))
	require.NoError(t, err)
	ex := wire.Export{Format: wire.ExportFormat, Framework: wire.FrameworkInfo{Framework: *f},
		Test:   wire.Test{State: "finished", CreatedAt: time.Now()},
		Tables: []results.Table{{Name: "big.csv", Header: []string{"a"}, Numeric: []bool{false}, Rows: [][]string{{"END"}}}}}
	b, err := json.Marshal(ex)
	require.NoError(t, err)
	prefix, suffix, ok := bytes.Cut(b, []byte(`["END"]`))
	require.True(t, ok)
	d := &importDoc{pending: prefix, suffix: append([]byte(`["END"]`), suffix...)}
	// Whole rows, and one shorter row to make the size exact.
	rest := size - int64(len(prefix)+len(d.suffix))
	d.rows, rest = rest/int64(len(importRow)), rest%int64(len(importRow))
	if rest > 0 && rest < 5 {
		d.rows, rest = d.rows-1, rest+int64(len(importRow))
	}
	if rest > 0 {
		d.suffix = append([]byte(`["`+strings.Repeat("x", int(rest-5))+`"],`), d.suffix...)
	}
	return d
}

func (d *importDoc) Read(p []byte) (int, error) {
	if len(d.pending) == 0 {
		switch {
		case d.rows > 0:
			d.pending, d.rows = importRow, d.rows-1
		case d.suffix != nil:
			d.pending, d.suffix = d.suffix, nil
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, d.pending)
	d.pending = d.pending[n:]
	d.read.Add(int64(n))
	return n, nil
}

// postImport sends a document of size bytes (declared, or chunked) as
// token and returns the status and how much of it the server read.
func postImport(t *testing.T, token string, size int64, declared bool) (int, string, int64) {
	t.Helper()
	doc := newImportDoc(t, size)
	req, err := http.NewRequest(http.MethodPost, st.URL+"/api/v1/import", doc)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	if declared {
		req.ContentLength = size
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		// The server answered and closed the connection while the body was
		// still going out; Go reports the write's error.
		var op *net.OpError
		require.True(t, errors.As(err, &op), "%v", err)
		return 0, err.Error(), doc.read.Load()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), doc.read.Load()
}

// A viewer's import is refused before its body is read, and so is a
// member's that declares more than the route takes.
func TestImportRightsBeforeTheBody(t *testing.T) {
	t.Parallel()
	viewer := tokenFor(t, fmt.Sprintf("import-viewer-%d", time.Now().UnixNano()), auth.Viewer)
	code, body, read := postImport(t, viewer, 64<<20, false)
	t.Logf("viewer, 64 MiB chunked: %d after %d bytes sent: %s", code, read, body)
	require.Equal(t, http.StatusForbidden, code, body)
	require.Less(t, read, int64(8<<20), "the server did not read the document")

	member := tokenFor(t, fmt.Sprintf("import-member-%d", time.Now().UnixNano()), auth.Member)
	code, body, read = postImport(t, member, 300<<20, true)
	t.Logf("member, 300 MiB declared: %d after %d bytes sent: %s", code, read, body)
	require.Equal(t, http.StatusRequestEntityTooLarge, code, body)
	require.Contains(t, body, "at most 256 MiB")
	require.Less(t, read, int64(8<<20))
}

// slowClient opens a connection, sends head at once and then one byte of
// more every interval; it returns how long the server kept it open.
func slowClient(t *testing.T, head, more string, interval, limit time.Duration) time.Duration {
	t.Helper()
	conn, err := net.Dial("tcp", st.Listen)
	require.NoError(t, err)
	defer conn.Close()
	start := time.Now()
	_, err = io.WriteString(conn, head)
	require.NoError(t, err)
	go func() {
		for i := 0; i < len(more); i++ {
			time.Sleep(interval)
			if _, err := conn.Write([]byte{more[i]}); err != nil {
				return
			}
		}
	}()
	_ = conn.SetReadDeadline(start.Add(limit))
	_, err = io.Copy(io.Discard, conn)
	held := time.Since(start)
	if !errors.Is(err, syscall.ECONNRESET) { // closed with our bytes unread
		require.NoError(t, err, "the server still held the connection after %s", limit)
	}
	return held
}

// A client that sends its headers a byte a second is cut off at the
// header deadline; one that sends a body that slowly, at the read deadline.
func TestSlowClientsAreCutOff(t *testing.T) {
	t.Parallel()
	t.Run("headers", func(t *testing.T) {
		t.Parallel()
		held := slowClient(t, "GET /healthz HTTP/1.1\r\nHost: pitwall\r\n", strings.Repeat("X-Slow: loris\r\n", 100),
			time.Second, 3*server.ReadHeaderTimeout)
		t.Logf("slow headers: connection closed after %s", held.Round(100*time.Millisecond))
		require.Less(t, held, server.ReadHeaderTimeout+3*time.Second)
	})
	t.Run("body", func(t *testing.T) {
		t.Parallel()
		held := slowClient(t, "POST /login HTTP/1.1\r\nHost: pitwall\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000\r\n\r\n",
			strings.Repeat("a", 10000), time.Second, 2*server.ReadTimeout)
		t.Logf("slow body: connection closed after %s", held.Round(100*time.Millisecond))
		require.Less(t, held, server.ReadTimeout+5*time.Second)
	})
}

// A test with a long table: its page shows the first 50 rows, says how
// many there are and links the whole file, which downloads intact.
func TestTestPageShowsTheHeadOfLongTables(t *testing.T) {
	t.Parallel()
	st.Apply(t, `
name: tp-long-table
execution:
  script: |
    #!/bin/sh
    echo "K, 1" > results.csv
    { echo 'n,square'; i=0; while [ $i -lt 3000 ]; do echo "$i,$((i*i))"; i=$((i+1)); done; } > long.csv
`)
	run := st.Run(t, wire.RunRequest{Framework: "tp-long-table"})
	require.Equal(t, wire.StateFinished, run.State, run.Reason)
	resp, html := page(t, fmt.Sprintf("/tests/%d", run.ID))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	table := element(html, `<details class="tp-table"`, "</details>")
	require.Contains(t, table, "3000 rows")
	require.Equal(t, 51, strings.Count(table, "<tr"), "the header and 50 rows")
	require.Contains(t, table, "<td class=\"num\">49</td>")
	require.NotContains(t, table, "<td class=\"num\">50</td>")
	require.Contains(t, table, "First 50 of 3000 rows")
	href := fmt.Sprintf(`href="/api/v1/tests/%d/artifacts/long.csv"`, run.ID)
	require.Contains(t, table, href)

	got := get(t, fmt.Sprintf("%s/api/v1/tests/%d/artifacts/long.csv", st.URL, run.ID))
	defer got.Body.Close()
	body, err := io.ReadAll(got.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, got.StatusCode)
	require.Equal(t, 3001, strings.Count(string(body), "\n"))
	require.True(t, strings.HasSuffix(string(body), "2999,8994001\n"))
}
