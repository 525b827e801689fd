-- +goose Up
-- Issue 22, point 2: a trend read its framework's tests from
-- tests_trend_idx and then probed test_kpis once per test for the KPI
-- (test_kpis_name_idx, two or three index pages a test, as the tests of
-- a framework are spread among other frameworks'): the page's cost grew
-- with the points drawn. test_kpis keeps its test's framework, so a
-- framework's values of one KPI are one range of test_kpis_trend_idx,
-- newest first, read in a few pages and joined to the tests in one pass.
-- A trigger fills the column on every insert (COPY included); a test
-- never changes framework. The column stays nullable so an insert for a
-- test that does not exist still fails on the foreign key, as before.
ALTER TABLE test_kpis ADD COLUMN framework_id bigint;
UPDATE test_kpis k SET framework_id = t.framework_id FROM tests t WHERE t.id = k.test_id;

-- +goose StatementBegin
CREATE FUNCTION test_kpis_framework() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    SELECT t.framework_id INTO NEW.framework_id FROM tests t WHERE t.id = NEW.test_id;
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER test_kpis_framework BEFORE INSERT ON test_kpis
    FOR EACH ROW EXECUTE FUNCTION test_kpis_framework();
CREATE INDEX test_kpis_trend_idx ON test_kpis (framework_id, name, test_id DESC) INCLUDE (value);

-- +goose Down
DROP INDEX test_kpis_trend_idx;
DROP TRIGGER test_kpis_framework ON test_kpis;
DROP FUNCTION test_kpis_framework();
ALTER TABLE test_kpis DROP COLUMN framework_id;
