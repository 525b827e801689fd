// Package pgcluster runs a private PostgreSQL cluster from the server
// binaries on this machine: for the dev stack (under .pitwall/) and for
// tests (in a temporary directory).
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/reach"
)

// ErrNoServer means no PostgreSQL server binaries were found.
var ErrNoServer = errors.New("PostgreSQL server binaries (initdb, postgres) not found")

// BinDir finds the directory holding initdb and postgres: Debian's
// /usr/lib/postgresql/<newest>/bin, else pg_config --bindir, else $PATH.
func BinDir() (string, error) {
	if dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(dirs) > 0 {
		sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
		for _, d := range dirs {
			if exists(filepath.Join(d, "initdb")) && exists(filepath.Join(d, "postgres")) {
				return d, nil
			}
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if exists(filepath.Join(d, "initdb")) && exists(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		d := filepath.Dir(p)
		if exists(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", ErrNoServer
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Install installs Debian's postgresql package. It needs root and apt-get.
func Install(ctx context.Context, out io.Writer) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w; install them (Debian: apt-get install postgresql) or set PITWALL_DATABASE_URL", ErrNoServer)
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("%w and apt-get is not available; install PostgreSQL or set PITWALL_DATABASE_URL", ErrNoServer)
	}
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "postgresql"}} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("apt-get %s: %w", strings.Join(args, " "), err)
		}
	}
	return nil
}

// Options configure a cluster.
type Options struct {
	// Root holds data/, run/ (the socket) and postgres.log.
	Root string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// Durable false turns fsync off: right for tests, wrong for anything kept.
	Durable bool
}

// Cluster is a running PostgreSQL server.
type Cluster struct {
	opts Options
	cmd  *exec.Cmd
	done chan struct{}
	// Reused is true when the server was already running and is not ours to stop.
	Reused bool
}

// Start initialises the cluster if needed, starts it and waits until it
// accepts connections. A cluster already running on the same directory (a
// previous run that was killed) is reused.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	if o.Port == 0 {
		if o.Port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return nil, err
	}
	o.Root = root
	c := &Cluster{opts: o, done: make(chan struct{})}
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	data, run := c.dataDir(), filepath.Join(root, "run")
	for _, d := range []string{root, run} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
		if cred != nil {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, fmt.Errorf("give %s to the postgres user: %w", d, err)
			}
		}
	}
	if cred != nil {
		if err := reach.Check(root, "postgres"); err != nil {
			return nil, fmt.Errorf("%w; clone Pitwall elsewhere or set PITWALL_DATABASE_URL", err)
		}
	}
	if !exists(filepath.Join(data, "PG_VERSION")) {
		out, err := c.command(ctx, cred, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
			"--auth=trust", "--encoding=UTF8", "--locale=C").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("initdb %s: %w: %s", data, err, lastLine(out))
		}
	}
	if pid := runningPID(data); pid > 0 {
		if port := runningPort(data); port > 0 {
			c.opts.Port = port
		}
		if err := c.wait(ctx, 10*time.Second); err == nil {
			c.Reused = true
			return c, nil
		}
		return nil, fmt.Errorf("a PostgreSQL server (pid %d) holds %s but does not answer; stop it and retry", pid, data)
	}
	logf, err := os.OpenFile(filepath.Join(root, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	args := []string{"-D", data, "-p", strconv.Itoa(o.Port), "-k", run, "-c", "listen_addresses=127.0.0.1"}
	if !o.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	// Not CommandContext: the server outlives the start-up context.
	c.cmd = c.command(context.Background(), cred, filepath.Join(bin, "postgres"), args...)
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	// Own process group (Ctrl-C is for our parent to handle), and a fast
	// shutdown if our process dies without stopping it.
	c.cmd.SysProcAttr.Setpgid = true
	c.cmd.SysProcAttr.Pdeathsig = syscall.SIGINT
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	go func() { _ = c.cmd.Wait(); close(c.done) }()
	if err := c.wait(ctx, 60*time.Second); err != nil {
		_ = c.Stop()
		return nil, fmt.Errorf("%w (see %s)", err, logf.Name())
	}
	return c, nil
}

func (c *Cluster) dataDir() string { return filepath.Join(c.opts.Root, "data") }

// Port is the TCP port the server listens on.
func (c *Cluster) Port() int { return c.opts.Port }

// URL is the connection URL of database db as user postgres.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.opts.Port, db)
}

// CreateDatabase creates database name unless it exists.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var found bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&found); err != nil {
		return err
	}
	if found {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}

// Stop shuts the server down (fast mode) and waits for it. A reused server
// is left running: it was not ours.
func (c *Cluster) Stop() error {
	if c.cmd == nil || c.cmd.Process == nil {
		return nil
	}
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.done:
		return nil
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
		return errors.New("postgres did not stop in 15s and was killed")
	}
}

// Kill stops the server at once, as a crash would (for tests of durability).
func (c *Cluster) Kill() {
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGQUIT)
		<-c.done
	}
}

func (c *Cluster) wait(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var err error
	for time.Now().Before(deadline) {
		if c.done != nil && c.cmd != nil {
			select {
			case <-c.done:
				return errors.New("postgres exited during start-up")
			default:
			}
		}
		var conn *pgx.Conn
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err = pgx.Connect(cctx, c.URL("postgres"))
		cancel()
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("postgres did not accept connections within %s: %w", limit, err)
}

func (c *Cluster) command(ctx context.Context, cred *syscall.Credential, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Dir = c.opts.Root
	return cmd
}

// runAs returns the postgres user's credentials when we are root, since
// PostgreSQL refuses to run as root; nil otherwise.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs a 'postgres' user to run PostgreSQL as (Debian's postgresql package creates it): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// runningPID returns the PID in postmaster.pid if that process is alive.
func runningPID(data string) int {
	b, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		return 0
	}
	lines := strings.Split(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || pid <= 0 {
		return 0
	}
	if syscall.Kill(pid, 0) != nil {
		return 0
	}
	return pid
}

// runningPort returns the port recorded in postmaster.pid (its 4th line).
func runningPort(data string) int {
	b, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		return 0
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 4 {
		return 0
	}
	port, _ := strconv.Atoi(strings.TrimSpace(lines[3]))
	return port
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}
