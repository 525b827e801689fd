package main

// The development server: what `task demo`, `task dev`, the tests and the
// benchmark suite run. It is the server of the compose deployment in
// another mode (one build of go.temporal.io/server serves both), configured
// as the Temporal CLI's `server start-dev` does (temporalio/cli,
// temporalcli/devserver, MIT licence): SQLite persistence in memory or in a
// file, every service in this process on loopback, no authorization, and
// the web UI (github.com/temporalio/ui-server) when asked for.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.temporal.io/server/common/membership/static"
	"go.temporal.io/server/common/metrics"
	"go.temporal.io/server/common/persistence/sql"
	"go.temporal.io/server/common/persistence/sql/sqlplugin"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/common/resolver"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"

	"github.com/pitwall/pitwall/deploy/temporal/devflags"
)

// runDev starts the dev server and serves until SIGINT or SIGTERM.
func runDev(args []string) error {
	o, err := devflags.Parse(args)
	if err != nil {
		return err
	}
	logger := log.NewZapLogger(log.BuildZapLogger(log.Config{Stdout: true, Level: o.LogLevel, Format: "console"}))
	if os.Getenv("GOGC") == "" {
		// One process holds all four services and the database: it
		// allocates fast and keeps little, and collected at the default
		// (100) spent a fourteenth of its CPU in garbage collection under
		// the throughput bench.
		debug.SetGCPercent(devGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dyn := dynamicconfig.StaticClient{
		// As the CLI's dev server: more visibility requests and persistence
		// operations a second than a production default allows.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		dynamicconfig.FrontendPersistenceMaxQPS.Key():                    10000,
		dynamicconfig.HistoryPersistenceMaxQPS.Key():                     45000,
	}
	for k, v := range o.Dynamic {
		dyn[dynamicconfig.MakeKey(k)] = v
	}
	srv, err := newServer(o, logger, dyn)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer func() { _ = srv.Stop() }()
	if o.UIPort != 0 {
		ui := uiserver.NewServer(uioptions.WithConfigProvider(&uiconfig.Config{
			Host:                o.IP,
			Port:                o.UIPort,
			TemporalGRPCAddress: net.JoinHostPort(o.IP, strconv.Itoa(o.Port)),
			EnableUI:            true,
			CORS:                uiconfig.CORS{CookieInsecure: true},
			HideLogs:            true,
		}))
		uiErr := make(chan error, 1)
		go func() { uiErr <- ui.Start() }()
		defer ui.Stop()
		select {
		case err := <-uiErr:
			return fmt.Errorf("web UI on port %d: %w", o.UIPort, err)
		case <-time.After(200 * time.Millisecond): // listening, or it would have failed by now
		}
	}
	logger.Info("pitwall-temporal dev server ready", tag.WorkflowNamespace(o.Namespace),
		tag.NewStringTag("frontend", net.JoinHostPort(o.IP, strconv.Itoa(o.Port))))
	<-ctx.Done()
	return nil
}

// devGCPercent is the dev server's GOGC unless the environment sets one.
const devGCPercent = 300

// portTries is how many times newServer picks the services' ports.
const portTries = 5

// newServer builds the server on the frontend's port and free ports for
// the rest. A free port can be taken between its pick and the server's
// bind (by any connection's ephemeral port): the ports are then picked
// again, up to portTries times.
func newServer(o devflags.Options, logger log.Logger, dyn dynamicconfig.StaticClient) (temporal.Server, error) {
	for try := 1; ; try++ {
		cfg, err := serverConfig(o)
		if err != nil {
			return nil, err
		}
		hosts := map[primitives.ServiceName]static.Hosts{}
		for name, svc := range cfg.Services {
			hosts[primitives.ServiceName(name)] = static.SingleLocalHost(net.JoinHostPort(o.IP, strconv.Itoa(svc.RPC.GRPCPort)))
		}
		srv, err := temporal.NewServer(
			temporal.ForServices(temporal.DefaultServices), // frontend, history, matching, worker
			temporal.WithStaticHosts(hosts),
			temporal.WithConfig(cfg),
			temporal.WithLogger(logger),
			temporal.WithDynamicConfigClient(dyn),
		)
		if err == nil {
			return srv, nil
		}
		inUse := errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")
		if !inUse || try == portTries {
			return nil, fmt.Errorf("new server: %w", err)
		}
		logger.Warn("a port was taken before the server bound it; picking the ports again", tag.Error(err))
	}
}

// serverConfig is the dev server's configuration: one history shard, SQLite,
// archival off, each service but the frontend on a free port.
func serverConfig(o devflags.Options) (*config.Config, error) {
	httpPort, err := freePort(o.IP)
	if err != nil {
		return nil, err
	}
	frontend := net.JoinHostPort(o.IP, strconv.Itoa(o.Port))
	var cfg config.Config
	cfg.Global.Membership.MaxJoinDuration = 30 * time.Second
	cfg.Global.Membership.BroadcastAddress = o.IP
	sql, err := sqlConfig(o)
	if err != nil {
		return nil, err
	}
	cfg.Persistence.DefaultStore = "sqlite-default"
	cfg.Persistence.VisibilityStore = "sqlite-default"
	cfg.Persistence.NumHistoryShards = 1
	cfg.Persistence.DataStores = map[string]config.DataStore{"sqlite-default": {SQL: sql}}
	cfg.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        "active",
		CurrentClusterName:       "active",
		ClusterInformation: map[string]cluster.ClusterInformation{"active": {
			Enabled:                true,
			InitialFailoverVersion: 1,
			RPCAddress:             frontend,
			HTTPAddress:            net.JoinHostPort(o.IP, strconv.Itoa(httpPort)),
			ClusterID:              "pitwall-dev",
		}},
	}
	cfg.DCRedirectionPolicy.Policy = "noop"
	cfg.Services = map[string]config.Service{}
	for _, name := range temporal.DefaultServices {
		svc := config.Service{RPC: config.RPC{BindOnIP: o.IP}}
		if name == string(primitives.FrontendService) {
			svc.RPC.GRPCPort, svc.RPC.HTTPPort = o.Port, httpPort
		} else if svc.RPC.GRPCPort, err = freePort(o.IP); err != nil {
			return nil, err
		}
		cfg.Services[name] = svc
	}
	cfg.Archival.History.State = "disabled"
	cfg.Archival.Visibility.State = "disabled"
	cfg.NamespaceDefaults.Archival.History.State = "disabled"
	cfg.NamespaceDefaults.Archival.Visibility.State = "disabled"
	cfg.PublicClient.HostPort = frontend
	cfg.Global.PProf.Port, cfg.Global.PProf.Host = o.PProfPort, o.IP
	return &cfg, nil
}

// sqlConfig is the SQLite store: in memory (a random name, so that two dev
// servers in one process could not share it) or in o.DBFile, whose schema
// is set up when the file is new. The namespace and its search attributes
// are created in the database before the server starts, so they exist when
// the frontend first answers (a namespace already in the file is kept as
// it is).
func sqlConfig(o devflags.Options) (*config.SQL, error) {
	c := &config.SQL{PluginName: sqliteplugin.PluginName}
	fresh := true // a new database: its search attributes are mapped by this start
	if o.DBFile == "" {
		c.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
		c.DatabaseName = strconv.Itoa(rand.IntN(9_999_999))
	} else {
		c.ConnectAttributes = map[string]string{"mode": "rwc"}
		c.DatabaseName = o.DBFile
		_, err := os.Stat(o.DBFile)
		fresh = errors.Is(err, os.ErrNotExist)
		if fresh {
			if _, err := os.Stat(filepath.Dir(o.DBFile)); err != nil {
				return nil, fmt.Errorf("the database file's folder: %w", err)
			}
			if err := sqliteschema.SetupSchema(c); err != nil {
				return nil, fmt.Errorf("set up the schema in %s: %w", o.DBFile, err)
			}
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig("active", o.Namespace, false, o.Search)
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", o.Namespace, err)
	}
	if err := sqliteschema.CreateNamespaces(c, ns); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", o.Namespace, err)
	}
	if fresh {
		if err := trimVisibility(c, ns.Detail.Config.CustomSearchAttributeAliases); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// unqueriedIndexes are the indexes of Temporal's SQLite visibility table
// (schema/sqlite/v3/visibility) on columns that neither Pitwall nor the
// web UI's lists and filters search by. Every visibility write (a
// workflow's start, each search-attribute upsert, its close) updates every
// index of the table, and a REPLACE updates each twice: with Temporal's 58
// the visibility writes were 29% of the dev server's CPU under the
// benchmark's load (docs/performance.md). A query on one of these columns
// still answers, by a scan. The pre-allocated custom columns (Keyword01,
// Int01, ...) keep their index when a search attribute is mapped to them.
var unqueriedIndexes = []string{
	"by_history_length", "by_history_size_bytes", "by_execution_duration", "by_state_transition_count",
	"by_parent_run_id", "by_root_run_id", "by_batcher_user", "by_temporal_scheduled_start_time",
	"by_temporal_schedule_paused", "by_temporal_namespace_division", "by_temporal_pause_info",
	"by_temporal_worker_deployment_version", "by_temporal_workflow_versioning_behavior", "by_temporal_worker_deployment",
	"by_temporal_bool_01", "by_temporal_bool_02", "by_temporal_datetime_01", "by_temporal_datetime_02",
	"by_temporal_double_01", "by_temporal_double_02", "by_temporal_int_01", "by_temporal_int_02",
	"by_temporal_keyword_01", "by_temporal_keyword_02", "by_temporal_keyword_03", "by_temporal_keyword_04",
	"by_temporal_low_cardinality_keyword_01",
}

// trimVisibility drops unqueriedIndexes and the indexes of the
// pre-allocated custom columns that no search attribute is mapped to
// (aliases: column to search attribute).
func trimVisibility(c *config.SQL, aliases map[string]string) error {
	db, err := sql.NewSQLAdminDB(sqlplugin.DbKindVisibility, c, resolver.NewNoopResolver(), log.NewNoopLogger(), metrics.NoopMetricsHandler)
	if err != nil {
		return fmt.Errorf("open the visibility store: %w", err)
	}
	defer db.Close()
	drop := slices.Clone(unqueriedIndexes)
	for kind, n := range map[string]int{"bool": 3, "datetime": 3, "double": 3, "int": 3, "keyword": 10} {
		for i := 1; i <= n; i++ {
			column := fmt.Sprintf("%s%02d", strings.ToUpper(kind[:1])+kind[1:], i)
			if _, used := aliases[column]; !used {
				drop = append(drop, fmt.Sprintf("by_%s_%02d", kind, i))
			}
		}
	}
	for _, index := range drop {
		if err := db.Exec("DROP INDEX IF EXISTS " + index); err != nil {
			return fmt.Errorf("drop visibility index %s: %w", index, err)
		}
	}
	return nil
}

// freePort is a port on ip that nothing listens on. The port is connected to
// and the connection closed from the listening side, which leaves it in
// TIME_WAIT: the kernel then does not hand it out for another bind to port 0
// (another dev server starting beside this one) for a minute, while this
// server may still bind it (Go sets SO_REUSEADDR), as the CLI does.
func freePort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	addr := l.Addr().(*net.TCPAddr)
	c, err := net.DialTCP("tcp", nil, addr)
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	s.Close()
	return addr.Port, nil
}
