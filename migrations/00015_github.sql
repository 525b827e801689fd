-- +goose Up
-- A team's GitHub connection (issue 18): where its GitHub's API is, how
-- Pitwall authenticates (a token, or a GitHub App's installation), and the
-- webhook secret. Credentials are sealed with the server's secrets key
-- (AES-256-GCM, bound to team and field) and never read back by the API.
CREATE TABLE github_connections (
    team            text        PRIMARY KEY REFERENCES teams (name) ON DELETE CASCADE,
    api_url         text        NOT NULL,
    auth            text        NOT NULL CHECK (auth IN ('token', 'app')),
    app_id          bigint      NOT NULL DEFAULT 0,
    installation_id bigint      NOT NULL DEFAULT 0,
    credential      bytea       NOT NULL,
    webhook_secret  bytea       NOT NULL,
    created_by      text        NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

-- Every webhook delivery that passed its signature, and what came of it:
-- GitHub re-delivers, and a delivery is handled once.
CREATE TABLE github_deliveries (
    delivery    text        PRIMARY KEY,
    team        text        NOT NULL REFERENCES teams (name) ON DELETE CASCADE,
    event       text        NOT NULL,
    action      text        NOT NULL DEFAULT '',
    repository  text        NOT NULL DEFAULT '',
    received_at timestamptz NOT NULL,
    outcome     text        NOT NULL DEFAULT 'received',
    detail      text        NOT NULL DEFAULT ''
);
CREATE INDEX github_deliveries_team ON github_deliveries (team, received_at DESC);

-- A pull request Pitwall reports on: its latest head and the one comment
-- Pitwall edits in place.
CREATE TABLE github_pull_requests (
    team       text        NOT NULL REFERENCES teams (name) ON DELETE CASCADE,
    repository text        NOT NULL,
    number     integer     NOT NULL,
    head_sha   text        NOT NULL,
    head_ref   text        NOT NULL DEFAULT '',
    base_ref   text        NOT NULL DEFAULT '',
    fork       boolean     NOT NULL DEFAULT false,
    comment_id bigint      NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (team, repository, number)
);

-- +goose Down
DROP TABLE github_pull_requests;
DROP TABLE github_deliveries;
DROP TABLE github_connections;
