package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/wire"
)

// Schedule is a schedule as Pitwall keeps it: whose it is and what it asks
// for. Temporal keeps the rest (state, next runs, counters).
type Schedule struct {
	ID        int64
	Team      string
	Framework string
	Spec      wire.ScheduleSpec
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ScheduleCreate stores a new schedule and returns its ID.
func (s *Store) ScheduleCreate(ctx context.Context, sc Schedule) (int64, error) {
	spec, err := json.Marshal(sc.Spec)
	if err != nil {
		return 0, fmt.Errorf("encode schedule spec: %w", err)
	}
	var id int64
	err = s.pool.QueryRow(ctx, `
		INSERT INTO schedules (team, framework, spec, created_by, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5) RETURNING id`,
		sc.Team, sc.Framework, spec, sc.CreatedBy, sc.CreatedAt).Scan(&id)
	return id, err
}

// ScheduleUpdate replaces a schedule's spec.
func (s *Store) ScheduleUpdate(ctx context.Context, id int64, spec wire.ScheduleSpec, at time.Time) error {
	b, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("encode schedule spec: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE schedules SET spec = $2, updated_at = $3 WHERE id = $1`, id, b, at)
	if err == nil && tag.RowsAffected() == 0 {
		err = ErrNotFound
	}
	return err
}

// ScheduleDelete removes a schedule.
func (s *Store) ScheduleDelete(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM schedules WHERE id = $1`, id)
	if err == nil && tag.RowsAffected() == 0 {
		err = ErrNotFound
	}
	return err
}

const scheduleSelect = `SELECT id, team, framework, spec, created_by, created_at, updated_at FROM schedules`

func scanSchedule(r pgx.Row) (Schedule, error) {
	var (
		sc   Schedule
		spec []byte
	)
	if err := r.Scan(&sc.ID, &sc.Team, &sc.Framework, &spec, &sc.CreatedBy, &sc.CreatedAt, &sc.UpdatedAt); err != nil {
		return sc, err
	}
	if err := json.Unmarshal(spec, &sc.Spec); err != nil {
		return sc, fmt.Errorf("decode schedule %d's spec: %w", sc.ID, err)
	}
	return sc, nil
}

// ScheduleGet returns a schedule, or ErrNotFound.
func (s *Store) ScheduleGet(ctx context.Context, id int64) (*Schedule, error) {
	sc, err := scanSchedule(s.pool.QueryRow(ctx, scheduleSelect+` WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err)
	}
	return &sc, nil
}

// ScheduleList lists a framework's schedules, oldest first.
func (s *Store) ScheduleList(ctx context.Context, team, framework string) ([]Schedule, error) {
	rows, err := s.pool.Query(ctx, scheduleSelect+` WHERE team = $1 AND framework = $2 ORDER BY id`, team, framework)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Schedule{}
	for rows.Next() {
		sc, err := scanSchedule(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, rows.Err()
}
