package agents_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

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
	list, err := svc.List(service.WithPrincipal(context.Background(), &auth.Principal{Kind: auth.KindUser, Name: "root", SiteAdmin: true}))
	require.NoError(t, err)
	var names []string
	for _, a := range list {
		names = append(names, a.Name)
	}
	require.Contains(t, names, host, "site admins list every agent")
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

// heldTest creates a test that held host and returns its ID.
func heldTest(t *testing.T, host string) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	require.NoError(t, servicetest.Store.Pool().QueryRow(ctx, `WITH f AS (
			INSERT INTO frameworks (team, name, current_version) VALUES ($1, 'logs', 1) RETURNING id),
		v AS (INSERT INTO framework_versions (framework_id, version, spec, digest) SELECT id, 1, '{}', '' FROM f)
		INSERT INTO tests (framework_id, framework_version, hosts, state) SELECT id, 1, ARRAY[$2], 'running' FROM f RETURNING id`,
		servicetest.Team(t), host).Scan(&id))
	return id
}

// The server keeps a test's output to its caps whatever the agent sends:
// 25 lines against a cap of 10 (one batch sent twice) keep 10 and one
// marker, which the log and the test's notes show with the count.
func TestAgentsLogsAreCappedByTheServer(t *testing.T) {
	t.Parallel()
	svc := agents.New(servicetest.Store, servicetest.Log, prometheus.NewRegistry())
	svc.LogMaxLines, svc.LogMaxBytes = 10, 1<<20
	host := servicetest.Name("host")
	id := heldTest(t, host)
	as := servicetest.AsAgent(host)
	send := func(batch string, n int) int {
		t.Helper()
		b := &ingest.Logs{Header: ingest.Header{TestID: id, Host: host, Batch: batch}}
		for i := range n {
			b.Lines = append(b.Lines, ingest.Line{TS: time.Now().UnixMilli(), Stream: "stdout", Text: fmt.Sprintf("%s %d", batch, i)})
		}
		written, err := svc.WriteLogs(as, b)
		require.NoError(t, err, "a batch past the cap is accepted, so the agent does not retry it")
		return written
	}
	require.Equal(t, 6, send("a", 6))
	require.Equal(t, 4, send("b", 9))
	require.Equal(t, 0, send("b", 9))
	require.Equal(t, 0, send("c", 10))

	lines, err := servicetest.Store.LogList(context.Background(), id, 0, 100)
	require.NoError(t, err)
	require.Len(t, lines, 11)
	require.Equal(t, "b 3", lines[9].Line)
	marker := "[pitwall] 15 more output lines were dropped: the server's cap is 10 lines or 1 MiB per test"
	require.Equal(t, wire.LogLine{ID: lines[10].ID, TS: lines[10].TS, Stream: ingest.StreamPitwall, Line: marker}, lines[10])
	test, err := servicetest.Store.TestGet(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, []string{marker}, test.Notes)
}

// An agent writes for a test only while the test holds its host, and for
// LateWrites after it ended while no other test has taken the host; it
// never replaces an artifact.
func TestAgentsWriteOnlyWhileTheirTestHoldsTheHost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc := agents.New(servicetest.Store, servicetest.Log, prometheus.NewRegistry())
	host := servicetest.Name("host")
	id := heldTest(t, host)
	as := servicetest.AsAgent(host)
	set := func(sql string, args ...any) {
		t.Helper()
		_, err := servicetest.Store.Pool().Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	write := func() error {
		_, err := svc.WriteLogs(as, &ingest.Logs{Header: ingest.Header{TestID: id, Host: host, Batch: servicetest.Name("b")},
			Lines: []ingest.Line{{TS: time.Now().UnixMilli(), Stream: "stdout", Text: "x"}}})
		return err
	}
	require.NoError(t, write(), "running, the lease not recorded yet")
	set(`INSERT INTO host_leases (host, test_id, since) VALUES ($1, $2, now())`, host, id)
	require.NoError(t, write(), "running and holding the host")

	other := heldTest(t, host)
	set(`UPDATE host_leases SET test_id = $2 WHERE host = $1`, host, other)
	servicetest.Kind(t, write(), service.Forbidden, "")
	set(`DELETE FROM host_leases WHERE host = $1`, host)

	set(`UPDATE tests SET state = 'waiting' WHERE id = $1`, id)
	servicetest.Kind(t, write(), service.Forbidden, "")

	set(`UPDATE tests SET state = 'finished', ended_at = now() - interval '30 seconds' WHERE id = $1`, id)
	require.NoError(t, write(), "a late batch just after the end, the host free")
	set(`INSERT INTO host_leases (host, test_id, since) VALUES ($1, $2, now())`, host, other)
	servicetest.Kind(t, write(), service.Forbidden, "")
	set(`DELETE FROM host_leases WHERE host = $1`, host)
	set(`UPDATE tests SET ended_at = now() - interval '1 hour' WHERE id = $1`, id)
	servicetest.Kind(t, write(), service.Forbidden, "")

	// Artifacts: the same content twice is a retry; other content is refused.
	set(`UPDATE tests SET state = 'running', ended_at = NULL WHERE id = $1`, id)
	put := func(content string) error {
		_, err := svc.WriteArtifact(as, agents.Artifact{TestID: id, Host: host, Path: "out/report.txt",
			Size: int64(len(content)), Body: strings.NewReader(content)})
		return err
	}
	require.NoError(t, put("first"))
	require.NoError(t, put("first"))
	servicetest.Kind(t, put("forged"), service.Conflict, "path")
	var stored []byte
	require.NoError(t, servicetest.Store.Pool().QueryRow(ctx, `SELECT string_agg(data, ''::bytea ORDER BY seq)
		FROM artifact_chunks WHERE test_id = $1`, id).Scan(&stored))
	require.Equal(t, "first", string(stored))
}

