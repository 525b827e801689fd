-- +goose Up
-- Change points in each KPI's history on the baseline branch, per set of
-- parameter values: found by E-divisive means with a t-test, appended to as
-- tests arrive, and accepted as intended by a team admin.
CREATE TABLE change_points (
    id           bigserial PRIMARY KEY,
    framework_id bigint           NOT NULL REFERENCES frameworks (id) ON DELETE CASCADE,
    kpi          text             NOT NULL,
    params       jsonb            NOT NULL,
    test_id      bigint           NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    before_mean  double precision NOT NULL,
    after_mean   double precision NOT NULL,
    delta_pct    double precision NOT NULL,
    p_value      double precision NOT NULL,
    accepted_by  text             NOT NULL DEFAULT '',
    accepted_at  timestamptz,
    created_at   timestamptz      NOT NULL DEFAULT now(),
    UNIQUE (framework_id, kpi, params, test_id)
);

-- +goose Down
DROP TABLE change_points;
