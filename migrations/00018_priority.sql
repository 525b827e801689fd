-- +goose Up
-- A test's priority (issue 19): its hosts' lease queues serve higher
-- priorities first, first come first served within one; a test that has
-- waited the central worker's --priority-max-wait behind higher ones is
-- promoted. Tests from before priorities are normal.
ALTER TABLE tests ADD COLUMN priority text NOT NULL DEFAULT 'normal'
    CHECK (priority IN ('low', 'normal', 'high'));
