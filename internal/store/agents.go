package store

import (
	"context"
	"encoding/json"
	"fmt"
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
		INSERT INTO agents (name, declared_labels, facts, version) VALUES ($1, $2, $3, $4)
		ON CONFLICT (name) DO UPDATE SET declared_labels = EXCLUDED.declared_labels, facts = EXCLUDED.facts,
			version = EXCLUDED.version, last_seen = now()`, name, labels, facts, hb.Version)
	return err
}

// AgentSeen records that a registered agent is alive (its last_seen),
// as a heartbeat does, without its facts: the server calls it for every
// batch of samples an agent delivers.
func (s *Store) AgentSeen(ctx context.Context, name string) error {
	_, err := s.pool.Exec(ctx, `UPDATE agents SET last_seen = now() WHERE name = $1`, name)
	return err
}

// agentSQL reads agents with everything AgentList says of them ($1: how
// recently an online agent was seen).
const agentSQL = `
	SELECT a.name, COALESCE(st.labels, '{}'), a.declared_labels, COALESCE(st.teams, '{}'), COALESCE(st.shared, false),
	       a.facts, a.version, a.last_seen, a.registered_at, a.last_seen > now() - $1::interval, COALESCE(l.test_id, 0),
	       a.excluded, a.excluded_reason, EXISTS (SELECT 1 FROM noise_floors nf WHERE nf.host = a.name AND nf.jumped
	           AND nf.measurement_id = (SELECT max(n2.measurement_id) FROM noise_floors n2
	               WHERE n2.host = nf.host AND n2.framework_id = nf.framework_id))
	FROM agents a LEFT JOIN host_leases l ON l.host = a.name LEFT JOIN agent_settings st ON st.name = a.name`

// AgentList returns every registered agent, by name, with whether it is
// online and its settings (none set: no labels, no team).
func (s *Store) AgentList(ctx context.Context) ([]wire.Agent, error) {
	return s.agents(ctx, agentSQL+` ORDER BY a.name`, AgentOnlineWithin)
}

// agents reads agentSQL's rows.
func (s *Store) agents(ctx context.Context, sql string, args ...any) ([]wire.Agent, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (wire.Agent, error) {
		var (
			a                       wire.Agent
			labels, declared, facts []byte
		)
		if err := r.Scan(&a.Name, &labels, &declared, &a.Teams, &a.Shared, &facts, &a.Version, &a.LastSeen, &a.RegisteredAt,
			&a.Online, &a.RunningTest, &a.Excluded, &a.ExcludedReason, &a.NoiseJumped); err != nil {
			return a, err
		}
		a.Busy = a.RunningTest != 0
		for _, j := range []struct {
			b  []byte
			to any
		}{{labels, &a.Labels}, {declared, &a.DeclaredLabels}, {facts, &a.Facts}} {
			if err := json.Unmarshal(j.b, j.to); err != nil {
				return a, err
			}
		}
		return a, nil
	})
}

// AgentSettingsSet stores what a site admin set for a host, registered or
// not yet.
func (s *Store) AgentSettingsSet(ctx context.Context, name string, set wire.AgentSettings, by string) error {
	if set.Labels == nil {
		set.Labels = map[string]string{}
	}
	if set.Teams == nil {
		set.Teams = []string{}
	}
	labels, err := json.Marshal(set.Labels)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO agent_settings (name, labels, teams, shared, updated_by) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (name) DO UPDATE SET labels = EXCLUDED.labels, teams = EXCLUDED.teams, shared = EXCLUDED.shared,
			updated_by = EXCLUDED.updated_by, updated_at = now()`, name, labels, set.Teams, set.Shared, by)
	return err
}

// AgentSettingsGet returns a host's settings (ErrNotFound: none set).
func (s *Store) AgentSettingsGet(ctx context.Context, name string) (wire.AgentSettings, error) {
	var (
		set    wire.AgentSettings
		labels []byte
	)
	err := s.pool.QueryRow(ctx, `SELECT labels, teams, shared FROM agent_settings WHERE name = $1`, name).
		Scan(&labels, &set.Teams, &set.Shared)
	if err != nil {
		return set, notFound(err)
	}
	return set, json.Unmarshal(labels, &set.Labels)
}

// hostClaimLock is the advisory lock that makes host picks one at a time.
const hostClaimLock = 0x7069_7477_616c // "pitwal"

// HostClaim chooses among candidates the host the fewest unended tests
// have claimed (by name on a tie) and claims it for the test, so tests
// submitted together spread over the hosts instead of queueing on the
// first free one. Picks are serialized by an advisory lock, so two tests
// choosing at the same instant see each other's claims. A test's own
// earlier claim does not count against a host (a retried pick is stable
// enough).
func (s *Store) HostClaim(ctx context.Context, testID int64, candidates []string) (string, error) {
	c, err := s.HostClaimWaiting(ctx, testID, candidates, false)
	return c.Host, err
}