// People see only the hosts their teams may use, and which test holds one
// only when they may see that test; labels and teams are a site admin's.
func TestAgentsAreScopedToTeams(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc := agents.New(servicetest.Store, servicetest.Log, prometheus.NewRegistry())
	alpha, beta := servicetest.Team(t), servicetest.Team(t)
	mine, theirs, shared := servicetest.Name("host"), servicetest.Name("host"), servicetest.Name("host")
	for _, h := range []string{mine, theirs, shared} {
		require.NoError(t, svc.Heartbeat(servicetest.AsAgent(h), h, wire.Heartbeat{Labels: map[string]string{"pool": "fast"}}))
	}
	admin := service.WithPrincipal(ctx, &auth.Principal{Kind: auth.KindUser, Name: "root", SiteAdmin: true})
	member := servicetest.As(t, map[string]auth.Role{alpha: auth.Member})
	servicetest.Kind(t, svc.Configure(member, mine, wire.AgentSettings{Teams: []string{alpha}}), service.Forbidden, "")
	servicetest.Kind(t, svc.Configure(admin, mine, wire.AgentSettings{Teams: []string{"no-such-team"}}), service.Invalid, "teams")
	require.NoError(t, svc.Configure(admin, mine, wire.AgentSettings{Labels: map[string]string{"pool": "alpha"}, Teams: []string{alpha}}))
	require.NoError(t, svc.Configure(admin, theirs, wire.AgentSettings{Teams: []string{beta}}))
	require.NoError(t, svc.Configure(admin, shared, wire.AgentSettings{Shared: true}))

	// A test of beta's holds the shared host.
	ctxBeta := servicetest.As(t, map[string]auth.Role{beta: auth.Member})
	var held int64
	require.NoError(t, servicetest.Store.Pool().QueryRow(ctx, `WITH f AS (
			INSERT INTO frameworks (team, name, current_version) VALUES ($1, 'scoped', 1) RETURNING id),
		v AS (INSERT INTO framework_versions (framework_id, version, spec, digest) SELECT id, 1, '{}', '' FROM f)
		INSERT INTO tests (framework_id, framework_version, hosts, state) SELECT id, 1, ARRAY[$2], 'running' FROM f RETURNING id`,
		beta, shared).Scan(&held))
	_, err := servicetest.Store.Pool().Exec(ctx, `INSERT INTO host_leases (host, test_id, since) VALUES ($1, $2, now())`, shared, held)
	require.NoError(t, err)

	seen := func(ctx context.Context) map[string]wire.Agent {
		t.Helper()
		list, err := svc.List(ctx)
		require.NoError(t, err)
		out := map[string]wire.Agent{}
		for _, a := range list {
			if a.Name == mine || a.Name == theirs || a.Name == shared {
				out[a.Name] = a
			}
		}
		return out
	}
	forAlpha := seen(member)
	require.Len(t, forAlpha, 2, "alpha's host and the shared one, not beta's")
	require.Equal(t, map[string]string{"pool": "alpha"}, forAlpha[mine].Labels, "the admin's labels")
	require.Equal(t, map[string]string{"pool": "fast"}, forAlpha[mine].DeclaredLabels, "the agent's, for show")
	require.True(t, forAlpha[shared].Busy)
	require.Zero(t, forAlpha[shared].RunningTest, "alpha may not see beta's test")
	require.Equal(t, held, seen(ctxBeta)[shared].RunningTest)
	require.Len(t, seen(admin), 3)

	set, err := svc.Settings(admin, mine)
	require.NoError(t, err)
	require.Equal(t, []string{alpha}, set.Teams)
	_, err = svc.Settings(member, mine)
	servicetest.Kind(t, err, service.Forbidden, "")
}

// A batch of samples the server accepts counts as the agent's heartbeat:
// the agent skips its own while it ships samples (ingest.Client), and the
// agents list must still show it online.
func TestAgentsSampleBatchIsAHeartbeat(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc := agents.New(servicetest.Store, servicetest.Log, prometheus.NewRegistry())
	host := servicetest.Name("host")
	as := servicetest.AsAgent(host)
	require.NoError(t, svc.Heartbeat(as, host, wire.Heartbeat{}))
	_, err := servicetest.Store.Pool().Exec(ctx, `UPDATE agents SET last_seen = now() - interval '1 hour' WHERE name = $1`, host)
	require.NoError(t, err)
	online := func() bool {
		t.Helper()
		list, err := svc.List(service.WithPrincipal(ctx, &auth.Principal{Kind: auth.KindUser, Name: "root", SiteAdmin: true}))
		require.NoError(t, err)
		for _, a := range list {
			if a.Name == host {
				return a.Online
			}
		}
		t.Fatalf("agent %s is not listed", host)
		return false
	}
	require.False(t, online(), "silent for an hour")
	id := heldTest(t, host)
	_, err = svc.WriteSamples(as, &ingest.Samples{Header: ingest.Header{TestID: id, Host: host, Batch: servicetest.Name("b")},
		Series: []ingest.Series{{Metric: "cpu.user", TS: []int64{1000}, Values: []float64{12}}}})
	require.NoError(t, err)
	require.True(t, online(), "a batch of samples is a sign of life")
}
