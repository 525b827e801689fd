-- +goose Up
-- Retention and roll-ups (issue 22). Samples and logs are partitioned by
-- time so that expiry drops a day's partition instead of deleting rows:
--
--   sample_chunks           PARTITION BY LIST (kept)
--     sample_chunks_kept      kept = true: rows of tests that must outlive
--                             their day (baselines, pinned tests, tests an
--                             open alert names), moved here before a drop
--     sample_chunks_live      kept = false, PARTITION BY RANGE (first_ts)
--       sample_chunks_live_YYYYMMDD   one per UTC day, made ahead by the
--                                     retention job
--       sample_chunks_live_default    whatever no day partition takes, so
--                                     ingest never fails
--
-- test_logs is cut the same way on ts. Readers and ingest use the parent
-- tables as before.

-- Tests a user wants kept whatever the retention says.
ALTER TABLE tests ADD COLUMN pinned boolean NOT NULL DEFAULT false;

-- A team's retention; a team without a row has the defaults of
-- store.DefaultRetention.
CREATE TABLE team_retention (
    team               text PRIMARY KEY REFERENCES teams (name) ON DELETE CASCADE,
    raw_days           integer     NOT NULL CHECK (raw_days BETWEEN 1 AND 3650),
    rollup_10s_days    integer     NOT NULL CHECK (rollup_10s_days BETWEEN 1 AND 3650),
    rollup_1m_days     integer     NOT NULL CHECK (rollup_1m_days BETWEEN 1 AND 3650),
    log_days           integer     NOT NULL CHECK (log_days BETWEEN 1 AND 3650),
    artifact_max_bytes bigint      NOT NULL CHECK (artifact_max_bytes >= 0),
    updated_by         text        NOT NULL DEFAULT '',
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- What retention did to a test: when its series were rolled up, and when
-- its raw samples, logs and artifacts went.
CREATE TABLE test_retention (
    test_id           bigint PRIMARY KEY REFERENCES tests (id) ON DELETE CASCADE,
    rolled_up_at      timestamptz,
    raw_expired_at    timestamptz,
    logs_expired_at   timestamptz,
    artifacts_expired_at timestamptz,
    rollup_10s_expired_at timestamptz,
    rollup_1m_expired_at  timestamptz
);

-- Roll-ups of a test's series: one row per series and step (10 s, 1 min),
-- the buckets' mean, minimum and maximum as real (a chart needs no more
-- than 7 digits). Bucket i starts at first_ts + idx[i] * step (idx is NULL
-- when no bucket is missing, then idx[i] = i - 1).
CREATE TABLE sample_rollups (
    test_id  bigint      NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    step_ms  integer     NOT NULL,
    host     text        NOT NULL,
    metric   text        NOT NULL,
    first_ts timestamptz NOT NULL,
    last_ts  timestamptz NOT NULL,
    n        integer     NOT NULL,
    idx      integer[],
    avg      real[]      NOT NULL,
    min      real[]      NOT NULL,
    max      real[]      NOT NULL,
    PRIMARY KEY (test_id, step_ms, host, metric)
);

-- Samples, partitioned (see above); the rows are copied and the old table
-- dropped.
ALTER TABLE sample_chunks RENAME TO sample_chunks_old;
ALTER INDEX sample_chunks_series_idx RENAME TO sample_chunks_old_series_idx;
CREATE TABLE sample_chunks (
    test_id  bigint             NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    host     text               NOT NULL,
    metric   text               NOT NULL,
    first_ts timestamptz        NOT NULL,
    last_ts  timestamptz        NOT NULL,
    n        integer            NOT NULL,
    ts       bigint[]           NOT NULL, -- Unix milliseconds
    vals     double precision[] NOT NULL,
    batch    text               NOT NULL DEFAULT '',
    kept     boolean            NOT NULL DEFAULT false,
    CHECK (n = cardinality(ts) AND n = cardinality(vals) AND n > 0)
) PARTITION BY LIST (kept);
CREATE TABLE sample_chunks_kept PARTITION OF sample_chunks FOR VALUES IN (true);
CREATE TABLE sample_chunks_live PARTITION OF sample_chunks FOR VALUES IN (false) PARTITION BY RANGE (first_ts);
CREATE TABLE sample_chunks_live_default PARTITION OF sample_chunks_live DEFAULT;
CREATE INDEX sample_chunks_series_idx ON sample_chunks (test_id, host, metric, first_ts);

-- Logs, partitioned likewise; ids keep coming from the same sequence, and
-- a partitioned table has no primary key without the partition keys, so
-- (test_id, id), which every reader uses, is the index.
ALTER SEQUENCE test_logs_id_seq OWNED BY NONE;
ALTER TABLE test_logs RENAME TO test_logs_old;
ALTER INDEX test_logs_test_idx RENAME TO test_logs_old_test_idx;
CREATE TABLE test_logs (
    id      bigint      NOT NULL DEFAULT nextval('test_logs_id_seq'),
    test_id bigint      NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    ts      timestamptz NOT NULL,
    stream  text        NOT NULL,
    line    text        NOT NULL,
    kept    boolean     NOT NULL DEFAULT false
) PARTITION BY LIST (kept);
CREATE TABLE test_logs_kept PARTITION OF test_logs FOR VALUES IN (true);
CREATE TABLE test_logs_live PARTITION OF test_logs FOR VALUES IN (false) PARTITION BY RANGE (ts);
CREATE TABLE test_logs_live_default PARTITION OF test_logs_live DEFAULT;
CREATE INDEX test_logs_test_idx ON test_logs (test_id, id);

