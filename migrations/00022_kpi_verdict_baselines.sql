-- +goose Up
-- The tests each KPI's verdict was reached against (the test's own
-- baseline_tests is their union). Verdicts stored before this are left
-- empty: the pages fall back to the union.
ALTER TABLE test_kpi_verdicts ADD COLUMN baseline_tests bigint[] NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE test_kpi_verdicts DROP COLUMN baseline_tests;
