// Package frameworks is the service for frameworks: apply a framework
// file, read a framework, its versions and its recent tests, list and
// clone frameworks. It holds who may see, run and change a framework.
package frameworks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/tests"
)

// MaxFile bounds a framework file: the API's and the form's routes take
// no larger body.
const MaxFile = 2 << 20

// Service runs the operations on frameworks.
type Service struct {
	Store *store.Store
	Log   *slog.Logger
	// MaxTimeout is the longest execution timeout a framework may ask for
	// (0: tests.DefaultMaxTimeout).
	MaxTimeout time.Duration
	// Noise keeps the Temporal schedule of a framework's noise key in
	// step with it (nil: a framework with a noise key is refused).
	Noise NoiseScheduler
}

// NoiseScheduler keeps a framework's noise schedule in step with it
// (schedules.Service.SyncNoise): f is about to be stored, had says its
// current version has a noise key.
type NoiseScheduler interface {
	SyncNoise(ctx context.Context, f *framework.Framework, had bool) error
}

// syncNoise creates, updates or deletes f's noise schedule before f is
// stored, so a schedule Temporal refuses leaves the framework as it was.
func (s *Service) syncNoise(ctx context.Context, f *framework.Framework, had bool) error {
	if f.Noise == nil && !had {
		return nil
	}
	if s.Noise == nil {
		return service.Errorf(service.Unavailable, "noise", "this server cannot schedule noise measurements")
	}
	return s.Noise.SyncNoise(ctx, f, had)
}

// Ref names a framework: its team (empty: the default team) and name.
type Ref struct {
	Team, Name string
}

// MayEdit reports whether the principal of ctx may change f: its owner
// and the team's admins.
func MayEdit(ctx context.Context, f *wire.FrameworkInfo) bool {
	return service.Principal(ctx).CanModify(f.Team, f.Owner)
}

// CheckEdit refuses a change to f by anyone but its owner and the team's admins.
func CheckEdit(ctx context.Context, f *wire.FrameworkInfo) error {
	if !MayEdit(ctx, f) {
		return service.NotAllowed(fmt.Sprintf("framework %s belongs to %s; only they and the team's admins change it", f.Name, f.Owner))
	}
	return nil
}

// MemberTeams are the teams the principal of ctx may create frameworks and
// run tests in, sorted.
func MemberTeams(ctx context.Context) []string {
	p := service.Principal(ctx)
	var out []string
	for t := range p.Teams {
		if tests.MayRun(ctx, t) {
			out = append(out, t)
		}
	}
	if p.SiteAdmin && !slices.Contains(out, service.DefaultTeam) {
		out = append(out, service.DefaultTeam)
	}
	slices.Sort(out)
	return out
}

// notFound is the refusal of a framework that does not exist or that the
// principal may not see.
func notFound(name string) error {
	return service.Errorf(service.NotFound, "name", "framework %q not found", name)
}

// List lists the frameworks the principal of ctx may see.
func (s *Service) List(ctx context.Context) ([]wire.FrameworkInfo, error) {
	list, err := s.Store.FrameworkList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list frameworks: %w", err)
	}
	return visible(ctx, list, func(f wire.FrameworkInfo) string { return f.Team }), nil
}

// visible keeps the items of list whose team the principal of ctx may
// see, in place.
func visible[T any](ctx context.Context, list []T, team func(T) string) []T {
	out := list[:0]
	for _, x := range list {
		if service.MayView(ctx, team(x)) {
			out = append(out, x)
		}
	}
	return out
}

// Names lists the team and name of every framework the principal may
// see, in List's order, without reading their definitions.
func (s *Service) Names(ctx context.Context) ([]store.FrameworkName, error) {
	list, err := s.Store.FrameworkNames(ctx)
	if err != nil {
		return nil, fmt.Errorf("list frameworks: %w", err)
	}
	return visible(ctx, list, func(f store.FrameworkName) string { return f.Team }), nil
}

