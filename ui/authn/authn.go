// Package authn authenticates every request (API tokens, agent tokens,
// login sessions with CSRF protection), serves the login page, and sets
// the security headers.
package authn

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/ui/clientip"
)

// SessionCookie is the login session's cookie.
const SessionCookie = "pitwall_session"

// sessionTTL is how long a login lasts.
const sessionTTL = 12 * time.Hour

// LoginCookie is the pre-session cookie that binds the sign-in form's CSRF
// token to the browser the form was shown in.
const LoginCookie = "pitwall_login"

// Authn resolves who a request acts for.
type Authn struct {
	Store *store.Store
	Log   *slog.Logger
	// SecureCookies marks cookies Secure even when the server itself is
	// reached over plain HTTP behind a TLS proxy.
	SecureCookies bool
	// ClientIP finds the address a request came from (nil: the peer's).
	ClientIP *clientip.Resolver

	mu      sync.Mutex
	buckets map[string]*bucket
	// hashSlots bounds the password hashes computed at once.
	hashSlots chan struct{}
}

// public paths need no principal.
func public(path string) bool {
	switch path {
	case "/healthz", "/readyz", "/metrics", "/api/v1/openapi.json", "/login",
		"/api/v1/github/webhook": // signed with a team's webhook secret instead
		return true
	}
	return strings.HasPrefix(path, "/static/")
}

// agentRoute reports whether an agent's token may be used for r: its
// heartbeat and the ingest endpoints; people's pages and API are not for
// agents.
func agentRoute(r *http.Request) bool {
	switch {
	case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/api/v1/agents/") &&
		!strings.Contains(strings.TrimPrefix(r.URL.Path, "/api/v1/agents/"), "/"):
		return true
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/v1/ingest/"):
		return true
	}
	return false
}

// Middleware authenticates requests, refuses unauthenticated ones (401 for
// the API, a redirect to /login for pages), checks CSRF on cookie
// sessions, and sets the security headers.
func (a *Authn) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if public(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		p, err := a.resolve(w, r)
		if err != nil {
			a.refuse(w, r, err)
			return
		}
		if p == nil {
			if strings.HasPrefix(r.URL.Path, "/api/") {
				writeError(w, http.StatusUnauthorized, "authentication required: send Authorization: Bearer <token>")
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if p.Kind == auth.KindAgent && !agentRoute(r) {
			writeError(w, http.StatusForbidden, "an agent's token reaches only the agent API (heartbeat and ingest)")
			return
		}
		ctx := service.WithRemote(service.WithPrincipal(r.Context(), p), a.ClientIP.Of(r))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

var (
	errBadToken = errors.New("invalid, expired or revoked token")
	errCSRF     = errors.New("missing or wrong CSRF token")
)

// resolve finds the principal: a Bearer token first, else a session cookie
// (whose state-changing requests must carry the session's CSRF token).
func (a *Authn) resolve(w http.ResponseWriter, r *http.Request) (*auth.Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || tok == "" {
			return nil, errBadToken
		}
		p, err := a.Store.TokenPrincipal(r.Context(), auth.HashToken(strings.TrimSpace(tok)))
		if errors.Is(err, store.ErrNotFound) {
			return nil, errBadToken
		}
		return p, err
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil, nil
	}
	session := auth.HashToken(c.Value)
	p, csrf, err := a.Store.SessionPrincipal(r.Context(), session)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && !csrfMatches(r, csrf) {
		return nil, errCSRF
	}
	p.CSRF, p.Session = csrf, session
	return p, nil
}

// csrfMatches reports whether a request carries the CSRF token want: in
// X-CSRF-Token, or in a page form's csrf_token field. Only a page's
// url-encoded form is read for it (within the route's body limit): the
// API takes the header, so no API body is read before the route's checks.
func csrfMatches(r *http.Request, want string) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" && !strings.HasPrefix(r.URL.Path, "/api/") {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
			got = r.PostFormValue("csrf_token")
		}
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func (a *Authn) refuse(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errBadToken):
		writeError(w, http.StatusUnauthorized, err.Error())
	case errors.Is(err, errCSRF):
		writeError(w, http.StatusForbidden, err.Error())
	default:
		a.Log.Error("authenticate", "error", err)
		writeError(w, http.StatusServiceUnavailable, "could not check credentials; retry")
	}
}

