package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/api"
)

// AgentOnlineWithin is how recent an agent's last heartbeat must be for it
// to count as online.
const AgentOnlineWithin = 30 * time.Second

// AgentUpsert registers an agent or records its heartbeat.
func (s *Store) AgentUpsert(ctx context.Context, name string, hb api.Heartbeat) error {
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
func (s *Store) AgentList(ctx context.Context) ([]api.Agent, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT name, labels, facts, version, last_seen, registered_at, last_seen > now() - $1::interval
		FROM agents ORDER BY name`, AgentOnlineWithin)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (api.Agent, error) {
		var (
			a             api.Agent
			labels, facts []byte
		)
		if err := r.Scan(&a.Name, &labels, &facts, &a.Version, &a.LastSeen, &a.RegisteredAt, &a.Online); err != nil {
			return a, err
		}
		if err := json.Unmarshal(labels, &a.Labels); err != nil {
			return a, err
		}
		return a, json.Unmarshal(facts, &a.Facts)
	})
}
