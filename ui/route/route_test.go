package route

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/auth"
)

// countingBody counts the bytes read from it: what the server took from
// the client.
type countingBody struct {
	left, read int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > b.left {
		n = b.left
	}
	b.left -= n
	b.read += n
	return int(n), nil
}

func (b *countingBody) Close() error { return nil }

// setup is a mux with one route for members taking up to 1 MiB, and an
// authentication that takes the principal's roles from X-Role.
func setup(t *testing.T) http.Handler {
	t.Helper()
	mux := NewMux()
	mux.Route("POST /api/v1/import", Policy{Need: Member, Body: 1 << 20}, func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			limit, ok := IsTooLarge(err)
			require.True(t, ok, "%v", err)
			http.Error(w, TooLarge(limit), http.StatusRequestEntityTooLarge)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("POST /api/v1/small", func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		_, tooLarge := IsTooLarge(err)
		require.True(t, tooLarge)
		w.WriteHeader(http.StatusRequestEntityTooLarge)
	})
	authenticate := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := &auth.Principal{Kind: auth.KindUser, Name: "u", Teams: map[string]auth.Role{"t": auth.Role(r.Header.Get("X-Role"))}}
			next.ServeHTTP(w, r.WithContext(auth.With(r.Context(), p)))
		})
	}
	return mux.Serve(authenticate)
}

func send(h http.Handler, path, role string, size int64, declared bool) (int, string, int64) {
	body := &countingBody{left: size}
	r := httptest.NewRequest(http.MethodPost, path, nil)
	r.Body = body
	r.ContentLength = -1
	if declared {
		r.ContentLength = size
	}
	r.Header.Set("X-Role", role)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Body.String(), body.read
}

// A principal the route does not serve is refused before a byte of the
// body is read, whatever its size; a body declared over the route's limit
// is refused unread; one that turns out larger is cut at the limit.
func TestRightsAndSizeBeforeBodies(t *testing.T) {
	t.Parallel()
	h := setup(t)
	code, msg, read := send(h, "/api/v1/import", "viewer", 200<<20, true)
	require.Equal(t, http.StatusForbidden, code)
	require.Contains(t, msg, "member role")
	require.Zero(t, read)

	code, _, read = send(h, "/api/v1/import", "viewer", 200<<20, false)
	require.Equal(t, http.StatusForbidden, code)
	require.Zero(t, read)

	code, msg, read = send(h, "/api/v1/import", "member", 2<<20, true)
	require.Equal(t, http.StatusRequestEntityTooLarge, code)
	require.Contains(t, msg, "at most 1 MiB")
	require.Zero(t, read)

	code, _, read = send(h, "/api/v1/import", "member", 2<<20, false)
	require.Equal(t, http.StatusRequestEntityTooLarge, code)
	require.LessOrEqual(t, read, int64(1<<20+64<<10), "read no further than the limit")

	code, _, _ = send(h, "/api/v1/import", "member", 1<<20, true)
	require.Equal(t, http.StatusCreated, code)

	// A route without a policy takes Small bodies.
	code, _, read = send(h, "/api/v1/small", "member", 1<<20, false)
	require.Equal(t, http.StatusRequestEntityTooLarge, code)
	require.LessOrEqual(t, read, int64(Small+64<<10))
	code, msg, _ = send(h, "/api/v1/small", "member", Small+1, true)
	require.Equal(t, http.StatusRequestEntityTooLarge, code)
	require.True(t, strings.Contains(msg, `"error"`), "the API answers JSON: %s", msg)
}

// A Long route outlives the server's whole-request deadlines as long as
// data moves (a live log), while an ordinary route's slow body is cut off
// at the read deadline.
func TestLongRoutesOutliveTheServerDeadlines(t *testing.T) {
	t.Parallel()
	mux := NewMux()
	stream := func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		for i := range 8 {
			if _, err := fmt.Fprintf(w, "data: %d\n\n", i); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
		_, _ = io.WriteString(w, "end\n")
	}
	mux.Route("GET /stream", Policy{Long: true}, stream)
	mux.HandleFunc("GET /short", stream)
	mux.HandleFunc("POST /form", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	srv := httptest.NewUnstartedServer(mux.Serve(func(h http.Handler) http.Handler { return h }))
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = 500*time.Millisecond, time.Second
	srv.Start()
	t.Cleanup(srv.Close)

	get := func(path string) string {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	require.Contains(t, get("/stream"), "end\n", "the stream ran for 2 s, past both deadlines")
	require.NotContains(t, get("/short"), "end\n", "an ordinary route ends at the deadlines")

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
	require.NoError(t, err)
	start := time.Now()
	go func() {
		for range 50 {
			if _, err := conn.Write([]byte("a")); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadAll(conn)
	if !errors.Is(err, syscall.ECONNRESET) { // closed with our bytes unread
		require.NoError(t, err, "the server closed the connection")
	}
	require.Less(t, time.Since(start), 2*time.Second, "the slow body was cut off at the read deadline")
}
