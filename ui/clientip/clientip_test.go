package clientip

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// A header is believed only from a trusted proxy, and with
// X-Forwarded-For only up to the first address that is not a trusted
// proxy: what a client writes into the header never becomes its address.
func TestClientAddress(t *testing.T) {
	t.Parallel()
	xff, err := Parse("10.0.0.0/8, 192.0.2.1, fd00::/8", "x-forwarded-for")
	require.NoError(t, err)
	realIP, err := Parse("10.0.0.1", "X-Real-Ip")
	require.NoError(t, err)
	for _, c := range []struct {
		name   string
		r      *Resolver
		peer   string
		header []string
		want   string
	}{
		{"no proxies trusted", nil, "203.0.113.7:5000", []string{"198.51.100.1"}, "203.0.113.7"},
		{"spoofed header from an untrusted peer", xff, "203.0.113.7:5000", []string{"198.51.100.1"}, "203.0.113.7"},
		{"client behind the proxy", xff, "10.1.2.3:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"client's own forgery left of its address", xff, "10.1.2.3:5000", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1"},
		{"chain of trusted proxies", xff, "10.1.2.3:5000", []string{"1.1.1.1, 198.51.100.1, 192.0.2.1, 10.9.9.9"}, "198.51.100.1"},
		{"several header lines are one list", xff, "10.1.2.3:5000", []string{"1.1.1.1", "198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"no header: the proxy itself", xff, "10.1.2.3:5000", nil, "10.1.2.3"},
		{"garbage after a trusted hop", xff, "10.1.2.3:5000", []string{"198.51.100.1, not-an-ip, 10.9.9.9"}, "10.9.9.9"},
		{"garbage only", xff, "10.1.2.3:5000", []string{"<script>"}, "10.1.2.3"},
		{"addresses with ports and brackets", xff, "10.1.2.3:5000", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"IPv6 proxy", xff, "[fd00::5]:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"IPv4-mapped peer", xff, "[::ffff:10.1.2.3]:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"all hops trusted", xff, "10.1.2.3:5000", []string{"10.5.5.5"}, "10.5.5.5"},
		{"X-Real-IP from the proxy", realIP, "10.0.0.1:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"X-Real-IP from another", realIP, "10.0.0.2:5000", []string{"198.51.100.1"}, "10.0.0.2"},
		{"X-Real-IP malformed", realIP, "10.0.0.1:5000", []string{"1.1.1.1, 2.2.2.2"}, "10.0.0.1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		name := ForwardedFor
		if c.r != nil {
			name = c.r.Header()
		}
		for _, h := range c.header {
			r.Header.Add(name, h)
		}
		require.Equal(t, c.want, c.r.Of(r), c.name)
	}
	// The other header is never read.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:5000"
	r.Header.Set(ForwardedFor, "198.51.100.1")
	require.Equal(t, "10.0.0.1", realIP.Of(r))
}

func TestParse(t *testing.T) {
	t.Parallel()
	r, err := Parse("", "")
	require.NoError(t, err)
	require.Nil(t, r, "no proxies: nothing is trusted")
	_, err = Parse("10.0.0.0/33", "")
	require.Error(t, err)
	_, err = Parse("proxy.example", "")
	require.Error(t, err)
	_, err = Parse("10.0.0.1", "Forwarded")
	require.ErrorContains(t, err, "X-Forwarded-For or X-Real-IP")
	r, err = Parse(" 10.0.0.1 ,", "")
	require.NoError(t, err)
	require.Equal(t, ForwardedFor, r.Header())
}
