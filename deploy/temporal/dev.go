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
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

// devOptions are the dev server's flags.
type devOptions struct {
	ip        string
	port      int
	uiPort    int // 0: no web UI
	dbFile    string
	namespace string
	logLevel  string
	dynamic   map[string]any
	// search are the namespace's custom search attributes, in place when
	// the server starts (a worker need not register them and then wait for
	// the server's cache of them to refresh).
	search map[string]enumspb.IndexedValueType
}

// parseDev reads `pitwall-temporal dev`'s flags. A dynamic config value is
// KEY=VALUE, VALUE read as JSON (1000, true, "text") or else as a string.
func parseDev(args []string) (devOptions, error) {
	o := devOptions{dynamic: map[string]any{}, search: map[string]enumspb.IndexedValueType{}}
	fs := flag.NewFlagSet("pitwall-temporal dev", flag.ContinueOnError)
	fs.StringVar(&o.ip, "ip", "127.0.0.1", "the address every service listens on")
	fs.IntVar(&o.port, "port", 7233, "the frontend's gRPC port")
	fs.IntVar(&o.uiPort, "ui-port", 0, "the web UI's port (0: no web UI)")
	fs.StringVar(&o.dbFile, "db-filename", "", "keep the history in this SQLite file (empty: in memory, gone at exit)")
	fs.StringVar(&o.namespace, "namespace", "default", "the namespace to create")
	fs.StringVar(&o.logLevel, "log-level", "warn", "debug, info, warn or error")
	fs.Func("dynamic-config-value", "KEY=VALUE, repeatable: a dynamic config setting (VALUE as JSON, else a string)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return fmt.Errorf("%q is not KEY=VALUE", s)
		}
		o.dynamic[k] = dynamicValue(v)
		return nil
	})
	fs.Func("search-attribute", "NAME=TYPE, repeatable: a search attribute of the namespace (TYPE Keyword, Int, Text, Double, Bool, Datetime or KeywordList)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return fmt.Errorf("%q is not NAME=TYPE", s)
		}
		t, err := enumspb.IndexedValueTypeFromString(v)
		if err != nil || t == enumspb.INDEXED_VALUE_TYPE_UNSPECIFIED {
			return fmt.Errorf("search attribute %s: %q is not a type", k, v)
		}
		o.search[k] = t
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if o.port <= 0 || o.port > 65535 || o.uiPort < 0 || o.uiPort > 65535 {
		return o, errors.New("-port and -ui-port must be TCP ports")
	}
	if net.ParseIP(o.ip) == nil {
		return o, fmt.Errorf("-ip %q is not an IP address", o.ip)
	}
	return o, nil
}

// dynamicValue reads a dynamic config value as JSON, a number as an int
// where it is whole (the server's integer settings take nothing else), and
// anything that is not JSON as a string.
func dynamicValue(v string) any {
	d := json.NewDecoder(strings.NewReader(v))
	d.UseNumber()
	var val any
	if err := d.Decode(&val); err != nil || d.More() {
		return v
	}
	if n, ok := val.(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			return int(i)
		}
		f, _ := n.Float64()
		return f
	}
	return val
}

