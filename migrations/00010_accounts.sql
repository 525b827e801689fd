-- +goose Up
-- Accounts that can be disabled (a disabled user cannot sign in and their
-- tokens stop working) and whose passwords change (issue 15).
ALTER TABLE users
    ADD COLUMN disabled_at         timestamptz,
    ADD COLUMN password_changed_at timestamptz;

-- Every session of a user ends when their password changes or they are
-- disabled.
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- A token made with a token records it as its parent: it never outlives
-- it, and revoking the parent revokes it too. A parent is always older
-- than its children, so a token's ancestry has no cycles.
ALTER TABLE api_tokens
    ADD COLUMN parent_id bigint REFERENCES api_tokens (id) ON DELETE CASCADE,
    ADD COLUMN bootstrap boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT api_tokens_parent_older CHECK (parent_id < id);
CREATE INDEX api_tokens_parent_idx ON api_tokens (parent_id) WHERE parent_id IS NOT NULL;
-- Only the server's start-up makes tokens with neither user nor agent.
UPDATE api_tokens SET bootstrap = true WHERE kind = 'user' AND user_id IS NULL;

-- Set once the bootstrap token is retired: the server never makes one
-- again, whatever PITWALL_BOOTSTRAP_TOKEN holds (docs/security.md).
CREATE TABLE bootstrap_retired (
    only_row   boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    retired_at timestamptz NOT NULL DEFAULT now(),
    actor      text        NOT NULL
);

-- +goose Down
DROP TABLE bootstrap_retired;
DROP INDEX api_tokens_parent_idx;
ALTER TABLE api_tokens DROP COLUMN bootstrap, DROP COLUMN parent_id;
DROP INDEX sessions_user_idx;
ALTER TABLE users DROP COLUMN password_changed_at, DROP COLUMN disabled_at;
