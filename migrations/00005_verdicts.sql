-- +goose Up
ALTER TABLE tests
    ADD COLUMN verdict        text     NOT NULL DEFAULT '',
    ADD COLUMN compare_to     bigint,
    ADD COLUMN baseline_tests bigint[] NOT NULL DEFAULT '{}';

-- The verdict on each KPI of a test, with its evidence.
CREATE TABLE test_kpi_verdicts (
    test_id     bigint           NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    kpi         text             NOT NULL,
    verdict     text             NOT NULL,
    delta_pct   double precision NOT NULL,
    ci_low_pct  double precision NOT NULL,
    ci_high_pct double precision NOT NULL,
    p_value     double precision NOT NULL,
    method      text             NOT NULL,
    baseline_n  integer          NOT NULL,
    candidate_n integer          NOT NULL,
    evidence    text             NOT NULL,
    PRIMARY KEY (test_id, kpi)
);

-- +goose Down
DROP TABLE test_kpi_verdicts;
ALTER TABLE tests DROP COLUMN verdict, DROP COLUMN compare_to, DROP COLUMN baseline_tests;
