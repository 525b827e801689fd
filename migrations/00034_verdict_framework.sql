-- +goose Up
-- Issue 22, point 2: a trend's points each carry their test's verdict on
-- the KPI. Probed one point at a time (test_kpi_verdicts_trend_idx,
-- 00029), a year's 365 points cost 365 index descents, about half the
-- points' statement. test_kpi_verdicts keeps its test's framework, as
-- test_kpis does since 00030, so the verdicts of a page of points are one
-- range of test_kpi_verdicts_framework_idx (the framework's KPI between
-- the page's oldest and newest tests), merged with the page in one pass.
-- The probe index goes: a baseline's check of its candidates' verdicts
-- reads the new index too, and the rest reads by the primary key. A
-- trigger fills the column on every insert, with 00030's function (both
-- tables name the test test_id); a test never changes framework.
ALTER TABLE test_kpi_verdicts ADD COLUMN framework_id bigint;
UPDATE test_kpi_verdicts v SET framework_id = t.framework_id FROM tests t WHERE t.id = v.test_id;

CREATE TRIGGER test_kpi_verdicts_framework BEFORE INSERT ON test_kpi_verdicts
    FOR EACH ROW EXECUTE FUNCTION test_kpis_framework();
CREATE INDEX test_kpi_verdicts_framework_idx ON test_kpi_verdicts (framework_id, kpi, test_id DESC) INCLUDE (verdict);
DROP INDEX test_kpi_verdicts_trend_idx;

-- +goose Down
CREATE INDEX test_kpi_verdicts_trend_idx ON test_kpi_verdicts (test_id, kpi) INCLUDE (verdict);
DROP INDEX test_kpi_verdicts_framework_idx;
DROP TRIGGER test_kpi_verdicts_framework ON test_kpi_verdicts;
ALTER TABLE test_kpi_verdicts DROP COLUMN framework_id;
