// Package clientip finds the IP address of the client that sent a request,
// for rate limits, audit records and logs.
//
// NB! Trusting the network is opt-in. The zero Resolver uses the socket
// peer (http.Request.RemoteAddr) and nothing else, because X-Forwarded-For
// and Forwarded are ordinary request headers: whoever sends the request
// writes them, so believing them lets any client choose its own address, and
// with it its rate-limit bucket and the address in the audit log. A Resolver
// reads one of those headers only when the socket peer is a proxy that the
// operator listed with AddTrustedProxies, and then believes only the entries
// that trusted proxies appended (RFC 7239 §8.1).
//
// The walk goes from the right, the end the proxies append to: each trusted
// proxy adds the address it received the request from, so the right-most
// address that is not a trusted proxy is the nearest hop that no trusted
// party vouches for beyond, and is the client. Anything left of it was
// written by that client and is ignored. A malformed, obfuscated or
// "unknown" entry stops the walk at the last good hop: the Resolver fails
// closed to the nearest address a trusted party wrote, never to an address
// the client chose.
//
// Addresses are normalized: an IPv4-mapped IPv6 address (::ffff:192.0.2.1)
// becomes its IPv4 form and IPv6 zones are dropped, so one client has one
// spelling.
package clientip

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
)

// The header fields a Resolver can read, set with SetHeader.
const (
	// XForwardedFor is the de facto X-Forwarded-For field, a comma-separated
	// list of addresses that each proxy appends to. It is the default.
	XForwardedFor = "X-Forwarded-For"
	// Forwarded is the RFC 7239 Forwarded field, whose for= parameters name
	// the hops.
	Forwarded = "Forwarded"
)

// A Resolver finds the client IP of a request. The zero value uses the
// socket address only, which is the safe default; AddTrustedProxies opts in
// to reading a forwarding header.
//
// Configure a Resolver before it serves requests. Its methods are safe for
// concurrent use, and a change made while it serves applies to later
// requests.
type Resolver struct {
	mu  sync.Mutex             // serializes writers of cfg
	cfg atomic.Pointer[config] // nil means socket address only
}

type config struct {
	trusted []netip.Prefix
	header  string
}

func (x *Resolver) load() *config {
	if x == nil {
		return nil
	}
	return x.cfg.Load()
}

// update applies f to a copy of the configuration and publishes the copy,
// so readers never see a half-made change.
func (x *Resolver) update(f func(*config)) {
	x.mu.Lock()
	defer x.mu.Unlock()
	next := config{header: XForwardedFor}
	if old := x.cfg.Load(); old != nil {
		next.trusted = append([]netip.Prefix(nil), old.trusted...)
		next.header = old.header
	}
	f(&next)
	x.cfg.Store(&next)
}

// AddTrustedProxies adds the address ranges of reverse proxies whose
// forwarding header the Resolver believes. Each proxy in the list must
// append to (or overwrite) the header that the Resolver reads, or clients
// can choose their own address. It checks every prefix before adding any
// and adds none on error: a prefix must be valid, masked (no host bits set),
// without zone, and not /0, since trusting every address hands the choice of
// IP to the client. IPv4-mapped IPv6 prefixes are stored in IPv4 form.
func (x *Resolver) AddTrustedProxies(prefixes ...netip.Prefix) error {
	clean := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		q, err := checkPrefix(p)
		if err != nil {
			return fmt.Errorf("clientip: trusted proxy %s: %w", p, err)
		}
		clean = append(clean, q)
	}
	x.update(func(c *config) { c.trusted = append(c.trusted, clean...) })
	return nil
}

// SetHeader chooses the forwarding header that the Resolver reads from
// trusted proxies: XForwardedFor (the default) or Forwarded. Only one is
// ever read. Reading a header that the proxies pass through unchanged
// instead of appending to would let clients write the right-most entry, so
// choose the one your proxies write; the other is ignored.
func (x *Resolver) SetHeader(name string) error {
	switch http.CanonicalHeaderKey(name) {
	case XForwardedFor:
		x.update(func(c *config) { c.header = XForwardedFor })
	case Forwarded:
		x.update(func(c *config) { c.header = Forwarded })
	default:
		return fmt.Errorf("clientip: header %q: want %q or %q", name, XForwardedFor, Forwarded)
	}
	return nil
}

// TrustedProxies returns a copy of the trusted proxy prefixes.
func (x *Resolver) TrustedProxies() []netip.Prefix {
	c := x.load()
	if c == nil {
		return nil
	}
	return append([]netip.Prefix(nil), c.trusted...)
}

