-- +goose Up
-- Users may give an address for mail about their tests.
ALTER TABLE users ADD COLUMN email text NOT NULL DEFAULT '';

-- An alert is one problem of one KPI series (framework, KPI, parameter
-- values), or a framework's failing tests of one parameter set: opened by
-- a regression verdict, a change point or a failed test, attached to by
-- later tests of the same problem, acknowledged and resolved. At most one
-- unresolved alert per problem (alerts_unresolved).
CREATE TABLE alerts (
    id              bigserial PRIMARY KEY,
    framework_id    bigint           NOT NULL REFERENCES frameworks (id) ON DELETE CASCADE,
    kind            text             NOT NULL CHECK (kind IN ('regression', 'failure')),
    kpi             text             NOT NULL DEFAULT '',
    params          jsonb            NOT NULL DEFAULT '[]',
    state           text             NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'acknowledged', 'resolved')),
    severity        text             NOT NULL CHECK (severity IN ('minor', 'major', 'critical')),
    delta_pct       double precision NOT NULL DEFAULT 0,
    first_test      bigint           NOT NULL,
    last_test       bigint           NOT NULL,
    first_commit    text             NOT NULL DEFAULT '',
    change_point_id bigint,
    summary         text             NOT NULL DEFAULT '',
    opened_at       timestamptz      NOT NULL DEFAULT now(),
    updated_at      timestamptz      NOT NULL DEFAULT now(),
    acknowledged_by text             NOT NULL DEFAULT '',
    ack_note        text             NOT NULL DEFAULT '',
    resolved_at     timestamptz
);
CREATE UNIQUE INDEX alerts_unresolved ON alerts (framework_id, kind, kpi, params) WHERE state <> 'resolved';
CREATE INDEX alerts_state_idx ON alerts (state, id DESC);

-- An alert's history: opened, attached, escalated, acknowledged, resolved.
-- One event per alert, test and kind, so a retried evaluation adds none.
CREATE TABLE alert_events (
    id       bigserial PRIMARY KEY,
    alert_id bigint      NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    kind     text        NOT NULL,
    test_id  bigint,
    actor    text        NOT NULL DEFAULT '',
    note     text        NOT NULL DEFAULT '',
    severity text        NOT NULL DEFAULT '',
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX alert_events_once ON alert_events (alert_id, kind, test_id) WHERE test_id IS NOT NULL;

-- Tests whose ending was evaluated for alerts (once per test).
CREATE TABLE alert_evaluations (
    test_id bigint PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now()
);

-- A team's notification channels: e-mail addresses, Slack-compatible
-- incoming webhooks and signed webhooks, each with its routing.
CREATE TABLE notify_channels (
    id           bigserial PRIMARY KEY,
    team         text        NOT NULL REFERENCES teams (name) ON DELETE CASCADE,
    name         text        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('email', 'slack', 'webhook')),
    target       text        NOT NULL,
    secret       bytea,
    events       text[]      NOT NULL DEFAULT '{}',
    min_severity text        NOT NULL DEFAULT 'minor',
    frameworks   text[]      NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (team, name)
);

-- One message for one channel about one test's ending (its alert events
-- grouped): what was sent, and each attempt's outcome.
CREATE TABLE notify_deliveries (
    id          bigserial PRIMARY KEY,
    test_id     bigint      NOT NULL,
    team        text        NOT NULL,
    channel     text        NOT NULL,
    kind        text        NOT NULL,
    target      text        NOT NULL,
    alert_ids   bigint[]    NOT NULL DEFAULT '{}',
    events      text[]      NOT NULL DEFAULT '{}',
    subject     text        NOT NULL DEFAULT '',
    body        text        NOT NULL,
    status      text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'retrying', 'failed')),
    attempts    integer     NOT NULL DEFAULT 0,
    last_error  text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (test_id, channel)
);
CREATE INDEX notify_deliveries_alerts ON notify_deliveries USING gin (alert_ids);

-- +goose Down
DROP TABLE notify_deliveries;
DROP TABLE notify_channels;
DROP TABLE alert_evaluations;
DROP TABLE alert_events;
DROP TABLE alerts;
ALTER TABLE users DROP COLUMN email;
