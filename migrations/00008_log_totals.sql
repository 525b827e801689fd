-- +goose Up
-- What each test's log holds, against the server's caps: output lines and
-- bytes of line text stored, Pitwall's own notices stored (stream pitwall,
-- which have an allowance of their own), lines dropped past the caps, and
-- the line that says how many were dropped. Ingest locks a test's row for
-- the length of a batch, so concurrent batches never pass the caps together.
CREATE TABLE test_log_totals (
    test_id   bigint PRIMARY KEY REFERENCES tests (id) ON DELETE CASCADE,
    lines     bigint NOT NULL DEFAULT 0,
    bytes     bigint NOT NULL DEFAULT 0,
    notices   bigint NOT NULL DEFAULT 0,
    dropped   bigint NOT NULL DEFAULT 0,
    marker_id bigint -- test_logs (id) of the line that counts the dropped lines
);

-- Tests still running go on from what they have stored; an ended test that
-- receives a late batch starts counting from nothing, which a full scan of
-- test_logs at every upgrade is not worth.
INSERT INTO test_log_totals (test_id, lines, bytes, notices)
SELECT l.test_id,
       count(*) FILTER (WHERE l.stream <> 'pitwall'),
       sum(octet_length(l.line)),
       count(*) FILTER (WHERE l.stream = 'pitwall')
FROM test_logs l JOIN tests t ON t.id = l.test_id
WHERE t.ended_at IS NULL
GROUP BY l.test_id;

-- +goose Down
DROP TABLE test_log_totals;
