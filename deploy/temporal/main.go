// Command pitwall-temporal is the Temporal server of Pitwall's compose
// deployment: go.temporal.io/server with PostgreSQL persistence, a frontend
// that requires mutual TLS, and an authorizer (authz/) that lets an agent's
// certificate work only on its own host's task queue.
//
//	pitwall-temporal          set up or upgrade the schema, start, register the namespace
//	pitwall-temporal health   exit 0 when the server answers and the namespace exists
//	pitwall-temporal dev      the development server (dev.go): SQLite, loopback, no
//	                          authorization, the web UI if -ui-port is given
//
// Settings come from the environment: TEMPORAL_CONFIG (the config file,
// default /etc/temporal/config.yaml; it reads TEMPORAL_DB_PASSWORD and the
// others it names), TEMPORAL_NAMESPACE (default "default"),
// TEMPORAL_ADMINS (common names given every API, comma-separated).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.temporal.io/server/common/membership/static"
	_ "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql" // the postgres12_pgx plugin
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/tools/sql"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/pitwall/pitwall/deploy/temporal/authz"
)

// internalFrontend is where the system workers, the namespace registration
// and the health check reach the server: loopback only, inside the process's
// own container, trusted without a certificate (Temporal's internal-frontend).
const internalFrontend = "127.0.0.1:7236"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "health" {
		if err := health(); err != nil {
			fmt.Fprintln(os.Stderr, "pitwall-temporal health:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "dev" {
		if err := runDev(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "pitwall-temporal dev:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pitwall-temporal:", err)
		os.Exit(1)
	}
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func run() error {
	if os.Getenv("TEMPORAL_DB_PASSWORD") == "" {
		return errors.New("set TEMPORAL_DB_PASSWORD")
	}
	cfg, err := config.Load(config.WithConfigFile(env("TEMPORAL_CONFIG", "/etc/temporal/config.yaml")))
	if err != nil {
		return fmt.Errorf("load config: %w", err)
	}
	logger := log.NewZapLogger(log.BuildZapLogger(cfg.Log))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, store := range []string{cfg.Persistence.DefaultStore, cfg.Persistence.VisibilityStore} {
		if err := setupSchema(ctx, cfg.Persistence.DataStores[store].SQL, store, logger); err != nil {
			return err
		}
	}
	namespace := env("TEMPORAL_NAMESPACE", "default")
	admins := strings.Split(env("TEMPORAL_ADMINS", "pitwall-server,pitwall-worker,operator"), ",")
	// One process holds every service: static membership instead of
	// ringpop's gossip, whose port would listen wherever its service does
	// (the frontend's beyond loopback) and take anyone's word.
	hosts := map[primitives.ServiceName]static.Hosts{}
	for name, svc := range cfg.Services {
		hosts[primitives.ServiceName(name)] = static.SingleLocalHost(fmt.Sprintf("127.0.0.1:%d", svc.RPC.GRPCPort))
	}
	srv, err := temporal.NewServer(
		temporal.ForServices(temporal.Services), // frontend, internal-frontend, history, matching, worker
		temporal.WithStaticHosts(hosts),
		temporal.WithConfig(cfg),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authz.Authorizer{Namespace: namespace}),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper {
			return authz.ClaimMapper{Admins: admins}
		}),
	)
	if err != nil {
		return fmt.Errorf("new server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer func() { _ = srv.Stop() }()
	if err := registerNamespace(ctx, namespace, logger); err != nil {
		return err
	}
	logger.Info("pitwall-temporal ready", tag.WorkflowNamespace(namespace), tag.NewStringsTag("admins", admins))
	<-ctx.Done()
	logger.Info("pitwall-temporal stopping")
	return nil
}

// setupSchema creates the schema's version table on a fresh database and
// brings the schema up to the version this server embeds, as Temporal's
// temporal-sql-tool does (setup-schema -v 0.0, then update-schema). The
// database may still be starting: it is retried for two minutes.
func setupSchema(ctx context.Context, c *config.SQL, store string, logger log.Logger) error {
	if c == nil {
		return fmt.Errorf("datastore %q is not SQL", store)
	}
	host, port, ok := strings.Cut(c.ConnectAddr, ":")
	if !ok {
		return fmt.Errorf("datastore %q: connectAddr %q is not host:port", store, c.ConnectAddr)
	}
	schema := "postgresql/v12/temporal"
	if store == "visibility" {
		schema = "postgresql/v12/visibility"
	}
	// In-process arguments, not a command line: the password is in no argv.
	base := []string{"temporal-sql-tool", "--quiet", "--plugin", c.PluginName, "--ep", host, "--port", port,
		"--user", c.User, "--password", c.Password, "--db", c.DatabaseName}
	steps := [][]string{{"setup-schema", "-v", "0.0"}, {"update-schema", "--schema-name", schema}}
	deadline := time.Now().Add(2 * time.Minute)
	for _, step := range steps {
		for {
			err := sql.RunTool(append(append([]string{}, base...), step...))
			if err == nil {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("schema of %s (%s): %w", c.DatabaseName, step[0], err)
			}
			logger.Warn("schema step failed; retrying", tag.NewStringTag("database", c.DatabaseName), tag.Error(err))
			time.Sleep(2 * time.Second)
		}
	}
	logger.Info("schema up to date", tag.NewStringTag("database", c.DatabaseName))
	return nil
}

// registerNamespace creates the namespace Pitwall works in, once.
func registerNamespace(ctx context.Context, name string, logger log.Logger) error {
	conn, err := grpc.NewClient(internalFrontend, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ws := workflowservice.NewWorkflowServiceClient(conn)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = ws.RegisterNamespace(cctx, &workflowservice.RegisterNamespaceRequest{
			Namespace:                        name,
			Description:                      "Pitwall",
			WorkflowExecutionRetentionPeriod: durationpb.New(7 * 24 * time.Hour),
		})
		cancel()
		var exists *serviceerror.NamespaceAlreadyExists
		if err == nil || errors.As(err, &exists) {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("register namespace %s: %w", name, err)
		}
		logger.Info("namespace not registered yet; retrying", tag.Error(err))
		time.Sleep(time.Second)
	}
}

// health is the container's health check: the internal frontend answers
// and the namespace exists.
func health() error {
	conn, err := grpc.NewClient(internalFrontend, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = workflowservice.NewWorkflowServiceClient(conn).DescribeNamespace(ctx,
		&workflowservice.DescribeNamespaceRequest{Namespace: env("TEMPORAL_NAMESPACE", "default")})
	return err
}
