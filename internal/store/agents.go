package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/wire"
)

// AgentOnlineWithin is how recent an agent's last heartbeat must be for it
// to count as online.
const AgentOnlineWithin = 30 * time.Second

// AgentUpsert registers an agent or records its heartbeat.
func (s *Store) AgentUpsert(ctx context.Context, name string, hb wire.Heartbeat) error {
	if hb.Labels == nil {
		hb.Labels = map[string]string{}
	}
	labels, err := json.Marshal(hb.Labels)
	if err != nil {
		return err
	}
	facts, err := json.Marshal(hb.Facts)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `
		INSERT INTO agents (name, labels, facts, version) VALUES ($1, $2, $3, $4)
		ON CONFLICT (name) DO UPDATE SET labels = EXCLUDED.labels, facts = EXCLUDED.facts,
			version = EXCLUDED.version, last_seen = now()`, name, labels, facts, hb.Version)
	return err
}

// AgentList returns every registered agent, by name, with whether it is online.
func (s *Store) AgentList(ctx context.Context) ([]wire.Agent, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT a.name, a.labels, a.facts, a.version, a.last_seen, a.registered_at, a.last_seen > now() - $1::interval,
		       COALESCE(l.test_id, 0)
		FROM agents a LEFT JOIN host_leases l ON l.host = a.name ORDER BY a.name`, AgentOnlineWithin)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (wire.Agent, error) {
		var (
			a             wire.Agent
			labels, facts []byte
		)
		if err := r.Scan(&a.Name, &labels, &facts, &a.Version, &a.LastSeen, &a.RegisteredAt, &a.Online, &a.RunningTest); err != nil {
			return a, err
		}
		if err := json.Unmarshal(labels, &a.Labels); err != nil {
			return a, err
		}
		return a, json.Unmarshal(facts, &a.Facts)
	})
}

// AgentFacts returns the registered facts of the named agents.
func (s *Store) AgentFacts(ctx context.Context, names []string) (map[string]wire.Agent, error) {
	agents, err := s.AgentList(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]wire.Agent{}
	for _, a := range agents {
		for _, n := range names {
			if a.Name == n {
				out[n] = a
			}
		}
	}
	return out, nil
}
