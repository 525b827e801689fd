// Package config holds the settings Pitwall's processes share, read from
// flags over environment variables over defaults.
package config

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"strings"

	"go.temporal.io/sdk/client"

	"github.com/pitwall/pitwall/internal/sealed"
	"github.com/pitwall/pitwall/internal/secret"
)

// Version is Pitwall's version, set at build time with -ldflags.
var Version = "dev"

// Env returns the environment variable key, or def when it is unset or empty.
func Env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// EnvFlag sets flag name of fs from the environment variable key when that
// is set, before the command line is parsed: a value given as a flag still
// wins. A value the flag does not take is an error naming the variable.
func EnvFlag(fs *flag.FlagSet, name, key string) error {
	v := os.Getenv(key)
	if v == "" {
		return nil
	}
	if err := fs.Set(name, v); err != nil {
		return fmt.Errorf("%s=%q: %w", key, v, err)
	}
	return nil
}

// Temporal says how to reach the Temporal service, with mutual TLS and/or
// an API key where the service requires them (Temporal Cloud does).
type Temporal struct {
	Address   string
	Namespace string
	// TLSCert and TLSKey are the client certificate for mutual TLS; TLSCA
	// verifies the server (system roots when empty); TLSServerName
	// overrides the name checked in the server's certificate.
	TLSCert, TLSKey, TLSCA, TLSServerName string
	// TLS turns TLS on without a client certificate (API-key set-ups).
	TLS bool
	// APIKey is the Temporal Cloud API key; with Flags, Validate reads it
	// from TEMPORAL_API_KEY, TEMPORAL_API_KEY_FILE or the flags.
	APIKey string
	// Compression is the gRPC compression of requests to Temporal: "none"
	// (also "") or "gzip". The SDK's default is gzip, which costs CPU on
	// both ends for messages of a few hundred bytes: on an agent that is
	// CPU taken from the host under test (the agent's footprint), and on a
	// machine that also runs Temporal 4% of all the CPU a test costs
	// (docs/performance.md, "Where Temporal's CPU goes"). gzip is for a
	// slow link to a distant Temporal.
	Compression string
	// PayloadKeyFile holds the key that seals every payload Pitwall puts in
	// Temporal (internal/sealed); every process needs the same one.
	PayloadKeyFile string
	apiKey         secret.Flag
}

// Flags registers the Temporal flags, defaulting from TEMPORAL_ADDRESS and
// TEMPORAL_NAMESPACE.
func (t *Temporal) Flags(fs *flag.FlagSet) {
	fs.StringVar(&t.Address, "temporal-address", Env("TEMPORAL_ADDRESS", "127.0.0.1:7233"), "Temporal frontend host:port (env TEMPORAL_ADDRESS)")
	fs.StringVar(&t.Namespace, "temporal-namespace", Env("TEMPORAL_NAMESPACE", "default"), "Temporal namespace (env TEMPORAL_NAMESPACE)")
	fs.StringVar(&t.TLSCert, "temporal-tls-cert", os.Getenv("TEMPORAL_TLS_CERT"), "client certificate (PEM) for mutual TLS (env TEMPORAL_TLS_CERT)")
	fs.StringVar(&t.TLSKey, "temporal-tls-key", os.Getenv("TEMPORAL_TLS_KEY"), "client key (PEM) for mutual TLS (env TEMPORAL_TLS_KEY)")
	fs.StringVar(&t.TLSCA, "temporal-tls-ca", os.Getenv("TEMPORAL_TLS_CA"), "CA (PEM) that signed the server's certificate (env TEMPORAL_TLS_CA)")
	fs.StringVar(&t.TLSServerName, "temporal-tls-server-name", os.Getenv("TEMPORAL_TLS_SERVER_NAME"), "server name to verify (env TEMPORAL_TLS_SERVER_NAME)")
	fs.BoolVar(&t.TLS, "temporal-tls", os.Getenv("TEMPORAL_TLS") == "true", "use TLS without a client certificate (env TEMPORAL_TLS=true)")
	fs.StringVar(&t.Compression, "temporal-compression", Env("TEMPORAL_COMPRESSION", "none"), "gRPC compression of requests to Temporal: none or gzip (env TEMPORAL_COMPRESSION)")
	fs.StringVar(&t.PayloadKeyFile, "temporal-payload-key-file", os.Getenv("TEMPORAL_PAYLOAD_KEY_FILE"),
		"file holding the key that encrypts what Pitwall stores in Temporal: scripts, parameters, KPIs (env TEMPORAL_PAYLOAD_KEY_FILE; the same on every process)")
	t.apiKey.Flags(fs, "temporal-api-key", "TEMPORAL_API_KEY", "Temporal API key, which implies TLS")
}

