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
	if _, err := a.check(ctx, "choosing hosts", in.TestID); err != nil {
		return nil, err
	}
	agents, err := a.Store.AgentList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	teams, err := a.Store.TestTeams(ctx, []int64{in.TestID})
	if err != nil {
		return nil, fmt.Errorf("team of test %d: %w", in.TestID, err)
	}
	team := teams[in.TestID]
	known := map[string]wire.Agent{}
	for _, ag := range agents {
		known[ag.Name] = ag
	}
	taken := map[string]bool{}
	for _, r := range in.Roles {
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
	res := &contract.RolesPickResult{}
	for _, r := range in.Roles {
		hosts := slices.Clone(r.Hosts)
		if len(hosts) == 0 {
			for _, ag := range agents {
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