// Claim is a host claim: the host, and how many other unended tests had
// claimed it first; Waiting says the test was recorded as waiting for it.
type Claim struct {
	Host    string
	Ahead   int
	Waiting bool
}

// HostClaimWaiting is HostClaim that, with recordWaiting, also records the
// test as waiting for the host in the same transaction when other unended
// tests claimed it first (a queued test only; states move forward): the
// test then needs no queued notice from the host's lease workflow, and no
// state change of its own for it.
func (s *Store) HostClaimWaiting(ctx context.Context, testID int64, candidates []string, recordWaiting bool) (Claim, error) {
	var c Claim
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(hostClaimLock)); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `
			SELECT c.name, count(t.id)
			FROM unnest($1::text[]) AS c(name)
			LEFT JOIN tests t ON t.host = c.name AND t.ended_at IS NULL AND t.id <> $2
			GROUP BY c.name
			ORDER BY count(t.id), c.name
			LIMIT 1`, candidates, testID).Scan(&c.Host, &c.Ahead)
		if err != nil {
			return fmt.Errorf("choose among %d host(s): %w", len(candidates), err)
		}
		wait := recordWaiting && c.Ahead > 0
		reason := fmt.Sprintf("waiting for host %s: %d other test(s) claimed it first", c.Host, c.Ahead)
		// One statement: the claim, and the waiting state with its
		// transition when there is one to record.
		err = tx.QueryRow(ctx, `
			WITH u AS (
				UPDATE tests SET host = $2,
					state       = CASE WHEN $3 AND state IN ('queued', 'waiting') THEN 'waiting' ELSE state END,
					waiting_for = CASE WHEN $3 AND state IN ('queued', 'waiting') THEN $2 ELSE waiting_for END,
					reason      = CASE WHEN $3 AND state IN ('queued', 'waiting') THEN $4 ELSE reason END,
					updated_at  = CASE WHEN $3 AND state IN ('queued', 'waiting') THEN now() ELSE updated_at END
				WHERE id = $1 AND ended_at IS NULL
				RETURNING id, state),
			tr AS (
				INSERT INTO test_transitions (test_id, state, at, reason)
				SELECT id, state, now(), $4 FROM u WHERE $3 AND state = 'waiting'
				ON CONFLICT (test_id, state) DO NOTHING)
			SELECT COALESCE(bool_or(state = 'waiting'), false) FROM u`, testID, c.Host, wait, reason).Scan(&c.Waiting)
		c.Waiting = c.Waiting && wait
		return err
	})
	return c, err
}

// AgentFacts returns the named agents, by name, as AgentList says them
// (facts, settings, state); a name not registered is missing.
func (s *Store) AgentFacts(ctx context.Context, names []string) (map[string]wire.Agent, error) {
	// The named agents only: a test's collation asks for its hosts' facts,
	// and reading every agent (and decoding its labels and facts) made
	// each test's cost grow with the hosts registered.
	cond, arg := anyOf("a.name", 2, names)
	agents, err := s.agents(ctx, agentSQL+` WHERE `+cond+` ORDER BY a.name`, AgentOnlineWithin, arg)
	if err != nil {
		return nil, err
	}
	out := make(map[string]wire.Agent, len(agents))
	for _, a := range agents {
		out[a.Name] = a
	}
	return out, nil
}

// TestTeams maps each of the tests to its framework's team.
func (s *Store) TestTeams(ctx context.Context, ids []int64) (map[int64]string, error) {
	out := map[int64]string{}
	if len(ids) == 0 {
		return out, nil
	}
	cond, arg := anyOf("t.id", 1, ids)
	rows, err := s.pool.Query(ctx, `SELECT t.id, f.team FROM tests t JOIN frameworks f ON f.id = t.framework_id
		WHERE `+cond, arg)
	if err != nil {
		return nil, err
	}
	var (
		id   int64
		team string
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &team}, func() error { out[id] = team; return nil })
	return out, err
}

// anyOf is the condition that col is one of list, as parameter $n, with
// its argument: col = ANY($n) and the list, or col = $n and the element
// when there is one. PostgreSQL plans a statement with an array parameter
// afresh at every call (its generic plan is costed for an array of unknown
// length, so the custom plans stay cheaper), and the calls of a test's
// end ask for one host or one test: pg_stat_statements counted 1.15 ms of
// planning a test in the bench's throughput rounds for three such
// statements (docs/performance.md, "Planning and files a test").
func anyOf[T any](col string, n int, list []T) (string, any) {
	if len(list) == 1 {
		return fmt.Sprintf("%s = $%d", col, n), list[0]
	}
	return fmt.Sprintf("%s = ANY($%d)", col, n), list
}
