package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
)

// writeCert writes a self-signed certificate and its key as PEM files.
func writeCert(t *testing.T) (cert, key string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pitwall-worker"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(priv)
	require.NoError(t, err)
	dir := t.TempDir()
	cert, key = filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	require.NoError(t, os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	return cert, key
}

func TestTemporalOptions(t *testing.T) {
	t.Parallel()
	plain := Temporal{Address: "127.0.0.1:7233", Namespace: "default"}
	o, err := plain.Options()
	require.NoError(t, err)
	require.Nil(t, o.ConnectionOptions.TLS)
	require.Nil(t, o.Credentials)

	cert, key := writeCert(t)
	mtls := Temporal{Address: "t.example:7233", Namespace: "perf", TLSCert: cert, TLSKey: key, TLSCA: cert, TLSServerName: "t.example"}
	require.NoError(t, mtls.Validate())
	o, err = mtls.Options()
	require.NoError(t, err)
	require.Len(t, o.ConnectionOptions.TLS.Certificates, 1)
	require.NotNil(t, o.ConnectionOptions.TLS.RootCAs)
	require.Equal(t, "t.example", o.ConnectionOptions.TLS.ServerName)

	key2 := Temporal{Address: "ns.tmprl.cloud:7233", Namespace: "ns", APIKey: "secret"}
	o, err = key2.Options()
	require.NoError(t, err)
	require.NotNil(t, o.ConnectionOptions.TLS, "an API key implies TLS")
	require.NotNil(t, o.Credentials)

	half := Temporal{Address: "a:1", Namespace: "n", TLSCert: cert}
	require.Error(t, half.Validate())
	bad := Temporal{Address: "a:1", Namespace: "n", TLSCA: key}
	_, err = bad.Options()
	require.ErrorContains(t, err, "holds no PEM certificate")
}

// A flag takes its value from the environment unless the command line
// gives one; a value the flag cannot take names the variable.
func TestEnvFlag(t *testing.T) {
	parse := func(args ...string) (int64, error) {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		n := fs.Int64("n", 7, "")
		err := EnvFlag(fs, "n", "PITWALL_TEST_N")
		require.NoError(t, fs.Parse(args))
		return *n, err
	}
	n, err := parse()
	require.NoError(t, err)
	require.Equal(t, int64(7), n, "unset: the default")

	t.Setenv("PITWALL_TEST_N", "12")
	n, err = parse()
	require.NoError(t, err)
	require.Equal(t, int64(12), n)
	n, err = parse("-n", "3")
	require.NoError(t, err)
	require.Equal(t, int64(3), n, "the command line wins")

	t.Setenv("PITWALL_TEST_N", "lots")
	_, err = parse()
	require.ErrorContains(t, err, `PITWALL_TEST_N="lots"`)
}

// TestTemporalCompression: requests go uncompressed unless gzip is asked
// for, and another value is refused before any dial.
func TestTemporalCompression(t *testing.T) {
	t.Setenv("TEMPORAL_COMPRESSION", "")
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var c Temporal
	c.Flags(fs)
	require.NoError(t, fs.Parse(nil))
	require.NoError(t, c.Validate())
	o, err := c.Options()
	require.NoError(t, err)
	require.IsType(t, &client.GrpcCompressionNone{}, o.ConnectionOptions.GrpcCompression)

	require.NoError(t, fs.Parse([]string{"--temporal-compression", "gzip"}))
	require.NoError(t, c.Validate())
	o, err = c.Options()
	require.NoError(t, err)
	require.IsType(t, &client.GrpcCompressionGzip{}, o.ConnectionOptions.GrpcCompression)

	require.NoError(t, fs.Parse([]string{"--temporal-compression", "zstd"}))
	require.ErrorContains(t, c.Validate(), `temporal compression "zstd" must be none or gzip`)
	_, err = c.Options()
	require.Error(t, err)
}
