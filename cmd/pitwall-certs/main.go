// Command pitwall-certs makes the certificates for mutual TLS between
// Pitwall's processes and Temporal: a CA, Temporal's server certificate,
// and a client certificate for Pitwall's server, the central worker, each
// agent (common name agent:<host>, which Temporal's authorizer binds to the
// task queue agent.<host>) and operators (the Temporal UI, the temporal CLI).
//
//	pitwall-certs [--dir DIR] [--agent HOST]... [--temporal-name NAME]... [--owner ID=UID:GID]... [--secrets-key ID]...
//
// It is idempotent: what exists is kept, what is missing is made with the
// existing CA. Each identity gets a folder DIR/<id> holding ca.pem, cert.pem
// and key.pem (0600), so that each process is given its own folder and
// nothing else; the CA's key stays in DIR/ca. docker-compose.yml runs it
// as its "pki" service; `go tool task certs` runs it for other deployments.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	var (
		p                              PKI
		agents, names, owners, secrets list
	)
	fs := flag.NewFlagSet("pitwall-certs", flag.ExitOnError)
	fs.StringVar(&p.Dir, "dir", "pki", "folder to keep the CA and one folder per identity in")
	fs.Var(&agents, "agent", "an agent's host name, for a certificate agent:<host> (repeatable)")
	fs.Var(&names, "temporal-name", "a name Temporal's server certificate is valid for, besides temporal, localhost and 127.0.0.1 (repeatable)")
	fs.Var(&owners, "owner", "ID=UID:GID: give the identity's folder and files to this user (repeatable; needs root)")
	fs.Var(&secrets, "secrets-key", "ID: put the deployment's secrets key (--secrets-key-file, made once) in this identity's folder as secrets.key (repeatable: server, worker)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: pitwall-certs [--dir DIR] [--agent HOST]... [--temporal-name NAME]... [--owner ID=UID:GID]...")
		fs.PrintDefaults()
	}
	_ = fs.Parse(os.Args[1:])
	ids := Standard(agents, names)
	p.SecretsKey = secrets
	if err := p.Apply(ids, owners); err != nil {
		fmt.Fprintln(os.Stderr, "pitwall-certs:", err)
		os.Exit(1)
	}
	for _, id := range ids {
		fmt.Printf("%s/%s: %s\n", p.Dir, id.Dir, id.CommonName)
	}
}

// list is a repeatable string flag.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }

func (l *list) Set(s string) error {
	*l = append(*l, s)
	return nil
}
