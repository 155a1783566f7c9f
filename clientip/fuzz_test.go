package clientip_test

import (
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/clientip"
)

// checkResolved checks what holds for every request, whatever its headers:
// the answer is a valid, normalized address, and an untrusted peer is
// answered as it is, so no header can move it.
func checkResolved(t *testing.T, x *clientip.Resolver, r *http.Request, remote string) {
	t.Helper()
	got := x.IP(r)
	peer := new(clientip.Resolver).IP(r)
	if !got.IsValid() {
		t.Fatalf("got invalid IP for RemoteAddr %q, want a valid one", remote)
	}
	if got.Is4In6() || got.Zone() != "" {
		t.Fatalf("got %s, want a normalized address", got)
	}
	trusted := false
	for _, p := range x.TrustedProxies() {
		if p.Contains(peer) {
			trusted = true
		}
	}
	if !trusted && got != peer {
		t.Fatalf("got %s from untrusted peer %s, want the peer", got, peer)
	}
}

func FuzzXFF(f *testing.F) {
	x := mustResolver(f, "10.0.0.0/8, 2001:db8:ffff::/48", clientip.XForwardedFor)
	f.Add("10.0.0.1:80", "198.51.100.1, 10.2.0.1", "")
	f.Fuzz(func(t *testing.T, remote, line1, line2 string) {
		for _, remote := range []string{remote, "10.0.0.1:80", "203.0.113.5:1"} {
			r := request(remote, http.Header{"X-Forwarded-For": {line1, line2}})
			if !new(clientip.Resolver).IP(r).IsValid() {
				continue // not an IP peer: nothing to resolve
			}
			checkResolved(t, x, r, remote)
		}
	})
}

func FuzzForwarded(f *testing.F) {
	x := mustResolver(f, "10.0.0.0/8, 2001:db8:ffff::/48", clientip.Forwarded)
	f.Add("10.0.0.1:80", `for=198.51.100.1;proto=https, for="10.2.0.1:8080"`, "")
	f.Fuzz(func(t *testing.T, remote, line1, line2 string) {
		for _, remote := range []string{remote, "10.0.0.1:80", "203.0.113.5:1"} {
			r := request(remote, http.Header{"Forwarded": {line1, line2}})
			if !new(clientip.Resolver).IP(r).IsValid() {
				continue
			}
			checkResolved(t, x, r, remote)
		}
	})
}
