package notify

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// A webhook's refusals: 4xx fail the delivery at once (a removed Slack
// hook answers 404 or 410) but for the three that ask to come back; 5xx
// and unreachable receivers are retried. The body is signed when there
// is a secret, and the URL's path (Slack's token) stays out of errors.
func TestPostClassifiesRefusals(t *testing.T) {
	t.Parallel()
	var gotSig, gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotSig, gotBody = r.Header.Get(SignatureHeader), string(b)
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		w.WriteHeader(code)
		fmt.Fprint(w, "no_service")
	}))
	defer srv.Close()
	for code, permanent := range map[int]bool{200: false, 204: false, 400: true, 404: true, 410: true, 408: false,
		425: false, 429: false, 500: false, 503: false} {
		err := Post(t.Context(), srv.Client(), fmt.Sprintf("%s/T000/B000/XXXSECRET?code=%d", srv.URL, code),
			[]byte(`{"text":"hi"}`), []byte("k"), "d1")
		if code/100 == 2 {
			require.NoError(t, err, code)
			continue
		}
		require.Error(t, err, code)
		require.Equal(t, permanent, IsPermanent(err), "%d: %v", code, err)
		require.Contains(t, err.Error(), "no_service")
		require.NotContains(t, err.Error(), "XXXSECRET")
	}
	require.Equal(t, `{"text":"hi"}`, gotBody)
	require.Equal(t, Sign([]byte("k"), []byte(gotBody)), gotSig)

	srv.Close()
	err := Post(t.Context(), http.DefaultClient, srv.URL+"/x", []byte("{}"), nil, "")
	require.Error(t, err)
	require.False(t, IsPermanent(err), "an unreachable receiver may come back: %v", err)
}
