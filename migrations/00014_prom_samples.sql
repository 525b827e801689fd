-- +goose Up
-- A KPI's PromQL range query (a kpi with a step): its points are the KPI's
-- samples, which a rank test (kpis[].test: mann-whitney) compares with the
-- baseline's, and aggregate says how they became the KPI's value.
ALTER TABLE test_prom_queries
    ADD COLUMN aggregate text NOT NULL DEFAULT '',
    ADD COLUMN samples   double precision[];

-- +goose Down
ALTER TABLE test_prom_queries DROP COLUMN samples, DROP COLUMN aggregate;
