-- +goose Up
-- Compact samples (issue 22: at most 2 bytes per sample over a year).
--
-- Raw samples: a chunk's times become deltas (dts, integer[]: dts[1] is
-- the first time's offset from first_ts, 0 when written by Pitwall, then
-- each time's distance from the one before, in milliseconds), and its
-- values become real (4 bytes, 7 significant digits, as the roll-ups
-- already are). An agent samples on a regular tick, so the deltas repeat
-- and lz4 shrinks them to almost nothing; absolute 8-byte times did not
-- compress below ~5 bytes a point. Existing chunks are converted in place
-- (one rewrite of sample_chunks and its partitions).
--
-- Roll-ups: the 10-second roll-up keeps the mean only (min and max are
-- NULL); the 1-minute roll-up keeps mean, minimum and maximum. Charts read
-- the means; nothing read the 10-second extremes. Existing roll-ups keep
-- what they hold.

-- sample_dts encodes absolute times (Unix ms) as deltas from first_ts.
CREATE FUNCTION sample_dts(first_ts timestamptz, ts bigint[]) RETURNS integer[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_agg(d ORDER BY o) FROM (
        SELECT o, (t - coalesce(lag(t) OVER (ORDER BY o), (extract(epoch FROM first_ts) * 1000)::bigint))::integer AS d
        FROM unnest(ts) WITH ORDINALITY AS u (t, o)) x
$$;

-- sample_ts decodes deltas back to absolute times (Unix ms), for SQL that
-- reads a chunk's points: unnest(sample_ts(first_ts, dts), vals).
CREATE FUNCTION sample_ts(first_ts timestamptz, dts integer[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_agg(s ORDER BY o) FROM (
        SELECT o, (extract(epoch FROM first_ts) * 1000)::bigint + sum(d::bigint) OVER (ORDER BY o) AS s
        FROM unnest(dts) WITH ORDINALITY AS u (d, o)) x
$$;

ALTER TABLE sample_chunks
    ALTER COLUMN ts TYPE integer[] USING sample_dts(first_ts, ts),
    ALTER COLUMN vals TYPE real[];
ALTER TABLE sample_chunks RENAME COLUMN ts TO dts;

-- lz4 on every partition, as 00007 and 00021 chose.
-- +goose StatementBegin
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT relid FROM pg_partition_tree('sample_chunks') LOOP
        BEGIN
            EXECUTE format('ALTER TABLE %s ALTER COLUMN dts SET COMPRESSION lz4, ALTER COLUMN vals SET COMPRESSION lz4', t);
        EXCEPTION WHEN feature_not_supported THEN
            EXECUTE format('ALTER TABLE %s ALTER COLUMN dts SET STORAGE EXTERNAL, ALTER COLUMN vals SET STORAGE EXTERNAL', t);
        END;
    END LOOP;
END
$$;
-- +goose StatementEnd

ALTER TABLE sample_rollups ALTER COLUMN min DROP NOT NULL, ALTER COLUMN max DROP NOT NULL;

-- +goose Down
UPDATE sample_rollups SET min = avg WHERE min IS NULL;
UPDATE sample_rollups SET max = avg WHERE max IS NULL;
ALTER TABLE sample_rollups ALTER COLUMN min SET NOT NULL, ALTER COLUMN max SET NOT NULL;
ALTER TABLE sample_chunks RENAME COLUMN dts TO ts;
ALTER TABLE sample_chunks
    ALTER COLUMN ts TYPE bigint[] USING sample_ts(first_ts, ts),
    ALTER COLUMN vals TYPE double precision[];
-- +goose StatementBegin
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT relid FROM pg_partition_tree('sample_chunks') LOOP
        BEGIN
            EXECUTE format('ALTER TABLE %s ALTER COLUMN ts SET COMPRESSION lz4, ALTER COLUMN vals SET COMPRESSION lz4', t);
        EXCEPTION WHEN feature_not_supported THEN
            EXECUTE format('ALTER TABLE %s ALTER COLUMN ts SET STORAGE EXTERNAL, ALTER COLUMN vals SET STORAGE EXTERNAL', t);
        END;
    END LOOP;
END
$$;
-- +goose StatementEnd
DROP FUNCTION sample_ts(timestamptz, integer[]);
DROP FUNCTION sample_dts(timestamptz, bigint[]);