// Validate reports a missing or malformed setting; it reads the API key
// the flags name.
func (t *Temporal) Validate() error {
	key, err := t.apiKey.Load(os.Getenv)
	if err != nil {
		return err
	}
	if key != "" {
		t.APIKey = key
	}
	if t.Address == "" || !strings.Contains(t.Address, ":") {
		return fmt.Errorf("temporal address %q must be host:port", t.Address)
	}
	if t.Namespace == "" {
		return fmt.Errorf("temporal namespace is empty")
	}
	if _, err := t.compression(); err != nil {
		return err
	}
	if (t.TLSCert == "") != (t.TLSKey == "") {
		return fmt.Errorf("give both --temporal-tls-cert and --temporal-tls-key, or neither")
	}
	return nil
}

// compression is the gRPC compression Compression names (none when empty).
func (t *Temporal) compression() (client.GrpcCompression, error) {
	switch t.Compression {
	case "", "none":
		return &client.GrpcCompressionNone{}, nil
	case "gzip":
		return &client.GrpcCompressionGzip{}, nil
	}
	return nil, fmt.Errorf("temporal compression %q must be none or gzip", t.Compression)
}

// Warnings says which of the Temporal secrets Validate read from the
// command line.
func (t *Temporal) Warnings() []string { return secret.Warnings(&t.apiKey) }

// Options are the client options for this Temporal service.
func (t *Temporal) Options() (client.Options, error) {
	o := client.Options{HostPort: t.Address, Namespace: t.Namespace}
	var err error
	if o.ConnectionOptions.GrpcCompression, err = t.compression(); err != nil {
		return o, err
	}
	if t.TLS || t.TLSCert != "" || t.TLSCA != "" || t.APIKey != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.TLSServerName}
		if t.TLSCert != "" {
			pair, err := tls.LoadX509KeyPair(t.TLSCert, t.TLSKey)
			if err != nil {
				return o, fmt.Errorf("temporal client certificate: %w", err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		if t.TLSCA != "" {
			pem, err := os.ReadFile(t.TLSCA)
			if err != nil {
				return o, fmt.Errorf("temporal CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return o, fmt.Errorf("temporal CA %s holds no PEM certificate", t.TLSCA)
			}
			cfg.RootCAs = pool
		}
		o.ConnectionOptions.TLS = cfg
	}
	if t.APIKey != "" {
		o.Credentials = client.NewAPIKeyStaticCredentials(t.APIKey)
	}
	if t.PayloadKeyFile != "" {
		codec, err := sealed.Load(t.PayloadKeyFile)
		if err != nil {
			return o, err
		}
		o.DataConverter, o.FailureConverter = codec.DataConverter(), codec.FailureConverter()
	}
	return o, nil
}

// Labels is a repeatable k=v flag.
type Labels map[string]string

func (l Labels) String() string {
	parts := make([]string, 0, len(l))
	for k, v := range l {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

// Set parses one k=v pair.
func (l Labels) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("label %q must be key=value", s)
	}
	l[k] = v
	return nil
}
