package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