// Login checks a user's password and starts a session. Each attempt
// takes its place in two buckets before any hash is computed: the
// address's (30, refused at once when empty) and the user name's (5, where
// an attempt past the budget waits for the next refill, up to loginWait,
// rather than locking the name out). A successful sign-in gives both back;
// a failed one keeps them spent. At most a few hashes (64 MiB each) run at
// once; the rest wait their turn.
func (a *Authn) Login(w http.ResponseWriter, r *http.Request, name, password string) error {
	ip := a.ClientIP.Of(r)
	byIP, byName := a.bucket("ip:"+ip, 30), a.bucket("user:"+name, 5)
	if byIP.take(time.Now()) > 0 {
		byIP.give(time.Now())
		a.Log.Warn("login refused: too many failed attempts from the address", "user", name, "remote", ip)
		return ErrTooMany
	}
	giveBack := func() {
		byName.give(time.Now())
		byIP.give(time.Now())
	}
	if d := byName.take(time.Now()); d > loginWait {
		giveBack()
		a.Log.Warn("login refused: too many failed attempts for the user", "user", name, "remote", ip)
		return ErrTooMany
	} else if d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			giveBack()
			return r.Context().Err()
		}
	}
	select {
	case a.hashing() <- struct{}{}:
	case <-r.Context().Done():
		giveBack()
		return r.Context().Err()
	}
	err := a.login(w, r, name, password, ip)
	<-a.hashing()
	if !errors.Is(err, ErrBadLogin) && !errors.Is(err, ErrDisabled) {
		// Only failures spend the budget: people who sign in often are
		// never throttled, guessers are.
		giveBack()
	}
	return err
}

// loginWait is the longest a sign-in waits for its user name's budget.
const loginWait = 15 * time.Second

// hashing is the semaphore of password checks running at once.
func (a *Authn) hashing() chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.hashSlots == nil {
		a.hashSlots = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))
	}
	return a.hashSlots
}

func (a *Authn) login(w http.ResponseWriter, r *http.Request, name, password, ip string) error {
	c, err := a.Store.UserCredentials(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		// Spend the same time as a real check so names cannot be probed.
		auth.CheckPassword(dummyHash(), password)
		a.audit(r.Context(), name, "login failed", "", ip)
		return ErrBadLogin
	}
	if err != nil {
		return err
	}
	if !auth.CheckPassword(c.PasswordHash, password) {
		a.audit(r.Context(), name, "login failed", "", ip)
		return ErrBadLogin
	}
	if c.Disabled {
		// Said only to whoever knows the password.
		a.audit(r.Context(), name, "login refused", "account disabled", ip)
		return ErrDisabled
	}
	session, sessionHash := auth.NewToken("")
	csrf := randomString()
	if err := a.Store.SessionCreate(r.Context(), sessionHash, c.ID, csrf, time.Now().Add(sessionTTL)); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: session, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: a.SecureCookies || r.TLS != nil, MaxAge: int(sessionTTL.Seconds()),
	})
	// The form's token has done its work; the next sign-in gets a new one.
	http.SetCookie(w, &http.Cookie{Name: LoginCookie, Value: "", Path: "/login", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: a.SecureCookies || r.TLS != nil})
	a.audit(r.Context(), name, "login", "", ip)
	return nil
}

