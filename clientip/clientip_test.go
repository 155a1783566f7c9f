package clientip_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/clientip"
)

func mustResolver(t testing.TB, cidrs, header string) *clientip.Resolver {
	t.Helper()
	x := new(clientip.Resolver)
	prefixes, err := clientip.ParseCIDRs(cidrs)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.AddTrustedProxies(prefixes...); err != nil {
		t.Fatal(err)
	}
	if header != "" {
		if err := x.SetHeader(header); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

func request(remote string, header http.Header) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = remote
	for k, vs := range header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return r
}

func TestParseCIDRs(t *testing.T) {
	tests := []struct {
		in   string
		want string // prefixes joined by " ", or the start of the error
		err  bool
	}{
		{in: "", want: ""},
		{in: "  ", want: ""},
		{in: "10.0.0.0/8,192.168.1.7", want: "10.0.0.0/8 192.168.1.7/32"},
		{in: " 10.0.0.0/8 , 2001:db8::/32 ,2001:db8::1 ", want: "10.0.0.0/8 2001:db8::/32 2001:db8::1/128"},
		{in: "::ffff:10.0.0.1", want: "10.0.0.1/32"},
		{in: "::ffff:10.0.0.0/104", want: "10.0.0.0/8"},
		{in: "10.0.0.0/8,nope", want: `clientip: trusted proxy 2 "nope": not an IP address or CIDR prefix`, err: true},
		{in: "10.0.0.0/33", want: `clientip: trusted proxy 1 "10.0.0.0/33": not a CIDR prefix`, err: true},
		{in: "10.1.2.3/8", want: `clientip: trusted proxy 1 "10.1.2.3/8": host bits are set; did you mean 10.0.0.0/8?`, err: true},
		{in: "10.0.0.0/8,", want: `clientip: trusted proxy 2 "": empty entry`, err: true},
		{in: "0.0.0.0/0", want: `clientip: trusted proxy 1 "0.0.0.0/0": trusting every address`, err: true},
		{in: "::/0", want: `clientip: trusted proxy 1 "::/0": trusting every address`, err: true},
		{in: "::ffff:0.0.0.0/96", want: `clientip: trusted proxy 1 "::ffff:0.0.0.0/96": trusting every address`, err: true},
		{in: "fe80::1%eth0", want: `clientip: trusted proxy 1 "fe80::1%eth0": IPv6 zones are not allowed`, err: true},
		{in: "010.0.0.1", want: `clientip: trusted proxy 1 "010.0.0.1": not an IP address`, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := clientip.ParseCIDRs(tt.in)
			if tt.err {
				if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
					t.Fatalf("got error %v, want one starting %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			var parts []string
			for _, p := range got {
				parts = append(parts, p.String())
			}
			if s := strings.Join(parts, " "); s != tt.want {
				t.Errorf("got %q, want %q", s, tt.want)
			}
		})
	}
}

func TestAddTrustedProxiesChecksAll(t *testing.T) {
	var x clientip.Resolver
	err := x.AddTrustedProxies(netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("10.1.0.0/8"))
	if err == nil {
		t.Fatal("got nil error, want one for 10.1.0.0/8")
	}
	if got := x.TrustedProxies(); len(got) != 0 {
		t.Errorf("got %v, want no trusted proxies after an error", got)
	}
	if err := x.AddTrustedProxies(netip.Prefix{}); err == nil {
		t.Error("got nil error for the zero prefix, want one")
	}
}

func TestSetHeader(t *testing.T) {
	var x clientip.Resolver
	for _, name := range []string{"x-forwarded-for", "Forwarded", "FORWARDED"} {
		if err := x.SetHeader(name); err != nil {
			t.Errorf("SetHeader(%q): got %v, want nil", name, err)
		}
	}
	for _, name := range []string{"X-Real-IP", "", "True-Client-IP"} {
		if err := x.SetHeader(name); err == nil {
			t.Errorf("SetHeader(%q): got nil, want an error", name)
		}
	}
}

func TestIP(t *testing.T) {
	const trusted = "10.0.0.0/8, 2001:db8:ffff::/48"
	tests := []struct {
		name   string
		cidrs  string // "" is the zero Resolver
		header string
		remote string
		xff    []string
		fwd    []string
		want   string
	}{
		// The zero value and untrusted peers: only the socket counts.
		{name: "zero value ignores XFF", remote: "203.0.113.5:4000", xff: []string{"198.51.100.1"}, want: "203.0.113.5"},
		{name: "spoofed XFF from untrusted peer", cidrs: trusted, remote: "203.0.113.5:4000", xff: []string{"198.51.100.1, 10.0.0.1"}, want: "203.0.113.5"},
		{name: "spoofed Forwarded from untrusted peer", cidrs: trusted, header: clientip.Forwarded, remote: "203.0.113.5:4000", fwd: []string{"for=198.51.100.1"}, want: "203.0.113.5"},
		{name: "IPv6 peer", remote: "[2001:db8::5]:4000", want: "2001:db8::5"},
		{name: "IPv4-mapped peer", remote: "[::ffff:203.0.113.5]:4000", want: "203.0.113.5"},
		{name: "zoned peer", remote: "[fe80::1%eth0]:4000", want: "fe80::1"},
		{name: "peer without port", remote: "203.0.113.5", want: "203.0.113.5"},
		{name: "unix socket", remote: "@", want: "invalid IP"},
		{name: "empty RemoteAddr", remote: "", want: "invalid IP"},

		// X-Forwarded-For through trusted proxies.
		{name: "one proxy", cidrs: trusted, remote: "10.0.0.1:80", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "trusted peer without header", cidrs: trusted, remote: "10.0.0.1:80", want: "10.0.0.1"},
		{name: "chain of proxies", cidrs: trusted, remote: "10.0.0.1:80", xff: []string{"198.51.100.1, 10.2.0.1,10.3.0.1"}, want: "198.51.100.1"},
		{name: "client-written prefix ignored", cidrs: trusted, remote: "10.0.0.1:80", xff: []string{"1.1.1.1, 2.2.2.2, 198.51.100.1, 10.2.0.1"}, want: "198.51.100.1"},
		{name: "several field lines", cidrs: trusted, remote: "10.0.0.1:80", xff: []string{"1.1.1.1", "198.51.100.1, 10.2.0.1", "10.3.0.1"}, want: "198.51.100.1"},
		{name: "all hops trusted", cidrs: trusted, remote: "10.0.0.1:80", xff: []string{"10.9.9.9, 10.2.0.1"}, want: "10.9.9.9"},
		{name: "IPv6 hops", cidrs: trusted, remote: "[2001:db8:ffff::1]:80", xff: []string{"2001:db8::7, 2001:db8:ffff::2"}, want: "2001:db8::7"},
		{name: "bracketed with port", cidrs: trusted, remote: "10.0.0.1:80", xff: []string{"[2001:db8::7]:5555"}, want: "2001:db8::7"},
		{name: "IPv4 with port", cidrs: trusted, remote: "10.0.0.1:80", xff: []string{"198.51.100.1:5555"}, want: "198.51.100.1"},
		{name: "mapped hop", cidrs: trusted, remote: "10.0.0.1:80", xff: []string{"::ffff:198.51.100.1"}, want: "198.51.100.1"},
		{name: "mapped trusted hop", cidrs: trusted, remote: "10.0.0.1:80", xff: []string{"198.51.100.1, ::ffff:10.2.0.1"}, want: "198.51.100.1"},
		{name: "tabs and spaces", cidrs: trusted, remote: "10.0.0.1:80", xff: []string{" \t198.51.100.1\t,  10.2.0.1 "}, want: "198.51.100.1"},
		{name: "mapped peer trusted", cidrs: trusted, remote: "[::ffff:10.0.0.1]:80", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "XFF ignored when Forwarded is chosen", cidrs: trusted, header: clientip.Forwarded, remote: "10.0.0.1:80", xff: []string{"198.51.100.1"}, want: "10.0.0.1"},

		// Garbage stops the walk at the last good hop.
		{name: "garbage right of client", cidrs: trusted, remote: "10.0.0.1:80", xff: []string{"198.51.100.1, garbage"}, want: "10.0.0.1"},
		{name: "garbage left of client", cidrs: trusted, remote: "10.0.0.1:80", xff: []string{"garbage, 198.51.100.1"}, want: "198.51.100.1"},
		{name: "garbage between proxies", cidrs: trusted, remote: "10.0.0.1:80", xff: []string{"198.51.100.1, <script>, 10.2.0.1"}, want: "10.2.0.1"},
		{name: "empty entry", cidrs: trusted, remote: "10.0.0.1:80", xff: []string{"198.51.100.1,"}, want: "10.0.0.1"},
		{name: "empty line", cidrs: trusted, remote: "10.0.0.1:80", xff: []string{"198.51.100.1", ""}, want: "10.0.0.1"},
		{name: "unknown", cidrs: trusted, remote: "10.0.0.1:80", xff: []string{"unknown"}, want: "10.0.0.1"},
		{name: "hostname", cidrs: trusted, remote: "10.0.0.1:80", xff: []string{"evil.example"}, want: "10.0.0.1"},
		{name: "leading zeros", cidrs: trusted, remote: "10.0.0.1:80", xff: []string{"010.0.0.1"}, want: "10.0.0.1"},
		{name: "port too large", cidrs: trusted, remote: "10.0.0.1:80", xff: []string{"198.51.100.1:70000"}, want: "10.0.0.1"},
		{name: "bracket without close", cidrs: trusted, remote: "10.0.0.1:80", xff: []string{"[2001:db8::7"}, want: "10.0.0.1"},
		{name: "bracketed IPv4", cidrs: trusted, remote: "10.0.0.1:80", xff: []string{"[198.51.100.1]"}, want: "10.0.0.1"},
		{name: "very long list", cidrs: trusted, remote: "10.0.0.1:80", xff: []string{strings.Repeat("1.1.1.1,", 10000) + "198.51.100.1"}, want: "198.51.100.1"},

		// RFC 7239 Forwarded.
		{name: "forwarded one proxy", cidrs: trusted, header: clientip.Forwarded, remote: "10.0.0.1:80", fwd: []string{"for=198.51.100.1;proto=https"}, want: "198.51.100.1"},
		{name: "forwarded chain", cidrs: trusted, header: clientip.Forwarded, remote: "10.0.0.1:80", fwd: []string{`for=1.1.1.1, for=198.51.100.1;by=10.2.0.1, For="10.2.0.1:8080"`}, want: "198.51.100.1"},
		{name: "forwarded several lines", cidrs: trusted, header: clientip.Forwarded, remote: "10.0.0.1:80", fwd: []string{"for=1.1.1.1", "for=198.51.100.1", "for=10.2.0.1"}, want: "198.51.100.1"},
		{name: "forwarded IPv6 quoted", cidrs: trusted, header: clientip.Forwarded, remote: "10.0.0.1:80", fwd: []string{`for="[2001:db8::7]:4711"`}, want: "2001:db8::7"},
		{name: "forwarded IPv6 no port", cidrs: trusted, header: clientip.Forwarded, remote: "10.0.0.1:80", fwd: []string{`for="[2001:db8::7]"`}, want: "2001:db8::7"},
		{name: "forwarded escaped quote pair", cidrs: trusted, header: clientip.Forwarded, remote: "10.0.0.1:80", fwd: []string{`for="\[2001:db8::7\]"`}, want: "2001:db8::7"},
		{name: "forwarded comma inside quotes", cidrs: trusted, header: clientip.Forwarded, remote: "10.0.0.1:80", fwd: []string{`for=198.51.100.1;x="a, for=10.2.0.1"`}, want: "198.51.100.1"},
		{name: "forwarded spaces around semicolon", cidrs: trusted, header: clientip.Forwarded, remote: "10.0.0.1:80", fwd: []string{"proto=https ; for=198.51.100.1"}, want: "198.51.100.1"},
		{name: "forwarded obfuscated port", cidrs: trusted, header: clientip.Forwarded, remote: "10.0.0.1:80", fwd: []string{`for="198.51.100.1:_abc"`}, want: "198.51.100.1"},
		{name: "forwarded mapped", cidrs: trusted, header: clientip.Forwarded, remote: "10.0.0.1:80", fwd: []string{`for="[::ffff:198.51.100.1]"`}, want: "198.51.100.1"},

		// Forwarded garbage.
		{name: "forwarded unknown", cidrs: trusted, header: clientip.Forwarded, remote: "10.0.0.1:80", fwd: []string{"for=198.51.100.1, for=unknown"}, want: "10.0.0.1"},
		{name: "forwarded obfuscated", cidrs: trusted, header: clientip.Forwarded, remote: "10.0.0.1:80", fwd: []string{"for=198.51.100.1, for=_hidden, for=10.2.0.1"}, want: "10.2.0.1"},
		{name: "forwarded no for", cidrs: trusted, header: clientip.Forwarded, remote: "10.0.0.1:80", fwd: []string{"for=198.51.100.1, proto=https"}, want: "10.0.0.1"},
		{name: "forwarded duplicate for", cidrs: trusted, header: clientip.Forwarded, remote: "10.0.0.1:80", fwd: []string{"for=198.51.100.1;for=10.2.0.1"}, want: "10.0.0.1"},
		{name: "forwarded unquoted IPv6", cidrs: trusted, header: clientip.Forwarded, remote: "10.0.0.1:80", fwd: []string{"for=2001:db8::7"}, want: "10.0.0.1"},
		{name: "forwarded unquoted port", cidrs: trusted, header: clientip.Forwarded, remote: "10.0.0.1:80", fwd: []string{"for=198.51.100.1:80"}, want: "10.0.0.1"},
		{name: "forwarded unterminated quote swallows proxy", cidrs: trusted, header: clientip.Forwarded, remote: "10.0.0.1:80", fwd: []string{`for="1.1.1.1, for=198.51.100.1`}, want: "10.0.0.1"},
		{name: "forwarded bad line right of good", cidrs: trusted, header: clientip.Forwarded, remote: "10.0.0.1:80", fwd: []string{"for=198.51.100.1", "for=="}, want: "10.0.0.1"},
		{name: "forwarded bad line left of client", cidrs: trusted, header: clientip.Forwarded, remote: "10.0.0.1:80", fwd: []string{`for="`, "for=198.51.100.1"}, want: "198.51.100.1"},
		{name: "forwarded empty element", cidrs: trusted, header: clientip.Forwarded, remote: "10.0.0.1:80", fwd: []string{"for=198.51.100.1,,for=10.2.0.1"}, want: "10.2.0.1"},
		{name: "forwarded control char in quotes", cidrs: trusted, header: clientip.Forwarded, remote: "10.0.0.1:80", fwd: []string{"for=\"198.51.100.1\x01\""}, want: "10.0.0.1"},
		{name: "forwarded zone", cidrs: trusted, header: clientip.Forwarded, remote: "10.0.0.1:80", fwd: []string{`for="[fe80::1%eth0]"`}, want: "10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := new(clientip.Resolver)
			if tt.cidrs != "" {
				x = mustResolver(t, tt.cidrs, tt.header)
			}
			h := http.Header{}
			for _, v := range tt.xff {
				h.Add("X-Forwarded-For", v)
			}
			for _, v := range tt.fwd {
				h.Add("Forwarded", v)
			}
			got := x.IP(request(tt.remote, h))
			if got.String() != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestNilResolver(t *testing.T) {
	var x *clientip.Resolver
	r := request("203.0.113.5:1", http.Header{"X-Forwarded-For": {"1.1.1.1"}})
	if got, want := x.IP(r), netip.MustParseAddr("203.0.113.5"); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestHandler(t *testing.T) {
	x := mustResolver(t, "10.0.0.0/8", "")
	tests := []struct {
		remote string
		xff    string
		want   string
		ok     bool
	}{
		{remote: "10.0.0.1:80", xff: "198.51.100.1", want: "198.51.100.1", ok: true},
		{remote: "203.0.113.5:80", xff: "198.51.100.1", want: "203.0.113.5", ok: true},
		{remote: "@", want: "invalid IP", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.remote, func(t *testing.T) {
			var got netip.Addr
			var ok bool
			h := x.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, ok = clientip.FromContext(r.Context())
				if r.RemoteAddr != tt.remote {
					t.Errorf("got RemoteAddr %q, want %q unchanged", r.RemoteAddr, tt.remote)
				}
			}))
			r := request(tt.remote, http.Header{"X-Forwarded-For": {tt.xff}})
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got.String() != tt.want || ok != tt.ok {
				t.Errorf("got %s, %v, want %s, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestFromContextEmpty(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	if ip, ok := clientip.FromContext(r.Context()); ok || ip.IsValid() {
		t.Errorf("got %s, %v, want invalid IP, false", ip, ok)
	}
}

func TestConcurrentConfigure(t *testing.T) {
	x := mustResolver(t, "10.0.0.0/8", "")
	r := request("10.0.0.1:80", http.Header{"X-Forwarded-For": {"198.51.100.1"}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 100; i++ {
			x.AddTrustedProxies(netip.MustParsePrefix("192.168.0.0/16"))
		}
	}()
	for i := 0; i < 100; i++ {
		if got := x.IP(r).String(); got != "198.51.100.1" {
			t.Fatalf("got %s, want 198.51.100.1", got)
		}
	}
	<-done
}

func BenchmarkIP(b *testing.B) {
	x := mustResolver(b, "10.0.0.0/8", "")
	r := request("10.0.0.1:80", http.Header{"X-Forwarded-For": {"1.1.1.1, 198.51.100.1, 10.2.0.1"}})
	b.ReportAllocs()
	for b.Loop() {
		x.IP(r)
	}
}
