package central

import (
	"context"
	"fmt"
	"slices"

	"go.temporal.io/sdk/temporal"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// RolesPick chooses the hosts of a multi-host test's roles: the named
// ones, which must be registered agents the test's team may use, else
// Count online agents with the role's labels, by name, none playing two
// roles. Too few online agents yet is worth retrying; a named host that is
// not registered is bad input.
func (a *Activities) RolesPick(ctx context.Context, in contract.RolesPickInput) (*contract.RolesPickResult, error) {
	agents, known, team, err := a.hostChoice(ctx, in.TestID)
	if err != nil {
		return nil, err
	}
	return pickRoles(agents, known, team, in.Roles, nil)
}

// pickRoles chooses each role's hosts as RolesPick says; prefer are hosts
// taken first, in their order, for roles that name none (a confirmation
// runs where the confirmed test ran when it can).
func pickRoles(agents []wire.Agent, known map[string]wire.Agent, team string, roles []contract.RoleWant, prefer []string) (*contract.RolesPickResult, error) {
	taken := map[string]bool{}
	for _, r := range roles {
		for _, h := range r.Hosts {
			ag, ok := known[h]
			switch {
			case !ok:
				return nil, temporal.NewNonRetryableApplicationError(
					fmt.Sprintf("role %s: host %q is not a registered agent", r.Name, h), contract.ErrNoHost, nil)
			case !ag.UsableBy(team):
				return nil, temporal.NewNonRetryableApplicationError(
					fmt.Sprintf("role %s: host %q is not shared with team %q", r.Name, h, team), contract.ErrNoHost, nil)
			}
			taken[h] = true
		}
	}
	ordered := agents
	if len(prefer) > 0 {
		ordered = nil
		for _, h := range prefer {
			if ag, ok := known[h]; ok {
				ordered = append(ordered, ag)
			}
		}
		for _, ag := range agents {
			if !slices.Contains(prefer, ag.Name) {
				ordered = append(ordered, ag)
			}
		}
	}
	res := &contract.RolesPickResult{}
	for _, r := range roles {
		hosts := slices.Clone(r.Hosts)
		if len(hosts) == 0 {
			for _, ag := range ordered {
				if len(hosts) < max(r.Count, 1) && !taken[ag.Name] && ag.Online && ag.UsableBy(team) && labelsMatch(ag.Labels, r.Labels) {
					hosts = append(hosts, ag.Name)
					taken[ag.Name] = true
				}
			}
			if len(hosts) < max(r.Count, 1) {
				return nil, temporal.NewApplicationError(fmt.Sprintf(
					"role %s: %d online agent(s) of team %q (or shared) with labels %v are free, it needs %d",
					r.Name, len(hosts), team, r.Labels, max(r.Count, 1)), contract.ErrNoHost)
			}
		}
		res.Roles = append(res.Roles, contract.RoleHosts{Name: r.Name, Hosts: hosts})
	}
	return res, nil
}