// LoginToken is the CSRF token for the sign-in form shown in answer to r:
// the one the browser's pre-session cookie holds, or a new one it is given.
func (a *Authn) LoginToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(LoginCookie); err == nil && wellFormed(c.Value) {
		return c.Value
	}
	token := randomString()
	// Strict and only for /login: the cookie goes nowhere else, and never
	// with a request another site starts.
	http.SetCookie(w, &http.Cookie{Name: LoginCookie, Value: token, Path: "/login", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: a.SecureCookies || r.TLS != nil, MaxAge: int(sessionTTL.Seconds())})
	return token
}

// CheckLoginToken refuses a sign-in whose form does not carry the token of
// the browser's pre-session cookie: a form posted from another site (to
// sign the victim in to the attacker's account) has neither. It reads the
// form's csrf_token field.
func (a *Authn) CheckLoginToken(r *http.Request) error {
	c, err := r.Cookie(LoginCookie)
	if err != nil || !wellFormed(c.Value) ||
		subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf_token"))) != 1 {
		return ErrLoginCSRF
	}
	return nil
}

// wellFormed reports whether s looks like a token of randomString.
func wellFormed(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == tokenBytes
}

// Logout ends the request's session.
func (a *Authn) Logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		_ = a.Store.SessionDelete(r.Context(), auth.HashToken(c.Value))
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: a.SecureCookies || r.TLS != nil})
	if p := auth.From(r.Context()); p != nil {
		a.audit(r.Context(), p.Name, "logout", "", a.ClientIP.Of(r))
	}
}

// Login errors.
var (
	ErrBadLogin = errors.New("wrong user name or password")
	ErrDisabled = errors.New("this account is disabled; a site admin can enable it")
	ErrTooMany  = errors.New("too many login attempts; wait a minute")
	// ErrLoginCSRF is a sign-in without the form's token: nothing is checked.
	ErrLoginCSRF = errors.New("this sign-in form has expired or was sent from another site; please sign in again")
)

// dummyHash is checked against when the user does not exist; made on
// first use, not at start-up: an argon2id hash costs 300 ms and 64 MiB,
// which every process importing this package (the supervisor among
// them) would otherwise pay.
var dummyHash = sync.OnceValue(func() string {
	h, _ := auth.HashPassword("not a real password at all")
	return h
})

// Each key (a user name, an address) has a bucket of burst attempts that
// refills one every 12 s: 5 for a user name, 30 for an address, which many
// people can share. Buckets of keys not seen for a while are forgotten
// when there are too many.
func (a *Authn) bucket(key string, burst int) *bucket {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.buckets == nil {
		a.buckets = map[string]*bucket{}
	}
	b, ok := a.buckets[key]
	if !ok {
		if len(a.buckets) > 100_000 {
			clear(a.buckets)
		}
		b = &bucket{tokens: float64(burst), burst: float64(burst), last: time.Now()}
		a.buckets[key] = b
	}
	return b
}

// refill is how often a bucket gains an attempt back.
const refill = 12 * time.Second

// bucket is a token bucket whose places can be given back, which
// x/time/rate's reservations cannot once their time has come.
type bucket struct {
	mu            sync.Mutex
	tokens, burst float64
	last          time.Time
}

func (b *bucket) advance(now time.Time) {
	if now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+float64(now.Sub(b.last))/float64(refill))
		b.last = now
	}
}

// take takes a place (the bucket may go into debt) and returns how long
// until the place is covered: 0 when it was there.
func (b *bucket) take(now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(now)
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens * float64(refill))
}

// give gives a place back.
func (b *bucket) give(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(now)
	b.tokens = min(b.burst, b.tokens+1)
}

// left is the places the bucket has at now.
func (b *bucket) left(now time.Time) float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(now)
	return b.tokens
}

func (a *Authn) audit(ctx context.Context, actor, action, detail, remote string) {
	if err := a.Store.AuditAdd(ctx, store.AuditEntry{Actor: actor, Action: action, Detail: detail, Remote: remote}); err != nil {
		a.Log.Error("audit", "error", err)
	}
}

// tokenBytes is the randomness of a CSRF token.
const tokenBytes = 24

func randomString() string {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
