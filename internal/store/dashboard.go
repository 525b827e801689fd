package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// DashTest is a test as the dashboard lists it.
type DashTest struct {
	ID        int64
	Framework string
	Team      string
	State     string
	Verdict   string
	Commit    string
	Branch    string
	Owner     string
	Host      string
	CreatedAt time.Time
	EndedAt   *time.Time
	// StartedAt is when setup began, or running when the setup was folded
	// into the first Execute (CreatedAt before that).
	StartedAt time.Time
	// Stage is the latest stage reached and when (active tests only).
	Stage   string
	StageAt *time.Time
	// WaitingFor and HeldBy say which host a waiting test waits for and
	// which test holds it.
	WaitingFor string
	HeldBy     int64
}

// Dashboard is what the dashboard shows of the tests a principal may see.
type Dashboard struct {
	// Active are the tests that have not ended, oldest first.
	Active []DashTest
	// Recent are the newest ended tests.
	Recent []DashTest
}

// DashboardGet loads the active tests (up to 200) and the recent ended
// tests (up to recent) of the given teams, or of all teams. Active tests
// come from the partial index on unended tests, recent ones from the
// primary key read backwards, so neither grows with the table.
func (s *Store) DashboardGet(ctx context.Context, teams []string, all bool, recent int) (*Dashboard, error) {
	if teams == nil {
		teams = []string{}
	}
	var d Dashboard
	rows, err := s.pool.Query(ctx, `
		SELECT t.id, f.name, f.team, t.state, t.verdict, t.commit_sha, t.branch, t.owner, t.host, t.created_at, t.ended_at,
		       COALESCE(su.at, t.created_at), COALESCE(sg.name, ''), sg.at, t.waiting_for, COALESCE(l.test_id, 0)
		FROM tests t JOIN frameworks f ON f.id = t.framework_id
		LEFT JOIN host_leases l ON l.host = t.waiting_for AND t.state = 'waiting'
		LEFT JOIN LATERAL (SELECT min(at) AS at FROM test_transitions
			WHERE test_id = t.id AND state IN ('setup', 'running')) su ON true
		LEFT JOIN LATERAL (SELECT name, at FROM test_stages WHERE test_id = t.id ORDER BY at DESC, name DESC LIMIT 1) sg ON true
		WHERE t.ended_at IS NULL AND ($1::boolean OR f.team = ANY($2::text[]))
		ORDER BY t.id LIMIT 200`, all, teams)
	if err != nil {
		return nil, err
	}
	if d.Active, err = pgx.CollectRows(rows, scanDash); err != nil {
		return nil, err
	}
	rows, err = s.pool.Query(ctx, `
		SELECT t.id, f.name, f.team, t.state, t.verdict, t.commit_sha, t.branch, t.owner, t.host, t.created_at, t.ended_at,
		       t.created_at, '', NULL::timestamptz, '', 0::bigint
		FROM tests t JOIN frameworks f ON f.id = t.framework_id
		WHERE t.ended_at IS NOT NULL AND ($1::boolean OR f.team = ANY($2::text[]))
		ORDER BY t.id DESC LIMIT $3`, all, teams, recent)
	if err != nil {
		return nil, err
	}
	if d.Recent, err = pgx.CollectRows(rows, scanDash); err != nil {
		return nil, err
	}
	return &d, nil
}

func scanDash(r pgx.CollectableRow) (DashTest, error) {
	var t DashTest
	err := r.Scan(&t.ID, &t.Framework, &t.Team, &t.State, &t.Verdict, &t.Commit, &t.Branch, &t.Owner, &t.Host,
		&t.CreatedAt, &t.EndedAt, &t.StartedAt, &t.Stage, &t.StageAt, &t.WaitingFor, &t.HeldBy)
	return t, err
}
