package service

import (
	"context"
	"log/slog"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
)

// WithPrincipal returns ctx in which p acts. HTTP authentication sets it
// per request; a webhook, schedule or notification sets its own.
func WithPrincipal(ctx context.Context, p *auth.Principal) context.Context { return auth.With(ctx, p) }

// Principal is who acts in ctx; without one, a principal that may do nothing.
func Principal(ctx context.Context) *auth.Principal {
	if p := auth.From(ctx); p != nil {
		return p
	}
	return &auth.Principal{}
}

// MayView reports whether the principal of ctx may see what belongs to
// team: everyone in the team (and site admins); others are told it does
// not exist.
func MayView(ctx context.Context, team string) bool { return Principal(ctx).Can(team, auth.Viewer) }

type remoteKey struct{}

// WithRemote returns ctx carrying the address a request came from, which
// the audit log records ("" for callers that are not HTTP).
func WithRemote(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, remoteKey{}, addr)
}

// Remote is the address ctx's request came from, or "".
func Remote(ctx context.Context) string {
	s, _ := ctx.Value(remoteKey{}).(string)
	return s
}

// Audit records a security-relevant action by ctx's principal; a failure
// to write it is logged, never returned, so the action itself stands.
func Audit(ctx context.Context, s *store.Store, log *slog.Logger, action, team, target, detail string) {
	actor := "anonymous"
	if p := auth.From(ctx); p != nil {
		actor = p.Name
	}
	err := s.AuditAdd(context.WithoutCancel(ctx), store.AuditEntry{
		Actor: actor, Action: action, Team: team, Target: target, Detail: detail, Remote: Remote(ctx)})
	if err != nil {
		log.Error("audit", "error", err)
	}
}

// DefaultTeam is the team an operation acts in when its input names none.
const DefaultTeam = "default"

// TeamOr is team, or DefaultTeam when it is empty.
func TeamOr(team string) string {
	if team == "" {
		return DefaultTeam
	}
	return team
}
