-- +goose Up
-- Stages of a test beside its states: lease acquired, setup done, script
-- started and ended, and so on. Each named stage is stored once.
CREATE TABLE test_stages (
    test_id bigint      NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    name    text        NOT NULL,
    at      timestamptz NOT NULL,
    detail  text        NOT NULL DEFAULT '',
    PRIMARY KEY (test_id, name)
);

-- Which test holds each host now; written by the host's lease workflow,
-- which is the authority (this table is for pages and the API).
CREATE TABLE host_leases (
    host    text PRIMARY KEY,
    test_id bigint      NOT NULL,
    since   timestamptz NOT NULL
);

ALTER TABLE tests
    ADD COLUMN hosts       text[] NOT NULL DEFAULT '{}',
    ADD COLUMN waiting_for text   NOT NULL DEFAULT '';

-- Batches that agents delivered, so that a retried batch is written once
-- (at-least-once delivery, idempotent writes).
CREATE TABLE ingest_batches (
    test_id bigint      NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    host    text        NOT NULL,
    kind    text        NOT NULL,
    batch   text        NOT NULL,
    at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (test_id, host, kind, batch)
);

-- Monitor samples: one row per host, metric and instant.
CREATE TABLE samples (
    test_id bigint           NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    host    text             NOT NULL,
    metric  text             NOT NULL,
    ts      timestamptz      NOT NULL,
    value   double precision NOT NULL
);
CREATE INDEX samples_series_idx ON samples (test_id, host, metric, ts);

-- Script output, line by line, as the agent read it.
CREATE TABLE test_logs (
    id      bigserial PRIMARY KEY,
    test_id bigint      NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    ts      timestamptz NOT NULL,
    stream  text        NOT NULL,
    line    text        NOT NULL
);
CREATE INDEX test_logs_test_idx ON test_logs (test_id, id);

-- +goose Down
DROP TABLE test_logs, samples, ingest_batches, host_leases, test_stages;
ALTER TABLE tests DROP COLUMN hosts, DROP COLUMN waiting_for;
