package agents_test

import (
	"os"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/agents"
	"github.com/pitwall/pitwall/service/servicetest"
)

func TestMain(m *testing.M) { os.Exit(servicetest.Main(m)) }

func TestAgentsReportOnlyForThemselves(t *testing.T) {
	t.Parallel()
	svc := agents.New(servicetest.Store, servicetest.Log, prometheus.NewRegistry())
	host := servicetest.Name("host")
	servicetest.Kind(t, svc.Heartbeat(servicetest.AsAgent("other"), host, wire.Heartbeat{}), service.Forbidden, "")
	servicetest.Kind(t, svc.Heartbeat(servicetest.AsAgent(host), "bad name", wire.Heartbeat{}), service.Invalid, "name")
	require.NoError(t, svc.Heartbeat(servicetest.AsAgent(host), host, wire.Heartbeat{}))

	_, err := svc.List(servicetest.AsAgent(host))
	servicetest.Kind(t, err, service.Forbidden, "")
	list, err := svc.List(servicetest.As(t, map[string]auth.Role{}))
	require.NoError(t, err)
	var names []string
	for _, a := range list {
		names = append(names, a.Name)
	}
	require.Contains(t, names, host, "people and CI list the agents")
}

func TestAgentsWriteOnlyForTheirOwnTests(t *testing.T) {
	t.Parallel()
	svc := agents.New(servicetest.Store, servicetest.Log, prometheus.NewRegistry())
	h := ingest.Header{TestID: 1, Host: "h1", Batch: "b1"}
	_, err := svc.WriteLogs(servicetest.AsAgent("h2"), &ingest.Logs{Header: h})
	servicetest.Kind(t, err, service.Forbidden, "")
	_, err = svc.WriteLogs(servicetest.As(t, nil), &ingest.Logs{Header: h})
	servicetest.Kind(t, err, service.Forbidden, "")
	_, err = svc.WriteLogs(servicetest.AsAgent("h1"), &ingest.Logs{Header: ingest.Header{Host: "h1", Batch: "b"}})
	servicetest.Kind(t, err, service.Invalid, "test_id")
	_, err = svc.WriteArtifact(servicetest.AsAgent("h1"), agents.Artifact{TestID: 1, Host: "h1", Path: "../etc/passwd"})
	servicetest.Kind(t, err, service.Invalid, "path")
}
