-- +goose Up
-- An artifact's content in pieces of 1 MiB (store.ArtifactChunk), so that a
-- download reads and sends one piece at a time: the server's memory does
-- not grow with the file, and no connection is held while the client reads.
CREATE TABLE artifact_chunks (
    test_id bigint NOT NULL,
    path    text   NOT NULL,
    seq     int    NOT NULL,
    data    bytea  NOT NULL,
    PRIMARY KEY (test_id, path, seq),
    FOREIGN KEY (test_id, path) REFERENCES artifacts (test_id, path) ON DELETE CASCADE
);

-- Compressed as sample chunks are: lz4 where the server has it, else not
-- at all (pglz is slow, and most artifacts compress poorly anyway).
-- +goose StatementBegin
DO $$
BEGIN
    EXECUTE 'ALTER TABLE artifact_chunks ALTER COLUMN data SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported THEN
    ALTER TABLE artifact_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
END
$$;
-- +goose StatementEnd

INSERT INTO artifact_chunks (test_id, path, seq, data)
SELECT a.test_id, a.path, g.seq, substring(a.content FROM g.seq * 1048576 + 1 FOR 1048576)
FROM artifacts a,
     generate_series(0, (length(a.content) + 1048575) / 1048576 - 1) AS g (seq);

ALTER TABLE artifacts DROP COLUMN content;

-- +goose Down
ALTER TABLE artifacts ADD COLUMN content bytea NOT NULL DEFAULT '';
UPDATE artifacts a
SET content = (SELECT string_agg(c.data, ''::bytea ORDER BY c.seq) FROM artifact_chunks c
               WHERE c.test_id = a.test_id AND c.path = a.path)
WHERE EXISTS (SELECT FROM artifact_chunks c WHERE c.test_id = a.test_id AND c.path = a.path);
ALTER TABLE artifacts ALTER COLUMN content DROP DEFAULT;
DROP TABLE artifact_chunks;
