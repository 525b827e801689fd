// Package github closes the loop with GitHub: a team's connection
// (credentials sealed at rest), the webhook that turns pushes, pull
// requests and comment commands into tests, and the activities that
// report their verdicts back as commit statuses and one pull-request
// comment edited in place.
package github

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/gh"
	"github.com/pitwall/pitwall/internal/sealed"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/tests"
)

// Service is Pitwall's side of GitHub.
type Service struct {
	Store    *store.Store
	Temporal client.Client
	// Box seals and opens the connections' secrets (the server's and the
	// central worker's --secrets-key-file); nil refuses connections.
	Box *sealed.Box
	// Tests starts and aborts the tests events ask for (central worker).
	Tests     *tests.Service
	PublicURL string
	Log       *slog.Logger
	// Wait is how often GitHubWait looks at its tests (0: 2 s).
	Wait time.Duration
}

// aad binds a sealed value to its team and field.
func aad(team, field string) string { return "github:" + team + ":" + field }

// MaxSecret bounds a credential or webhook secret.
const MaxSecret = 16 << 10

// Connect creates or replaces a team's connection: the team's admins.
func (s *Service) Connect(ctx context.Context, team string, req wire.GitHubConnectionRequest) (*wire.GitHubConnection, error) {
	team = service.TeamOr(team)
	if !service.MayView(ctx, team) {
		return nil, service.Errorf(service.NotFound, "team", "team %q not found", team)
	}
	if !service.Principal(ctx).Can(team, auth.Admin) {
		return nil, service.NotAllowed(fmt.Sprintf("connecting team %q to GitHub needs the admin role there", team))
	}
	if s.Box == nil {
		return nil, service.Errorf(service.Unavailable, "", "this server holds no secrets key (--secrets-key-file), so it cannot keep GitHub credentials")
	}
	c := store.GitHubConnection{Team: team, APIURL: req.APIURL, CreatedBy: service.Principal(ctx).Name, UpdatedAt: time.Now()}
	if c.APIURL == "" {
		c.APIURL = gh.DefaultAPIURL
	}
	if u, err := url.Parse(c.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, service.InvalidField("api_url", fmt.Sprintf("%q must be an http(s) URL without credentials (GitHub Enterprise Server: https://HOST/api/v3/)", c.APIURL))
	}
	if !strings.HasSuffix(c.APIURL, "/") {
		c.APIURL += "/"
	}
	if len(req.WebhookSecret) < 16 || len(req.WebhookSecret) > MaxSecret {
		return nil, service.InvalidField("webhook_secret", "webhook_secret must be 16 bytes or more (GitHub sends it nowhere; make it random)")
	}
	var plain []byte
	switch {
	case req.Token != "" && req.App != nil:
		return nil, service.InvalidField("token", "give token or app, not both")
	case req.Token != "":
		if len(req.Token) > MaxSecret || strings.ContainsAny(req.Token, " \r\n\t") {
			return nil, service.InvalidField("token", "token must be one word")
		}
		c.Auth, plain = gh.AuthToken, []byte(req.Token)
	case req.App != nil:
		a := req.App
		if a.AppID <= 0 || a.InstallationID <= 0 {
			return nil, service.InvalidField("app", "app needs app_id and installation_id")
		}
		if len(a.PrivateKey) > MaxSecret {
			return nil, service.InvalidField("app.private_key", "private_key is too large")
		}
		if _, err := gh.New(gh.Conn{Auth: gh.AuthApp, APIURL: c.APIURL, AppID: a.AppID, InstallationID: a.InstallationID,
			PrivateKey: []byte(a.PrivateKey)}); err != nil {
			return nil, service.InvalidField("app.private_key", "private_key must be the App's RSA private key (PEM): "+err.Error())
		}
		c.Auth, c.AppID, c.InstallationID, plain = gh.AuthApp, a.AppID, a.InstallationID, []byte(a.PrivateKey)
	default:
		return nil, service.InvalidField("token", "give a token or a GitHub App's credentials (app)")
	}
	c.Credential = s.Box.Seal(plain, aad(team, "credential"))
	c.WebhookSecret = s.Box.Seal([]byte(req.WebhookSecret), aad(team, "webhook_secret"))
	if err := s.Store.GitHubConnectionPut(ctx, c); err != nil {
		return nil, fmt.Errorf("store GitHub connection: %w", err)
	}
	service.Audit(ctx, s.Store, s.Log, "github connected", team, c.APIURL, "auth "+c.Auth)
	return s.Connection(ctx, team)
}

