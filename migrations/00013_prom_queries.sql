-- +goose Up
-- The PromQL queries a test ran over its window (framework key
-- prometheus): the rendered query, when and over what it was evaluated,
-- Prometheus's raw answer and what Pitwall made of it, so that a verdict
-- can be explained and the KPI computed again from the answer.
CREATE TABLE test_prom_queries (
    test_id      bigint           NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    name         text             NOT NULL,
    kind         text             NOT NULL CHECK (kind IN ('kpi', 'series')),
    query        text             NOT NULL,
    window_start timestamptz      NOT NULL,
    window_end   timestamptz      NOT NULL,
    step_ms      bigint           NOT NULL DEFAULT 0,
    evaluated_at timestamptz      NOT NULL,
    raw          jsonb,
    value        double precision,
    problem      text             NOT NULL DEFAULT '',
    warnings     jsonb            NOT NULL DEFAULT '[]',
    PRIMARY KEY (test_id, name)
);

-- +goose Down
DROP TABLE test_prom_queries;