// runDev starts the dev server and serves until SIGINT or SIGTERM.
func runDev(args []string) error {
	o, err := parseDev(args)
	if err != nil {
		return err
	}
	logger := log.NewZapLogger(log.BuildZapLogger(log.Config{Stdout: true, Level: o.logLevel, Format: "console"}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := o.serverConfig()
	if err != nil {
		return err
	}
	hosts := map[primitives.ServiceName]static.Hosts{}
	for name, svc := range cfg.Services {
		hosts[primitives.ServiceName(name)] = static.SingleLocalHost(net.JoinHostPort(o.ip, strconv.Itoa(svc.RPC.GRPCPort)))
	}
	dyn := dynamicconfig.StaticClient{
		// As the CLI's dev server: more visibility requests and persistence
		// operations a second than a production default allows.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		dynamicconfig.FrontendPersistenceMaxQPS.Key():                    10000,
		dynamicconfig.HistoryPersistenceMaxQPS.Key():                     45000,
	}
	for k, v := range o.dynamic {
		dyn[dynamicconfig.MakeKey(k)] = v
	}
	srv, err := temporal.NewServer(
		temporal.ForServices(temporal.DefaultServices), // frontend, history, matching, worker
		temporal.WithStaticHosts(hosts),
		temporal.WithConfig(cfg),
		temporal.WithLogger(logger),
		temporal.WithDynamicConfigClient(dyn),
	)
	if err != nil {
		return fmt.Errorf("new server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer func() { _ = srv.Stop() }()
	if o.uiPort != 0 {
		ui := uiserver.NewServer(uioptions.WithConfigProvider(&uiconfig.Config{
			Host:                o.ip,
			Port:                o.uiPort,
			TemporalGRPCAddress: net.JoinHostPort(o.ip, strconv.Itoa(o.port)),
			EnableUI:            true,
			CORS:                uiconfig.CORS{CookieInsecure: true},
			HideLogs:            true,
		}))
		uiErr := make(chan error, 1)
		go func() { uiErr <- ui.Start() }()
		defer ui.Stop()
		select {
		case err := <-uiErr:
			return fmt.Errorf("web UI on port %d: %w", o.uiPort, err)
		case <-time.After(200 * time.Millisecond): // listening, or it would have failed by now
		}
	}
	logger.Info("pitwall-temporal dev server ready", tag.WorkflowNamespace(o.namespace),
		tag.NewStringTag("frontend", net.JoinHostPort(o.ip, strconv.Itoa(o.port))))
	<-ctx.Done()
	return nil
}

// serverConfig is the dev server's configuration: one history shard, SQLite,
// archival off, each service but the frontend on a free port.
func (o devOptions) serverConfig() (*config.Config, error) {
	httpPort, err := freePort(o.ip)
	if err != nil {
		return nil, err
	}
	frontend := net.JoinHostPort(o.ip, strconv.Itoa(o.port))
	var cfg config.Config
	cfg.Global.Membership.MaxJoinDuration = 30 * time.Second
	cfg.Global.Membership.BroadcastAddress = o.ip
	sql, err := o.sqlConfig()
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
			HTTPAddress:            net.JoinHostPort(o.ip, strconv.Itoa(httpPort)),
			ClusterID:              "pitwall-dev",
		}},
	}
	cfg.DCRedirectionPolicy.Policy = "noop"
	cfg.Services = map[string]config.Service{}
	for _, name := range temporal.DefaultServices {
		svc := config.Service{RPC: config.RPC{BindOnIP: o.ip}}
		if name == string(primitives.FrontendService) {
			svc.RPC.GRPCPort, svc.RPC.HTTPPort = o.port, httpPort
		} else if svc.RPC.GRPCPort, err = freePort(o.ip); err != nil {
			return nil, err
		}
		cfg.Services[name] = svc
	}
	cfg.Archival.History.State = "disabled"
	cfg.Archival.Visibility.State = "disabled"
	cfg.NamespaceDefaults.Archival.History.State = "disabled"
	cfg.NamespaceDefaults.Archival.Visibility.State = "disabled"
	cfg.PublicClient.HostPort = frontend
	return &cfg, nil
}

// sqlConfig is the SQLite store: in memory (a random name, so that two dev
// servers in one process could not share it) or in o.dbFile, whose schema
// is set up when the file is new. The namespace and its search attributes
// are created in the database before the server starts, so they exist when
// the frontend first answers (a namespace already in the file is kept as
// it is).
func (o devOptions) sqlConfig() (*config.SQL, error) {
	c := &config.SQL{PluginName: sqliteplugin.PluginName}
	if o.dbFile == "" {
		c.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
		c.DatabaseName = strconv.Itoa(rand.IntN(9_999_999))
	} else {
		c.ConnectAttributes = map[string]string{"mode": "rwc"}
		c.DatabaseName = o.dbFile
		if _, err := os.Stat(o.dbFile); errors.Is(err, os.ErrNotExist) {
			if _, err := os.Stat(filepath.Dir(o.dbFile)); err != nil {
				return nil, fmt.Errorf("the database file's folder: %w", err)
			}
			if err := sqliteschema.SetupSchema(c); err != nil {
				return nil, fmt.Errorf("set up the schema in %s: %w", o.dbFile, err)
			}
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig("active", o.namespace, false, o.search)
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", o.namespace, err)
	}
	if err := sqliteschema.CreateNamespaces(c, ns); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", o.namespace, err)
	}
	return c, nil
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