// Get reads the current version of a framework the principal may see.
func (s *Service) Get(ctx context.Context, ref Ref) (*wire.FrameworkInfo, error) {
	team := service.TeamOr(ref.Team)
	if !service.MayView(ctx, team) {
		return nil, notFound(ref.Name)
	}
	info, err := s.Store.FrameworkGet(ctx, team, ref.Name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound(ref.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("load framework %s: %w", ref.Name, err)
	}
	return info, nil
}

// Version reads one version of a framework the principal may see.
func (s *Service) Version(ctx context.Context, ref Ref, version int) (*wire.FrameworkInfo, error) {
	team := service.TeamOr(ref.Team)
	if !service.MayView(ctx, team) {
		return nil, notFound(ref.Name)
	}
	if version < 1 {
		return nil, service.InvalidField("version", "version must be a positive number")
	}
	info, err := s.Store.FrameworkGetVersion(ctx, team, ref.Name, version)
	if errors.Is(err, store.ErrNotFound) {
		return nil, service.Errorf(service.NotFound, "version", "framework %q has no version %d", ref.Name, version)
	}
	if err != nil {
		return nil, fmt.Errorf("load framework %s version %d: %w", ref.Name, version, err)
	}
	return info, nil
}

// Versions lists the versions of a framework the principal may see, newest first.
func (s *Service) Versions(ctx context.Context, ref Ref) ([]store.FrameworkVersion, error) {
	team := service.TeamOr(ref.Team)
	if !service.MayView(ctx, team) {
		return nil, notFound(ref.Name)
	}
	list, err := s.Store.FrameworkVersions(ctx, team, ref.Name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound(ref.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("versions of framework %s: %w", ref.Name, err)
	}
	return list, nil
}

// Apply takes a framework file (YAML, or its JSON form) and creates the
// framework or a new version of it: members of its team create, its owner
// and the team's admins change. Changed is false when the file matched the
// current version.
func (s *Service) Apply(ctx context.Context, file []byte) (wire.ApplyResult, error) {
	// JSON is YAML, so one strict parser serves both forms.
	f, err := framework.Parse(file)
	if err != nil {
		return wire.ApplyResult{}, service.FrameworkInvalid(err, "")
	}
	p := service.Principal(ctx)
	if !tests.MayRun(ctx, f.Team) {
		return wire.ApplyResult{}, service.NotAllowed(fmt.Sprintf("changing frameworks of team %q needs the member role there", f.Team))
	}
	if err := tests.CheckTimeout(f, s.MaxTimeout); err != nil {
		return wire.ApplyResult{}, err
	}
	if ok, err := s.Store.TeamExists(ctx, f.Team); err != nil || !ok {
		return wire.ApplyResult{}, service.InvalidField("team", fmt.Sprintf("team %q does not exist; a site admin creates teams", f.Team))
	}
	existing, err := s.Store.FrameworkGet(ctx, f.Team, f.Name)
	had := err == nil && existing.Noise != nil
	switch {
	case err == nil:
		if err := CheckEdit(ctx, existing); err != nil {
			return wire.ApplyResult{}, err
		}
		if err := ownerKey(f.Owner, existing.Owner); err != nil {
			return wire.ApplyResult{}, err
		}
		f.Owner = existing.Owner
	case errors.Is(err, store.ErrNotFound):
		if err := ownerKey(f.Owner, p.Name); err != nil {
			return wire.ApplyResult{}, err
		}
		f.Owner = p.Name
	default:
		return wire.ApplyResult{}, fmt.Errorf("load framework %s: %w", f.Name, err)
	}
	if err := s.syncNoise(ctx, f, had); err != nil {
		return wire.ApplyResult{}, err
	}
	res, err := s.Store.FrameworkApply(ctx, f)
	if err != nil {
		return wire.ApplyResult{}, fmt.Errorf("apply framework %s: %w", f.Name, err)
	}
	if res.Changed {
		service.Audit(ctx, s.Store, s.Log, "framework changed", f.Team, f.Name, fmt.Sprintf("version %d", res.Framework.Version))
	}
	s.Log.Info("framework applied", "framework", f.Name, "team", f.Team, "version", res.Framework.Version, "changed", res.Changed)
	return res, nil
}

// Clone copies a framework the principal may see under a new name in its
// team, owned by the principal (a member there).
func (s *Service) Clone(ctx context.Context, ref Ref, newName string) (wire.ApplyResult, error) {
	info, err := s.Get(ctx, ref)
	if err != nil {
		return wire.ApplyResult{}, err
	}
	if !tests.MayRun(ctx, info.Team) {
		return wire.ApplyResult{}, service.NotAllowed("cloning a framework needs the member role in its team")
	}
	if _, err := s.Store.FrameworkGet(ctx, info.Team, newName); err == nil {
		return wire.ApplyResult{}, service.Errorf(service.Conflict, "name", "framework %q already exists", newName)
	}
	f := info.Framework
	f.Name = newName
	f.Owner = service.Principal(ctx).Name
	if err := f.Validate(); err != nil {
		return wire.ApplyResult{}, service.FrameworkInvalid(err, "")
	}
	if err := tests.CheckTimeout(&f, s.MaxTimeout); err != nil {
		return wire.ApplyResult{}, err
	}
	if err := s.syncNoise(ctx, &f, false); err != nil {
		return wire.ApplyResult{}, err
	}
	res, err := s.Store.FrameworkApply(ctx, &f)
	if err != nil {
		return wire.ApplyResult{}, fmt.Errorf("clone framework %s: %w", ref.Name, err)
	}
	return res, nil
}

// Directions says, per KPI name, whether higher or lower is better, from
// the declarations of the tests' framework versions (the first one wins;
// a version that cannot be read gives none).
func (s *Service) Directions(ctx context.Context, tests []wire.Test) map[string]string {
	out := map[string]string{}
	seen := map[string]bool{}
	for _, t := range tests {
		key := fmt.Sprintf("%s/%s/%d", t.Team, t.Framework, t.FrameworkVersion)
		if seen[key] {
			continue
		}
		seen[key] = true
		info, err := s.Version(ctx, Ref{Team: t.Team, Name: t.Framework}, t.FrameworkVersion)
		if err != nil {
			continue
		}
		for _, k := range info.KPIs {
			if _, ok := out[k.Name]; !ok {
				out[k.Name] = k.Better
			}
		}
	}
	return out
}

// ownerKey refuses a framework file whose owner key names someone other
// than the framework's owner: the owner is whoever first applied it (and
// the file cannot hand it to a team or another user), so a different
// value is refused rather than silently replaced.
func ownerKey(file, owner string) error {
	if file == "" || file == owner {
		return nil
	}
	return service.InvalidField("owner", fmt.Sprintf(
		"owner %q cannot be set from the file: a framework's owner is the user who first applied it (here %q), "+
			"and its team's admins may change it too; remove the owner key or set it to %q", file, owner, owner))
}
