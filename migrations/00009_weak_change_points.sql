-- +goose Up
-- A weak change point is statistically significant but smaller than the
-- KPI's threshold: drawn on trends, never alerted on, and not a boundary
-- of the level verdicts compare with (issue 14).
ALTER TABLE change_points ADD COLUMN weak boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE change_points DROP COLUMN weak;
