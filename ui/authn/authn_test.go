package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/service/servicetest"
	"github.com/pitwall/pitwall/ui/clientip"
)

func TestMain(m *testing.M) { os.Exit(servicetest.Main(m)) }

// 60 wrong sign-ins at once from one address: the address's budget of 30
// is taken before any hash is computed, so the other 30 are refused at
// once instead of all 60 hashing (64 MiB each) and being counted after.
func TestConcurrentFailuresSpendTheBudgetBeforeHashing(t *testing.T) {
	t.Parallel()
	a := &Authn{Store: servicetest.Store, Log: servicetest.Log}
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			r := httptest.NewRequest("POST", "/login", nil)
			r.RemoteAddr = "192.0.2.7:4000"
			err := a.Login(httptest.NewRecorder(), r, fmt.Sprintf("nobody-%d", i), "wrong password")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ErrBadLogin):
				got["checked"]++
			case errors.Is(err, ErrTooMany):
				got["refused"]++
			default:
				got[fmt.Sprint(err)]++
			}
		})
	}
	wg.Wait()
	require.Equal(t, map[string]int{"checked": 30, "refused": 30}, got)
}

// Failures for one user name delay the next attempt rather than lock the
// name out: after five, the sixth waits for the bucket's refill (12 s)
// instead of being refused; one given up while waiting gives its place
// back.
func TestFailuresDelayRatherThanLockOut(t *testing.T) {
	t.Parallel()
	a := &Authn{Store: servicetest.Store, Log: servicetest.Log}
	name := servicetest.Name("victim")
	start := time.Now()
	for range 5 {
		r := httptest.NewRequest("POST", "/login", nil)
		r.RemoteAddr = "192.0.2.8:4000"
		require.ErrorIs(t, a.Login(httptest.NewRecorder(), r, name, "guess"), ErrBadLogin)
	}
	b := a.bucket("user:"+name, 5)
	// Each failure spent a place; on a loaded machine the five hashes may
	// take long enough for places to come back meanwhile.
	refilled := float64(time.Since(start)) / float64(refill)
	require.Less(t, b.left(time.Now()), 1.0+refilled)
	// What came back meanwhile is spent, down to a quarter of a place: the
	// next attempt waits about 9 s, under loginWait (15 s), however long
	// this machine took. (Whole takes could leave the bucket half a place
	// in debt, and the next attempt would then be refused, not delayed.)
	b.mu.Lock()
	b.advance(time.Now())
	b.tokens = min(b.tokens, 0.25)
	b.mu.Unlock()
	r := httptest.NewRequest("POST", "/login", nil)
	r.RemoteAddr = "192.0.2.9:4000"
	ctx, cancel := context.WithCancel(r.Context())
	cancel()
	err := a.Login(httptest.NewRecorder(), r.WithContext(ctx), name, "guess")
	require.ErrorIs(t, err, context.Canceled, "a waiting attempt is delayed, not refused")
	require.Less(t, b.left(time.Now()), 1.0)
	require.Greater(t, b.left(time.Now()), -0.5, "the cancelled attempt gave its place back")
}

// Successful sign-ins give their places back: a person signing in often
// is never slowed.
func TestSuccessesAreNotCounted(t *testing.T) {
	t.Parallel()
	a := &Authn{Store: servicetest.Store, Log: servicetest.Log}
	b := a.bucket("user:someone", 5)
	for range 20 {
		require.Zero(t, b.take(time.Now()))
		b.give(time.Now())
	}
	require.InDelta(t, 5, b.left(time.Now()), 0.01)
}

// Behind a trusted proxy every user shares the proxy's address: the
// address budget is each client's, as the proxy reports it, and a header
// from anyone else is not believed.
func TestBudgetsAreEachClientsBehindTheProxy(t *testing.T) {
	t.Parallel()
	proxy, err := clientip.Parse("192.0.2.100", "X-Forwarded-For")
	require.NoError(t, err)
	a := &Authn{Store: servicetest.Store, Log: servicetest.Log, ClientIP: proxy}
	try := func(peer, forwarded string) error {
		r := httptest.NewRequest("POST", "/login", nil)
		r.RemoteAddr = peer + ":4000"
		if forwarded != "" {
			r.Header.Set("X-Forwarded-For", forwarded)
		}
		return a.Login(httptest.NewRecorder(), r, servicetest.Name("nobody"), "wrong password")
	}
	// The attacker has spent its whole address budget through the proxy...
	spent := a.bucket("ip:198.51.100.66", 30)
	for range 31 {
		spent.take(time.Now())
	}
	require.ErrorIs(t, try("192.0.2.100", "198.51.100.66"), ErrTooMany)
	// ... and neither another client behind it nor the proxy itself pays for it.
	require.ErrorIs(t, try("192.0.2.100", "198.51.100.7"), ErrBadLogin)
	require.ErrorIs(t, try("192.0.2.100", ""), ErrBadLogin)
	// Nor does the attacker escape its budget by writing another address
	// in the header: the proxy appends the one it saw.
	require.ErrorIs(t, try("192.0.2.100", "198.51.100.9, 198.51.100.66"), ErrTooMany)
	// A peer that is not the proxy is its own address, whatever it claims.
	require.Equal(t, 30.0, a.bucket("ip:198.51.100.8", 30).left(time.Now()))
	require.ErrorIs(t, try("203.0.113.5", "198.51.100.8"), ErrBadLogin)
	require.Equal(t, 30.0, a.bucket("ip:198.51.100.8", 30).left(time.Now()), "the claimed address was not charged")
	require.Less(t, a.bucket("ip:203.0.113.5", 30).left(time.Now()), 30.0, "the peer was")
}

// A disabled user who gives the right password is told the account is
// disabled and gets no session; enabled again, they sign in.
func TestDisabledUserCannotSignIn(t *testing.T) {
	t.Parallel()
	a := &Authn{Store: servicetest.Store, Log: servicetest.Log}
	ctx := context.Background()
	name := servicetest.Name("leaver")
	hash, err := auth.HashPassword("the leaver's password")
	require.NoError(t, err)
	id, err := servicetest.Store.UserCreate(ctx, name, hash, false)
	require.NoError(t, err)
	yes, no := true, false
	_, err = servicetest.Store.UserUpdate(ctx, id, store.UserChange{Disabled: &yes})
	require.NoError(t, err)
	login := func(password string) ([]*http.Cookie, error) {
		r := httptest.NewRequest("POST", "/login", nil)
		r.RemoteAddr = "192.0.2.10:4000"
		w := httptest.NewRecorder()
		err := a.Login(w, r, name, password)
		return w.Result().Cookies(), err
	}
	cookies, err := login("a wrong password")
	require.ErrorIs(t, err, ErrBadLogin, "without the password, nothing is said about the account")
	cookies, err = login("the leaver's password")
	require.ErrorIs(t, err, ErrDisabled)
	require.Empty(t, cookies)
	_, err = servicetest.Store.UserUpdate(ctx, id, store.UserChange{Disabled: &no})
	require.NoError(t, err)
	cookies, err = login("the leaver's password")
	require.NoError(t, err)
	require.NotEmpty(t, cookies)
}
