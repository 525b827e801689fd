-- +goose Up
-- Hardware fingerprints (issue 21, part 3): the hardware a test's
-- execution host had when it ran (CPU model, CPUs, threads per core,
-- memory rounded to GiB; wire.Facts.Hardware), so baselines can be drawn
-- from tests on the same hardware only. Filled at collation; tests
-- collated before this migration get it from the facts their fingerprint
-- kept, with the same formula.
ALTER TABLE tests ADD COLUMN hardware text NOT NULL DEFAULT '';
UPDATE tests SET hardware = format('%s · %s CPUs · %s threads/core · %s GiB',
        fingerprint->'hosts'->host->>'cpu_model',
        fingerprint->'hosts'->host->>'cores',
        COALESCE(fingerprint->'hosts'->host->>'threads_per_core', '0'),
        round(COALESCE(fingerprint->'hosts'->host->>'memory_bytes', '0')::numeric / 1073741824))
WHERE host <> '' AND COALESCE(fingerprint->'hosts'->host->>'cores', '0')::int > 0;

-- +goose Down
ALTER TABLE tests DROP COLUMN hardware;
