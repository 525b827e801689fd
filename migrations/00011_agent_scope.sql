-- +goose Up
-- What steers host choice is set by site admins, not by agents (issue 15):
-- the labels a heartbeat declares are kept for show, and each host has
-- settings of its own: the labels frameworks match, and the teams whose
-- tests may run on it or watch it (shared: every team's).
ALTER TABLE agents RENAME COLUMN labels TO declared_labels;

CREATE TABLE agent_settings (
    name       text PRIMARY KEY,
    labels     jsonb       NOT NULL DEFAULT '{}',
    teams      text[]      NOT NULL DEFAULT '{}',
    shared     boolean     NOT NULL DEFAULT false,
    updated_by text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Agents registered before keep working as they did: their declared labels
-- become their labels, and every team may use them.
INSERT INTO agent_settings (name, labels, shared, updated_by)
SELECT name, declared_labels, true, 'migration 00011' FROM agents;

-- +goose Down
DROP TABLE agent_settings;
ALTER TABLE agents RENAME COLUMN declared_labels TO labels;
