package warm

import (
	_ "github.com/a-h/templ"
	_ "github.com/compose-spec/compose-go/v2/loader"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/pressly/goose/v3"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "go.temporal.io/sdk/client"
	_ "go.temporal.io/sdk/testsuite"
	_ "go.temporal.io/sdk/worker"
	_ "go.temporal.io/server/temporaltest"
	_ "go.yaml.in/yaml/v3"
)
