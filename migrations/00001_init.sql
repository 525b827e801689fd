-- +goose Up
-- Agents: one row per host-pinned worker, kept fresh by its heartbeats.
CREATE TABLE agents (
    name          text PRIMARY KEY,
    labels        jsonb       NOT NULL DEFAULT '{}',
    facts         jsonb       NOT NULL DEFAULT '{}',
    version       text        NOT NULL DEFAULT '',
    registered_at timestamptz NOT NULL DEFAULT now(),
    last_seen     timestamptz NOT NULL DEFAULT now()
);

-- Frameworks and their versions: a change makes a new version, and every
-- test keeps pointing at the version it ran with.
CREATE TABLE frameworks (
    id              bigserial PRIMARY KEY,
    team            text        NOT NULL,
    name            text        NOT NULL,
    current_version integer     NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (team, name)
);

CREATE TABLE framework_versions (
    framework_id bigint      NOT NULL REFERENCES frameworks (id) ON DELETE CASCADE,
    version      integer     NOT NULL,
    spec         jsonb       NOT NULL,
    digest       text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (framework_id, version)
);

CREATE TABLE tests (
    id                bigserial PRIMARY KEY,
    framework_id      bigint      NOT NULL REFERENCES frameworks (id),
    framework_version integer     NOT NULL,
    params            jsonb       NOT NULL DEFAULT '[]',
    commit_sha        text        NOT NULL DEFAULT '',
    branch            text        NOT NULL DEFAULT '',
    pr                integer,
    tags              jsonb       NOT NULL DEFAULT '{}',
    baseline          boolean     NOT NULL DEFAULT false,
    owner             text        NOT NULL DEFAULT '',
    state             text        NOT NULL DEFAULT 'queued',
    reason            text        NOT NULL DEFAULT '',
    host              text        NOT NULL DEFAULT '',
    exit_code         integer,
    notes             jsonb       NOT NULL DEFAULT '[]',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    ended_at          timestamptz,
    FOREIGN KEY (framework_id, framework_version) REFERENCES framework_versions (framework_id, version),
    CHECK (state IN ('queued', 'waiting', 'setup', 'running', 'collating',
                     'finished', 'failed', 'aborted', 'timed_out'))
);
CREATE INDEX tests_framework_idx ON tests (framework_id, id DESC);
CREATE INDEX tests_state_idx ON tests (state) WHERE ended_at IS NULL;

-- Every state a test entered, once, with when and why.
CREATE TABLE test_transitions (
    test_id bigint      NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    state   text        NOT NULL,
    at      timestamptz NOT NULL,
    reason  text        NOT NULL DEFAULT '',
    PRIMARY KEY (test_id, state)
);

-- KPIs as the script reported them; iteration counts from 1.
CREATE TABLE test_kpis (
    test_id   bigint           NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    iteration integer          NOT NULL,
    name      text             NOT NULL,
    value     double precision NOT NULL,
    unit      text             NOT NULL DEFAULT '',
    raw       text             NOT NULL DEFAULT '',
    PRIMARY KEY (test_id, iteration, name)
);

-- +goose Down
DROP TABLE test_kpis, test_transitions, tests, framework_versions, frameworks, agents;
