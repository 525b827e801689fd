-- +goose Up
-- Scheduled runs (issue 19, part 3). Temporal owns each schedule (its
-- spec, paused state, next runs and counters, under the Temporal schedule
-- ID pitwall-schedule-<id>); this table only says which team and framework
-- a schedule belongs to, who made it, and what it asks for as it was
-- given, so schedules can be listed and authorised without Temporal.
CREATE TABLE schedules (
    id         bigserial   PRIMARY KEY,
    team       text        NOT NULL REFERENCES teams (name) ON DELETE CASCADE,
    framework  text        NOT NULL,
    spec       jsonb       NOT NULL,
    created_by text        NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX schedules_framework ON schedules (team, framework);

-- +goose Down
DROP TABLE schedules;