// Connection shows a team's connection, never its secrets: the team's members.
func (s *Service) Connection(ctx context.Context, team string) (*wire.GitHubConnection, error) {
	team = service.TeamOr(team)
	c, err := s.connected(ctx, team)
	if err != nil {
		return nil, err
	}
	out := &wire.GitHubConnection{Team: c.Team, APIURL: c.APIURL, Auth: c.Auth, AppID: c.AppID, InstallationID: c.InstallationID,
		WebhookURL: strings.TrimRight(s.PublicURL, "/") + "/api/v1/github/webhook", CreatedBy: c.CreatedBy,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Repositories: []wire.GitHubMapping{}}
	fws, err := s.Store.FrameworksWithGitHub(ctx, team)
	if err != nil {
		return nil, err
	}
	for _, f := range fws {
		g := f.Framework.GitHub
		out.Repositories = append(out.Repositories, wire.GitHubMapping{Repository: g.Repository,
			Framework: f.Framework.Name, On: g.On, Branches: g.Branches})
	}
	return out, nil
}

// connected returns team's connection if the principal may see the team
// (NotFound otherwise, and when it has none).
func (s *Service) connected(ctx context.Context, team string) (*store.GitHubConnection, error) {
	notFound := service.Errorf(service.NotFound, "team", "team %q has no GitHub connection", team)
	if !service.MayView(ctx, team) {
		return nil, notFound
	}
	c, err := s.Store.GitHubConnectionGet(ctx, team)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound
	}
	return c, err
}

// Disconnect removes a team's connection: the team's admins.
func (s *Service) Disconnect(ctx context.Context, team string) error {
	team = service.TeamOr(team)
	if _, err := s.connected(ctx, team); err != nil {
		return err
	}
	if !service.Principal(ctx).Can(team, auth.Admin) {
		return service.NotAllowed(fmt.Sprintf("disconnecting team %q from GitHub needs the admin role there", team))
	}
	if err := s.Store.GitHubConnectionDelete(ctx, team); err != nil {
		return err
	}
	service.Audit(ctx, s.Store, s.Log, "github disconnected", team, "", "")
	return nil
}

// Deliveries lists a team's latest webhook deliveries: the team's members.
func (s *Service) Deliveries(ctx context.Context, team string, limit int) ([]wire.GitHubDelivery, error) {
	team = service.TeamOr(team)
	if _, err := s.connected(ctx, team); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	return s.Store.GitHubDeliveries(ctx, team, limit)
}

// client opens a team's credential and returns its GitHub client.
func (s *Service) client(ctx context.Context, team string) (*gh.Client, error) {
	if s.Box == nil {
		return nil, errors.New("this worker holds no secrets key (--secrets-key-file)")
	}
	c, err := s.Store.GitHubConnectionGet(ctx, team)
	if err != nil {
		return nil, fmt.Errorf("team %s's GitHub connection: %w", team, err)
	}
	plain, err := s.Box.Open(c.Credential, aad(team, "credential"))
	if err != nil {
		return nil, fmt.Errorf("team %s's GitHub credential: %w", team, err)
	}
	conn := gh.Conn{Team: team, APIURL: c.APIURL, Auth: c.Auth, AppID: c.AppID, InstallationID: c.InstallationID}
	if c.Auth == gh.AuthToken {
		conn.Token = string(plain)
	} else {
		conn.PrivateKey = plain
	}
	return gh.New(conn)
}

// teamOf finds the connection whose webhook secret signed body: the
// signature is checked (in constant time) against each team's secret.
func (s *Service) teamOf(ctx context.Context, signature string, body []byte) (string, error) {
	hexSig, ok := strings.CutPrefix(signature, "sha256=")
	want, err := hex.DecodeString(hexSig)
	if !ok || err != nil || len(want) != sha256.Size {
		return "", service.Errorf(service.Unauthenticated, "", "X-Hub-Signature-256 is missing or is not sha256=<64 hex digits>")
	}
	if s.Box == nil {
		return "", service.Errorf(service.Unauthenticated, "", "no GitHub connection could have signed this delivery")
	}
	conns, err := s.Store.GitHubConnections(ctx)
	if err != nil {
		return "", err
	}
	for _, c := range conns {
		secret, err := s.Box.Open(c.WebhookSecret, aad(c.Team, "webhook_secret"))
		if err != nil {
			s.Log.Error("github webhook secret", "team", c.Team, "error", err)
			continue
		}
		mac := hmac.New(sha256.New, secret)
		mac.Write(body)
		if hmac.Equal(mac.Sum(nil), want) {
			return c.Team, nil
		}
	}
	return "", service.Errorf(service.Unauthenticated, "", "the signature matches no team's webhook secret")
}
