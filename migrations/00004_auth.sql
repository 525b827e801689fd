-- +goose Up
CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    name          text        NOT NULL UNIQUE,
    password_hash text        NOT NULL,
    site_admin    boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE teams (
    name       text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO teams (name) SELECT DISTINCT team FROM frameworks ON CONFLICT DO NOTHING;
INSERT INTO teams (name) VALUES ('default') ON CONFLICT DO NOTHING;

CREATE TABLE memberships (
    team    text   NOT NULL REFERENCES teams (name) ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    text   NOT NULL CHECK (role IN ('viewer', 'member', 'admin')),
    PRIMARY KEY (team, user_id)
);

-- API tokens for people and CI (kind user: scoped to a team and role, or
-- site-wide for a site admin) and for agents (kind agent: bound to a host).
-- Only a SHA-256 of each token is kept.
CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    hash         text        NOT NULL UNIQUE,
    name         text        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('user', 'agent')),
    user_id      bigint      REFERENCES users (id) ON DELETE CASCADE,
    team         text        REFERENCES teams (name) ON DELETE CASCADE,
    role         text        CHECK (role IN ('viewer', 'member', 'admin')),
    site_admin   boolean     NOT NULL DEFAULT false,
    agent        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz
);

CREATE TABLE sessions (
    hash       text PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

-- Who did what, when and from where.
CREATE TABLE audit_log (
    id     bigserial PRIMARY KEY,
    at     timestamptz NOT NULL DEFAULT now(),
    actor  text        NOT NULL,
    action text        NOT NULL,
    team   text        NOT NULL DEFAULT '',
    target text        NOT NULL DEFAULT '',
    detail text        NOT NULL DEFAULT '',
    remote text        NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_team_idx ON audit_log (team, id DESC);

ALTER TABLE frameworks ADD COLUMN owner text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE frameworks DROP COLUMN owner;
DROP TABLE audit_log, sessions, api_tokens, memberships, teams, users;
