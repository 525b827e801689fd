-- +goose Up
-- Issue 22, point 2: the trends and test list pages on a year of tests. Its queries read
-- a framework's finished tests newest first with one KPI's values and
-- verdicts; these indexes let them do so from the indexes alone, a few
-- pages for hundreds of points, instead of a heap page per test (the
-- tests of a framework are spread over the table among other
-- frameworks'). The tests index holds only finished tests outside a
-- confirmation (what a trend draws), so a running test's state changes
-- do not write to it.
CREATE INDEX tests_trend_idx ON tests (framework_id, id DESC)
    INCLUDE (branch, params, created_at, commit_sha)
    WHERE state = 'finished' AND confirmation_arm = '';
CREATE INDEX test_kpis_name_idx ON test_kpis (test_id, name) INCLUDE (value, unit);
CREATE INDEX test_kpi_verdicts_trend_idx ON test_kpi_verdicts (test_id, kpi) INCLUDE (verdict);

-- The test list's branch dropdown: the branches one after the other (a
-- skip scan), each with its newest test, instead of grouping every test.
CREATE INDEX tests_branch_idx ON tests (branch, id DESC);

-- The KPI names each framework's tests have reported, so the trends
-- page's KPI list reads a few rows instead of every KPI row of the
-- framework. Kept by a statement trigger on test_kpis (COPY included); a
-- name stays when its tests go, so readers check that a test still has
-- it (one index probe: the newest tests have it).
CREATE TABLE framework_kpis (
    framework_id bigint NOT NULL REFERENCES frameworks (id) ON DELETE CASCADE,
    name         text   NOT NULL,
    PRIMARY KEY (framework_id, name)
);
INSERT INTO framework_kpis (framework_id, name)
SELECT DISTINCT t.framework_id, k.name FROM test_kpis k JOIN tests t ON t.id = k.test_id;

-- +goose StatementBegin
CREATE FUNCTION framework_kpis_add() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO framework_kpis (framework_id, name)
    SELECT DISTINCT t.framework_id, n.name FROM new_kpis n JOIN tests t ON t.id = n.test_id
    ORDER BY 1, 2 -- one order for every writer: two first reports never wait on each other crosswise
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER test_kpis_framework_kpis AFTER INSERT ON test_kpis
    REFERENCING NEW TABLE AS new_kpis FOR EACH STATEMENT EXECUTE FUNCTION framework_kpis_add();

-- +goose Down
DROP TRIGGER test_kpis_framework_kpis ON test_kpis;
DROP FUNCTION framework_kpis_add();
DROP TABLE framework_kpis;
DROP INDEX tests_branch_idx, test_kpi_verdicts_trend_idx, test_kpis_name_idx, tests_trend_idx;