-- Sample arrays compressed as 00007 chose: lz4 where the server has it.
-- +goose StatementBegin
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sample_chunks', 'sample_chunks_kept', 'sample_chunks_live', 'sample_chunks_live_default'] LOOP
        BEGIN
            EXECUTE format('ALTER TABLE %I ALTER COLUMN ts SET COMPRESSION lz4, ALTER COLUMN vals SET COMPRESSION lz4', t);
        EXCEPTION WHEN feature_not_supported THEN
            EXECUTE format('ALTER TABLE %I ALTER COLUMN ts SET STORAGE EXTERNAL, ALTER COLUMN vals SET STORAGE EXTERNAL', t);
        END;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- retention_day_partition makes the partition of parent (a _live table)
-- for one UTC day, if it is missing: a table like the parent, holding the
-- rows of that day that the default partition had, attached. It returns
-- whether it made one. The retention job calls it for the days ahead, and
-- for the days it finds in the default partition.
-- +goose StatementBegin
CREATE FUNCTION retention_day_partition(parent text, col text, day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    part text := parent || '_' || to_char(day, 'YYYYMMDD');
    lo   timestamptz := day::timestamp AT TIME ZONE 'UTC';
    hi   timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION)', part, parent);
    -- The bound as a constraint, so ATTACH need not scan the table.
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (%I >= %L AND %I < %L)', part, part || '_bound', col, lo, col, hi);
    EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= %L AND %I < %L RETURNING *) INSERT INTO %I SELECT * FROM moved',
                   parent || '_default', col, lo, col, hi, part);
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, part, lo, hi);
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', part, part || '_bound');
    RETURN true;
END
$$;
-- +goose StatementEnd

-- The days the existing rows fall on get partitions before the copy, so
-- the retention job finds them in day partitions, not the default one.
-- +goose StatementBegin
DO $$
DECLARE
    d date;
BEGIN
    FOR d IN SELECT DISTINCT (first_ts AT TIME ZONE 'UTC')::date FROM sample_chunks_old LOOP
        PERFORM retention_day_partition('sample_chunks_live', 'first_ts', d);
    END LOOP;
    FOR d IN SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date FROM test_logs_old LOOP
        PERFORM retention_day_partition('test_logs_live', 'ts', d);
    END LOOP;
END
$$;
-- +goose StatementEnd

INSERT INTO sample_chunks (test_id, host, metric, first_ts, last_ts, n, ts, vals, batch)
SELECT test_id, host, metric, first_ts, last_ts, n, ts, vals, batch FROM sample_chunks_old;
DROP TABLE sample_chunks_old;

INSERT INTO test_logs (id, test_id, ts, stream, line)
SELECT id, test_id, ts, stream, line FROM test_logs_old;
DROP TABLE test_logs_old;
ALTER SEQUENCE test_logs_id_seq OWNED BY test_logs.id;

-- +goose Down
ALTER SEQUENCE test_logs_id_seq OWNED BY NONE;
CREATE TABLE test_logs_flat (
    id      bigint      PRIMARY KEY DEFAULT nextval('test_logs_id_seq'),
    test_id bigint      NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    ts      timestamptz NOT NULL,
    stream  text        NOT NULL,
    line    text        NOT NULL
);
INSERT INTO test_logs_flat SELECT id, test_id, ts, stream, line FROM test_logs;
DROP TABLE test_logs;
ALTER TABLE test_logs_flat RENAME TO test_logs;
ALTER TABLE test_logs RENAME CONSTRAINT test_logs_flat_pkey TO test_logs_pkey;
CREATE INDEX test_logs_test_idx ON test_logs (test_id, id);
ALTER SEQUENCE test_logs_id_seq OWNED BY test_logs.id;

CREATE TABLE sample_chunks_flat (
    test_id  bigint             NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    host     text               NOT NULL,
    metric   text               NOT NULL,
    first_ts timestamptz        NOT NULL,
    last_ts  timestamptz        NOT NULL,
    n        integer            NOT NULL,
    ts       bigint[]           NOT NULL,
    vals     double precision[] NOT NULL,
    batch    text               NOT NULL DEFAULT '',
    CHECK (n = cardinality(ts) AND n = cardinality(vals) AND n > 0)
);
INSERT INTO sample_chunks_flat SELECT test_id, host, metric, first_ts, last_ts, n, ts, vals, batch FROM sample_chunks;
DROP TABLE sample_chunks;
ALTER TABLE sample_chunks_flat RENAME TO sample_chunks;
CREATE INDEX sample_chunks_series_idx ON sample_chunks (test_id, host, metric, first_ts);

DROP FUNCTION retention_day_partition(text, text, date);
DROP TABLE sample_rollups, test_retention, team_retention;
ALTER TABLE tests DROP COLUMN pinned;
