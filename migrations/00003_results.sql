-- +goose Up
-- Every file a script left in its results directory, kept whole.
CREATE TABLE artifacts (
    test_id      bigint      NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    path         text        NOT NULL,
    size         bigint      NOT NULL,
    sha256       text        NOT NULL,
    content_type text        NOT NULL,
    content      bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (test_id, path)
);

-- CSV files other than results.csv, as tables: header, rows kept as text,
-- and which columns are numeric.
CREATE TABLE test_tables (
    test_id bigint  NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    name    text    NOT NULL,
    header  jsonb   NOT NULL,
    rows    jsonb   NOT NULL,
    numeric jsonb   NOT NULL,
    PRIMARY KEY (test_id, name)
);

-- Notes about a test's inputs (bad CSV lines, refused artifacts), by source
-- so that each source can be replaced on its own.
CREATE TABLE test_notes (
    test_id bigint NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    source  text   NOT NULL,
    seq     int    NOT NULL,
    note    text   NOT NULL,
    PRIMARY KEY (test_id, source, seq)
);

-- The environment a test ran in: per host facts and per test digests.
ALTER TABLE tests ADD COLUMN fingerprint jsonb NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE tests DROP COLUMN fingerprint;
DROP TABLE test_notes, test_tables, artifacts;
