-- +goose Up
-- Noise floors (issue 21, part 3): A/A measurements of a host, the same
-- commit of a framework run again and again on it. Each run is a test of
-- its own (tests.confirmation_arm 'AA', tests.noise_id), kept out of
-- baselines, change points, trends and alerts like a confirmation's runs.
CREATE TABLE noise_measurements (
    id                bigserial   PRIMARY KEY,
    host              text        NOT NULL,
    framework_id      bigint      NOT NULL REFERENCES frameworks (id) ON DELETE CASCADE,
    framework_version integer     NOT NULL,
    params            jsonb       NOT NULL,
    commit_sha        text        NOT NULL DEFAULT '',
    runs              integer     NOT NULL,
    state             text        NOT NULL DEFAULT 'running',
    reason            text        NOT NULL DEFAULT '',
    started_by        text        NOT NULL,
    created_at        timestamptz NOT NULL,
    ended_at          timestamptz,
    CHECK (state IN ('running', 'finished', 'failed', 'cancelled'))
);
CREATE UNIQUE INDEX noise_one_running ON noise_measurements (host, framework_id) WHERE state = 'running';

-- One row per measurement and KPI: its CV with the interval, the runs'
-- values (for the next measurement's jump test) and whether the noise
-- jumped against the host's earlier measurements.
CREATE TABLE noise_floors (
    measurement_id bigint           NOT NULL REFERENCES noise_measurements (id) ON DELETE CASCADE,
    host           text             NOT NULL,
    framework_id   bigint           NOT NULL REFERENCES frameworks (id) ON DELETE CASCADE,
    kpi            text             NOT NULL,
    cv             double precision NOT NULL,
    cv_low         double precision NOT NULL,
    cv_high        double precision NOT NULL,
    confidence     double precision NOT NULL,
    run_values     double precision[] NOT NULL,
    jumped         boolean          NOT NULL DEFAULT false,
    evidence       text             NOT NULL DEFAULT '',
    measured_at    timestamptz      NOT NULL,
    PRIMARY KEY (measurement_id, kpi)
);
CREATE INDEX noise_floors_host ON noise_floors (host, framework_id, kpi, measured_at DESC);

ALTER TABLE tests ADD COLUMN noise_id bigint REFERENCES noise_measurements (id) ON DELETE SET NULL;
CREATE INDEX tests_noise ON tests (noise_id, id) WHERE noise_id IS NOT NULL;

-- A host a site admin excluded is never picked for a test that does not
-- name it.
ALTER TABLE agents ADD COLUMN excluded boolean NOT NULL DEFAULT false,
                   ADD COLUMN excluded_reason text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE agents DROP COLUMN excluded, DROP COLUMN excluded_reason;
ALTER TABLE tests DROP COLUMN noise_id;
DROP TABLE noise_floors;
DROP TABLE noise_measurements;
