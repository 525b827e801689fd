-- +goose Up
-- Monitor samples in chunks, as time-series stores keep them: one row holds
-- up to a few thousand points of one series (test, host, metric) as
-- parallel arrays, ts ascending. One row per sample cost a heap tuple and an
-- index entry per point, which capped ingest near the rate PostgreSQL
-- inserts rows; a chunk costs one of each per thousand points. Chunks of one
-- series may overlap (a late batch): readers merge them by time.
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
    CHECK (n = cardinality(ts) AND n = cardinality(vals) AND n > 0)
);

-- One chunk per 2,000 points of each series, in time order.
INSERT INTO sample_chunks (test_id, host, metric, first_ts, last_ts, n, ts, vals, batch)
SELECT test_id, host, metric, min(ts), max(ts), count(*),
       array_agg((extract(epoch FROM ts) * 1000)::bigint ORDER BY ts),
       array_agg(value ORDER BY ts), 'migrated'
FROM (SELECT *, (row_number() OVER (PARTITION BY test_id, host, metric ORDER BY ts) - 1) / 2000 AS chunk
      FROM samples) s
GROUP BY test_id, host, metric, chunk;

CREATE INDEX sample_chunks_series_idx ON sample_chunks (test_id, host, metric, first_ts);
DROP TABLE samples;

-- A chunk's arrays are too big to stay in the row, so PostgreSQL compresses
-- them before moving them out: pglz, the default, halves ingest. lz4 costs
-- about as little as storing them as they are and still shrinks regular
-- series (timestamps a second apart, repeated values) two to three times;
-- where the server is built without lz4, the arrays are stored as they are.
-- +goose StatementBegin
DO $$
BEGIN
    EXECUTE 'ALTER TABLE sample_chunks ALTER COLUMN ts SET COMPRESSION lz4, ALTER COLUMN vals SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported THEN
    ALTER TABLE sample_chunks ALTER COLUMN ts SET STORAGE EXTERNAL, ALTER COLUMN vals SET STORAGE EXTERNAL;
END
$$;
-- +goose StatementEnd

-- +goose Down
CREATE TABLE samples (
    test_id bigint           NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    host    text             NOT NULL,
    metric  text             NOT NULL,
    ts      timestamptz      NOT NULL,
    value   double precision NOT NULL
);
INSERT INTO samples (test_id, host, metric, ts, value)
SELECT c.test_id, c.host, c.metric, 'epoch'::timestamptz + p.t * interval '1 millisecond', p.v
FROM sample_chunks c, unnest(c.ts, c.vals) AS p (t, v);
CREATE INDEX samples_series_idx ON samples (test_id, host, metric, ts);
DROP TABLE sample_chunks;