// ParseCIDRs parses a comma-separated list of trusted proxies such as
// "10.0.0.0/8, 192.168.1.7, 2001:db8::/32", as given to --trusted-proxies.
// A bare address stands for itself alone (/32 or /128). The empty string is
// an empty list. Every entry is checked as AddTrustedProxies does, and an
// error names the first bad entry.
func ParseCIDRs(s string) ([]netip.Prefix, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []netip.Prefix
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		p, err := parseCIDR(entry)
		if err != nil {
			return nil, fmt.Errorf("clientip: trusted proxy %d %q: %w", i+1, entry, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parseCIDR(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, errors.New("empty entry")
	}
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, errors.New("not a CIDR prefix")
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, errors.New("not an IP address or CIDR prefix")
		}
		if a.Zone() != "" {
			return netip.Prefix{}, errors.New("IPv6 zones are not allowed")
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	return checkPrefix(p)
}

// checkPrefix validates a trusted proxy prefix and puts it in the form that
// IP compares against (IPv4 for IPv4-mapped prefixes).
func checkPrefix(p netip.Prefix) (netip.Prefix, error) {
	if !p.IsValid() {
		return netip.Prefix{}, errors.New("invalid prefix")
	}
	if p != p.Masked() {
		return netip.Prefix{}, fmt.Errorf("host bits are set; did you mean %s?", p.Masked())
	}
	a := p.Addr()
	if a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	if p.Bits() == 0 {
		return netip.Prefix{}, errors.New("trusting every address lets any client choose its IP")
	}
	return p, nil
}

func (c *config) trusts(a netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// IP returns the client address of r: the socket peer, or, when the peer is
// a trusted proxy, the right-most untrusted address in the forwarding header
// (see the package documentation). It returns the zero netip.Addr only when
// r.RemoteAddr is not an IP address (a Unix socket, for example).
func (x *Resolver) IP(r *http.Request) netip.Addr {
	peer := parseRemoteAddr(r.RemoteAddr)
	c := x.load()
	if !peer.IsValid() || c == nil || !c.trusts(peer) {
		return peer
	}
	if c.header == Forwarded {
		return walkForwarded(r.Header.Values(Forwarded), peer, c)
	}
	return walkXFF(r.Header.Values(XForwardedFor), peer, c)
}

func normalize(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}

func parseRemoteAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normalize(ap.Addr())
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return normalize(a)
	}
	return netip.Addr{}
}

// walkXFF walks X-Forwarded-For from the right: the last field line first,
// the last comma-separated entry of each line first. It reads the header in
// place, without splitting it into a slice.
func walkXFF(lines []string, peer netip.Addr, c *config) netip.Addr {
	last := peer // the last good hop: the peer or a trusted proxy
	for i := len(lines) - 1; i >= 0; i-- {
		rest := lines[i]
		for {
			entry := rest
			j := strings.LastIndexByte(rest, ',')
			if j >= 0 {
				entry, rest = rest[j+1:], rest[:j]
			}
			a, ok := parseXFFEntry(trimOWS(entry))
			if !ok {
				return last // fail closed: nothing left of garbage is believed
			}
			if !c.trusts(a) {
				return a
			}
			last = a
			if j < 0 {
				break
			}
		}
	}
	return last // every hop is a trusted proxy: the request began inside
}

// parseXFFEntry accepts the forms proxies write: an address, or an address
// with a port ("192.0.2.1:8080", "[2001:db8::1]:8080", "[2001:db8::1]").
func parseXFFEntry(s string) (netip.Addr, bool) {
	if s == "" {
		return netip.Addr{}, false
	}
	if s[0] == '[' {
		return parseBracketed(s)
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return normalize(a), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normalize(ap.Addr()), true
	}
	return netip.Addr{}, false
}

// parseBracketed parses "[IPv6]" or "[IPv6]:port".
func parseBracketed(s string) (netip.Addr, bool) {
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s[1:end])
	if err != nil || !a.Is6() || a.Zone() != "" {
		return netip.Addr{}, false
	}
	if rest := s[end+1:]; rest != "" && (rest[0] != ':' || !validPort(rest[1:])) {
		return netip.Addr{}, false
	}
	return normalize(a), true
}

// validPort accepts RFC 7239 §6 node-port: 1*5DIGIT or an obfuscated port
// ("_" followed by ALPHA / DIGIT / "." / "_" / "-"). The port never matters
// here; it is checked so that a malformed entry is recognized as one.
func validPort(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '_' {
		return validObf(s[1:])
	}
	if len(s) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n <= 65535
}

func validObf(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func trimOWS(s string) string {
	return strings.Trim(s, " \t")
}

// Handler stores the client IP of each request in its context for
// FromContext, then calls h. It copies the request rather than changing
// RemoteAddr, so later code can still see the socket peer.
func (x *Resolver) Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ip := x.IP(r); ip.IsValid() {
			r = r.WithContext(NewContext(r.Context(), ip))
		}
		h.ServeHTTP(w, r)
	})
}

type ctxKey struct{}

// NewContext returns a copy of ctx that carries ip.
func NewContext(ctx context.Context, ip netip.Addr) context.Context {
	return context.WithValue(ctx, ctxKey{}, ip)
}

// FromContext returns the client IP stored by Handler, and whether there is
// one.
func FromContext(ctx context.Context) (netip.Addr, bool) {
	ip, ok := ctx.Value(ctxKey{}).(netip.Addr)
	return ip, ok && ip.IsValid()
}
