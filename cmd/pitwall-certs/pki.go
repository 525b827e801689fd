package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pitwall/pitwall/internal/sealed"
)

// Validity of what pitwall-certs makes. Leaf certificates are renewed by
// deleting their folder and running it again.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 825 * 24 * time.Hour
)

// Identity is one certificate to make.
type Identity struct {
	// Dir is the folder under the PKI's folder; CommonName the subject.
	Dir, CommonName string
	// Server marks Temporal's own certificate (server and client use),
	// valid for DNSNames and IPs.
	Server   bool
	DNSNames []string
	IPs      []net.IP
}

// Common names the compose deployment's Temporal server treats as
// administrators (deploy/temporal: TEMPORAL_ADMINS).
const (
	CNServer   = "pitwall-server"
	CNWorker   = "pitwall-worker"
	CNOperator = "operator"
)

// Standard is every identity of a deployment: Temporal's server
// certificate, Pitwall's server and central worker, an operator, and one
// per agent host.
func Standard(agents, temporalNames []string) []Identity {
	ids := []Identity{
		{Dir: "temporal", CommonName: "temporal", Server: true,
			DNSNames: append([]string{"temporal", "localhost"}, temporalNames...),
			IPs:      []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}},
		{Dir: "server", CommonName: CNServer},
		{Dir: "worker", CommonName: CNWorker},
		{Dir: "operator", CommonName: CNOperator},
	}
	for _, a := range agents {
		ids = append(ids, Identity{Dir: "agent-" + a, CommonName: "agent:" + a})
	}
	return ids
}

// PKI is a folder holding a CA and the identities it signed.
type PKI struct {
	Dir string
	// SecretsKey names the identities (folders) that also get the key
	// sealing the secrets Pitwall keeps in its database (secrets.key, made
	// once and kept in the CA's folder): the server and the central worker.
	SecretsKey []string
	now        func() time.Time
}

// Apply makes the CA if it is missing, then each identity that is missing,
// and gives identities their owners ("ID=UID:GID", ID being the folder).
func (p *PKI) Apply(ids []Identity, owners []string) error {
	own, err := parseOwners(owners, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if id.Dir == "ca" || strings.ContainsAny(id.Dir, "/\\") || id.Dir == "" || strings.HasPrefix(id.Dir, ".") {
			return fmt.Errorf("identity folder %q: want a plain name other than ca", id.Dir)
		}
	}
	// Others may enter the folder to reach their own identity's; the CA's
	// folder is its owner's alone.
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return err
	}
	caCert, caKey, caPEM, err := p.ca()
	if err != nil {
		return err
	}
	secrets, err := p.secretsKey()
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := p.issue(id, caCert, caKey, caPEM); err != nil {
			return fmt.Errorf("%s: %w", id.CommonName, err)
		}
		if slices.Contains(p.SecretsKey, id.Dir) {
			if err := writeFile(filepath.Join(p.Dir, id.Dir, "secrets.key"), secrets, 0o600); err != nil {
				return err
			}
		}
		if o, ok := own[id.Dir]; ok {
			if err := chownAll(filepath.Join(p.Dir, id.Dir), o[0], o[1]); err != nil {
				return err
			}
		}
	}
	return nil
}

func parseOwners(owners []string, ids []Identity) (map[string][2]int, error) {
	known := map[string]bool{}
	for _, id := range ids {
		known[id.Dir] = true
	}
	out := map[string][2]int{}
	for _, o := range owners {
		dir, ug, ok1 := strings.Cut(o, "=")
		u, g, ok2 := strings.Cut(ug, ":")
		uid, err1 := strconv.Atoi(u)
		gid, err2 := strconv.Atoi(g)
		if !ok1 || !ok2 || err1 != nil || err2 != nil || uid < 0 || gid < 0 {
			return nil, fmt.Errorf("owner %q: want ID=UID:GID", o)
		}
		if !known[dir] {
			return nil, fmt.Errorf("owner %q: no identity %q", o, dir)
		}
		out[dir] = [2]int{uid, gid}
	}
	return out, nil
}

func (p *PKI) clock() time.Time {
	if p.now != nil {
		return p.now()
	}
	return time.Now()
}

// ca loads the CA, or makes it when the folder holds none.
func (p *PKI) ca() (*x509.Certificate, crypto.Signer, []byte, error) {
	dir := filepath.Join(p.Dir, "ca")
	certPath, keyPath := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	if certPEM, err := os.ReadFile(certPath); err == nil {
		cert, key, err := loadPair(certPEM, keyPath)
		return cert, key, certPEM, err
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	now := p.clock()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Pitwall deployment CA", Organization: []string{"Pitwall"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, nil, err
	}
	if err := writeKey(keyPath, key); err != nil {
		return nil, nil, nil, err
	}
	if err := writeFile(certPath, certPEM, 0o644); err != nil {
		return nil, nil, nil, err
	}
	return cert, key, certPEM, nil
}

// issue makes id's key and certificate unless its folder has them.
func (p *PKI) issue(id Identity, ca *x509.Certificate, caKey crypto.Signer, caPEM []byte) error {
	dir := filepath.Join(p.Dir, id.Dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "ca.pem"), caPEM, 0o644); err != nil {
		return err
	}
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if certPEM, err := os.ReadFile(certPath); err == nil {
		cert, _, err := loadPair(certPEM, keyPath)
		if err != nil {
			return err
		}
		if err := cert.CheckSignatureFrom(ca); err != nil {
			return fmt.Errorf("%s was not signed by %s (remove it to make a new one): %w", certPath, filepath.Join(p.Dir, "ca"), err)
		}
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := p.clock()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: id.CommonName, Organization: []string{"Pitwall"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(leafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if id.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		tmpl.DNSNames, tmpl.IPAddresses = id.DNSNames, id.IPs
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return err
	}
	if err := writeKey(keyPath, key); err != nil {
		return err
	}
	return writeFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func loadPair(certPEM []byte, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	b, _ := pem.Decode(certPEM)
	if b == nil {
		return nil, nil, errors.New("certificate holds no PEM block")
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, nil, fmt.Errorf("%s holds no PEM block", keyPath)
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("%s is not a signing key", keyPath)
	}
	return cert, signer, nil
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return writeFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// writeFile writes through a temporary file, so a crash leaves no half key.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// secretsKey is the deployment's secrets key, made on the first run.
func (p *PKI) secretsKey() ([]byte, error) {
	if len(p.SecretsKey) == 0 {
		return nil, nil
	}
	path := filepath.Join(p.Dir, "ca", "secrets.key")
	if b, err := os.ReadFile(path); err == nil {
		return b, nil
	}
	key := []byte(sealed.NewKey())
	return key, writeFile(path, key, 0o600)
}

func chownAll(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err)
	}
	return n
}
