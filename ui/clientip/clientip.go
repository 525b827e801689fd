// Package clientip finds the address a request came from: the peer's own,
// or, when the peer is a proxy the server trusts, the address that proxy
// reports. Sign-in budgets and the audit log key on it, so a header is
// believed only from a trusted peer: anyone else could write any address
// into it.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// The headers a trusted proxy may report the client's address in.
const (
	// ForwardedFor lists the addresses a request passed through, each
	// proxy appending the one it received the request from.
	ForwardedFor = "X-Forwarded-For"
	// RealIP holds the one address the proxy received the request from.
	RealIP = "X-Real-IP"
)

// Resolver finds a request's client address. The nil Resolver trusts no
// proxy: the address is always the peer's.
type Resolver struct {
	trusted []netip.Prefix
	header  string
}

// Parse makes a Resolver from a comma-separated list of trusted proxies
// (CIDRs or single addresses) and the header they report the client in
// (ForwardedFor or RealIP, any case; empty means ForwardedFor). An empty
// list trusts no proxy and needs no header.
func Parse(proxies, header string) (*Resolver, error) {
	r := &Resolver{}
	for _, s := range strings.Split(proxies, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("trusted proxy %q is not an address or a CIDR", s)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		r.trusted = append(r.trusted, unmapPrefix(p).Masked())
	}
	switch http.CanonicalHeaderKey(strings.TrimSpace(header)) {
	case "", ForwardedFor:
		r.header = ForwardedFor
	case http.CanonicalHeaderKey(RealIP):
		r.header = RealIP
	default:
		return nil, fmt.Errorf("client address header %q must be %s or %s", header, ForwardedFor, RealIP)
	}
	if len(r.trusted) == 0 {
		return nil, nil
	}
	return r, nil
}

// unmapPrefix writes an IPv4-mapped prefix (::ffff:10.0.0.0/104) as IPv4.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// Header is the header the Resolver reads ("" when it trusts no proxy).
func (r *Resolver) Header() string {
	if r == nil {
		return ""
	}
	return r.header
}

// trusts reports whether a is one of the trusted proxies.
func (r *Resolver) trusts(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Of is the address req came from. From an untrusted peer it is the
// peer's address, whatever the headers say. From a trusted proxy it is
// the address the proxy reports: with X-Forwarded-For, the right-most one
// that is not itself a trusted proxy (everything left of it was written by
// the client, or by proxies we know nothing of); with X-Real-IP, its one
// address. A header that is missing or malformed leaves the peer's address.
func (r *Resolver) Of(req *http.Request) string {
	peer, ok := addr(req.RemoteAddr)
	if !ok {
		return req.RemoteAddr
	}
	if r == nil || !r.trusts(peer) {
		return peer.String()
	}
	if r.header == RealIP {
		if a, ok := parse(req.Header.Get(RealIP)); ok {
			return a.String()
		}
		return peer.String()
	}
	// Several X-Forwarded-For lines read as one list, in order.
	var hops []string
	for _, line := range req.Header.Values(ForwardedFor) {
		hops = append(hops, strings.Split(line, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parse(hops[i])
		if !ok {
			// A trusted proxy writes addresses: this was written by
			// someone else, so the last proxy we trust is all we know.
			break
		}
		client = a
		if !r.trusts(a) {
			break
		}
	}
	return client.String()
}

// addr reads the address of a host:port (or a bare address).
func addr(hostport string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	return parse(host)
}

// parse reads one address as proxies write it: an IPv4 or IPv6 address,
// perhaps in brackets, perhaps with a port.
func parse(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}
