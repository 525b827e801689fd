package main

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/sealed"
)

func load(t *testing.T, dir string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	require.NoError(t, err)
	ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(ca))
	return pair, pool
}

// An agent's certificate and Temporal's complete a mutual TLS handshake,
// and the server sees the agent's name in the subject.
func TestCertificatesMakeMutualTLS(t *testing.T) {
	t.Parallel()
	p := &PKI{Dir: t.TempDir()}
	require.NoError(t, p.Apply(Standard([]string{"agent-1"}, nil), nil))

	srvPair, srvPool := load(t, filepath.Join(p.Dir, "temporal"))
	cliPair, cliPool := load(t, filepath.Join(p.Dir, "agent-agent-1"))
	a, b := net.Pipe()
	server := tls.Server(a, &tls.Config{Certificates: []tls.Certificate{srvPair}, ClientCAs: srvPool,
		ClientAuth: tls.RequireAndVerifyClientCert})
	client := tls.Client(b, &tls.Config{Certificates: []tls.Certificate{cliPair}, RootCAs: cliPool, ServerName: "temporal"})
	errc := make(chan error, 1)
	go func() { errc <- client.Handshake() }()
	require.NoError(t, server.Handshake())
	require.NoError(t, <-errc)
	require.Equal(t, "agent:agent-1", server.ConnectionState().PeerCertificates[0].Subject.CommonName)

	// A client certificate cannot serve: it lacks the server usage.
	leaf, err := x509.ParseCertificate(cliPair.Certificate[0])
	require.NoError(t, err)
	_, err = leaf.Verify(x509.VerifyOptions{Roots: cliPool, DNSName: "temporal"})
	require.Error(t, err)

	info, err := os.Stat(filepath.Join(p.Dir, "agent-agent-1", "key.pem"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	_, err = os.Stat(filepath.Join(p.Dir, "agent-agent-1", "ca-key.pem"))
	require.ErrorIs(t, err, os.ErrNotExist, "the CA's key stays in ca/")
}

// Running it again keeps what exists and signs new agents with the same CA.
func TestApplyIsIdempotent(t *testing.T) {
	t.Parallel()
	p := &PKI{Dir: t.TempDir()}
	require.NoError(t, p.Apply(Standard([]string{"a"}, nil), nil))
	before, err := os.ReadFile(filepath.Join(p.Dir, "server", "cert.pem"))
	require.NoError(t, err)

	require.NoError(t, p.Apply(Standard([]string{"a", "b"}, []string{"temporal.example"}), nil))
	after, err := os.ReadFile(filepath.Join(p.Dir, "server", "cert.pem"))
	require.NoError(t, err)
	require.Equal(t, before, after)
	pair, pool := load(t, filepath.Join(p.Dir, "agent-b"))
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	require.NoError(t, err)
	_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	require.NoError(t, err)
}

func TestOwnersAreChecked(t *testing.T) {
	t.Parallel()
	p := &PKI{Dir: t.TempDir()}
	for _, bad := range []string{"server", "server=1", "server=a:b", "nobody=1:1"} {
		require.Error(t, p.Apply(Standard(nil, nil), []string{bad}), bad)
	}
	if os.Geteuid() == 0 {
		require.NoError(t, p.Apply(Standard(nil, nil), []string{"server=10001:10001"}))
		info, err := os.Stat(filepath.Join(p.Dir, "server", "key.pem"))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	}
}

// The secrets key is made once and given to the identities named, the
// same in each, kept across runs, and opens what the other sealed.
func TestSecretsKeyIsSharedAndKept(t *testing.T) {
	t.Parallel()
	p := &PKI{Dir: t.TempDir(), SecretsKey: []string{"server", "worker"}}
	require.NoError(t, p.Apply(Standard(nil, nil), nil))
	server, err := sealed.LoadBox(filepath.Join(p.Dir, "server", "secrets.key"))
	require.NoError(t, err)
	worker, err := sealed.LoadBox(filepath.Join(p.Dir, "worker", "secrets.key"))
	require.NoError(t, err)
	plain, err := worker.Open(server.Seal([]byte("ghp_x"), "github:t:credential"), "github:t:credential")
	require.NoError(t, err)
	require.Equal(t, "ghp_x", string(plain))
	before, err := os.ReadFile(filepath.Join(p.Dir, "server", "secrets.key"))
	require.NoError(t, err)
	require.NoError(t, p.Apply(Standard(nil, nil), nil))
	after, err := os.ReadFile(filepath.Join(p.Dir, "server", "secrets.key"))
	require.NoError(t, err)
	require.Equal(t, before, after, "kept")
	info, err := os.Stat(filepath.Join(p.Dir, "server", "secrets.key"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	require.NoFileExists(t, filepath.Join(p.Dir, "operator", "secrets.key"))
}
