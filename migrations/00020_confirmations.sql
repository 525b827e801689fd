-- +goose Up
-- Confirmations (issue 21): runs of a test's baseline commit (arm A) and
-- its own commit (arm B), interleaved on one host, until a sequential test
-- says whether the test's regression is real. Each run is a test of its
-- own (tests.confirmation_arm 'A' or 'B'), kept out of baselines, change
-- points, trends and alerts. A bisection (kind 'bisect') is the same kind
-- of series over the commits between a good and a bad end: its runs are
-- 'A' (the good end), 'M' (the step's middle commit) and 'B' (the bad
-- end), and bisect holds where it stands (confirm.BisectResult).
CREATE TABLE confirmations (
    id          bigserial   PRIMARY KEY,
    kind        text        NOT NULL DEFAULT 'confirm' CHECK (kind IN ('confirm', 'bisect')),
    parent_id   bigint      REFERENCES confirmations (id) ON DELETE SET NULL,
    commits     text[]      NOT NULL DEFAULT '{}',
    bisect      jsonb,
    test_id     bigint      NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    base_test   bigint      REFERENCES tests (id) ON DELETE SET NULL,
    base_commit text        NOT NULL,
    cand_commit text        NOT NULL,
    host        text        NOT NULL DEFAULT '',
    kpis        jsonb       NOT NULL,
    budget      integer     NOT NULL,
    run_order   text        NOT NULL,
    state       text        NOT NULL DEFAULT 'running',
    result      jsonb       NOT NULL DEFAULT '[]',
    reason      text        NOT NULL DEFAULT '',
    started_by  text        NOT NULL,
    auto        boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    CHECK (state IN ('running', 'confirmed', 'not-confirmed', 'found', 'range', 'unknown', 'failed', 'cancelled'))
);
CREATE INDEX confirmations_test ON confirmations (test_id, id DESC);
CREATE UNIQUE INDEX confirmations_one_running ON confirmations (test_id) WHERE state = 'running';

ALTER TABLE tests
    ADD COLUMN confirmation_id  bigint REFERENCES confirmations (id) ON DELETE SET NULL,
    ADD COLUMN confirmation_arm text   NOT NULL DEFAULT '';
CREATE INDEX tests_confirmation ON tests (confirmation_id, id) WHERE confirmation_id IS NOT NULL;

-- +goose Down
ALTER TABLE tests DROP COLUMN confirmation_id, DROP COLUMN confirmation_arm;
DROP TABLE confirmations;
