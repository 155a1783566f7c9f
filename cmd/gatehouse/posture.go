package main

// Startup posture checks: the configuration risks that `gatehouse serve`
// refuses and `gatehouse config check` lists.
//
// OWASP ASVS 5.0 chapter 13 (configuration) asks that a deployment be
// hardened by default and that unsafe settings not be reachable by
// accident: V13.4 (no unintended information leakage — documentation and
// metrics endpoints), V13.3 (secrets kept apart from the data they
// protect), and, through V12.1/V12.2, TLS for every connection that carries
// credentials. A gatehouse on a laptop (loopback) needs none of that, so the
// rules turn on when the server is *exposed*: --addr is not a loopback
// address, or --behind-proxy says a proxy forwards the network to it.
//
// Each finding has a severity. UNSAFE findings make `serve` refuse to
// start (fail closed) with a message that names the flag to change; WARN
// findings are risks an operator should have chosen knowingly; OK findings
// say what is in force. `config check` prints them all, one line per risk,
// and exits 1 when any is UNSAFE.

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/clientip"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/ratelimit"
)

type severity int

const (
	sevOK severity = iota
	sevWarn
	sevUnsafe
)

func (s severity) String() string {
	switch s {
	case sevWarn:
		return "WARN"
	case sevUnsafe:
		return "UNSAFE"
	}
	return "OK"
}

// finding is one line of the posture list.
type finding struct {
	sev  severity
	flag string // the flag that changes it
	text string
}

// exposure says whether the server is reachable from other machines, and
// why: a non-loopback --addr, or --behind-proxy.
func (c *serveConfig) exposure() (exposed bool, why string) {
	host, _, _ := net.SplitHostPort(c.addr)
	switch {
	case !loopbackHost(host):
		return true, fmt.Sprintf("non-loopback --addr %s", c.addr)
	case c.behindProxy:
		return true, "--behind-proxy"
	}
	return false, ""
}

// kekSource says where serve would take the key-encryption key from:
// "file", "env" or "dev" (generated into the data directory), as
// keys.LoadKEK decides, without reading or creating anything.
func (c *serveConfig) kekSource(getenv func(string) string) string {
	switch {
	case c.secretKeyFile != "":
		return "file"
	case getenv("GATEHOUSE_SECRET_KEY") != "":
		return "env"
	}
	return "dev"
}

// posture evaluates every rule, in a fixed order: one finding per risk.
func (c *serveConfig) posture(getenv func(string) string) []finding {
	exposed, why := c.exposure()
	return []finding{
		c.postureTransport(),
		c.postureKEK(getenv, exposed, why),
		c.postureDocs(exposed, why),
		c.posturePassword(),
		c.postureHSTS(),
		c.postureCORS(exposed),
		c.postureRateLimits(),
		c.postureMetrics(),
		c.postureProxies(),
	}
}

// postureTransport: credentials never cross a network in clear (ASVS 5.0
// V12.2.1). Plain HTTP is fine on loopback (development, or a proxy on the
// same host), and elsewhere only when the operator states that TLS ends at
// a proxy in front.
func (c *serveConfig) postureTransport() finding {
	f := finding{flag: "--addr"}
	host, _, _ := net.SplitHostPort(c.addr)
	switch {
	case c.tlsCert != "":
		f.text = fmt.Sprintf("HTTPS on %s with the certificate from --tls-cert", c.addr)
	case c.acmeDomain != "":
		f.text = fmt.Sprintf("HTTPS on %s with ACME certificates for %s", c.addr, strings.Join(c.acmeDomains, ", "))
	case c.devTLS:
		f.sev, f.text = sevWarn, fmt.Sprintf("HTTPS on %s with the self-signed development certificate (--dev-tls): for development only", c.addr)
	case c.behindProxy && loopbackHost(host):
		f.text = fmt.Sprintf("plain HTTP on loopback %s; TLS ends at the proxy (--behind-proxy)", c.addr)
	case c.behindProxy:
		f.sev, f.text = sevWarn, fmt.Sprintf("plain HTTP on %s; TLS ends at the proxy (--behind-proxy): passwords cross the proxy-to-gatehouse network in clear, so keep it private and firewall %s to the proxies", c.addr, c.addr)
	case loopbackHost(host):
		f.text = fmt.Sprintf("plain HTTP on loopback %s: reachable from this machine only", c.addr)
	default:
		f.sev, f.text = sevUnsafe, fmt.Sprintf("--addr %s is not a loopback address and serves plain HTTP: passwords and tokens would cross the network in clear. "+
			"Serve HTTPS (--tls-cert/--tls-key or --acme-domain), or set --behind-proxy with --trusted-proxies when a reverse proxy in front ends TLS, or listen on 127.0.0.1", c.addr)
	}
	return f
}

// postureKEK: the development KEK lives in the data directory, beside the
// database whose signing keys it seals; one copy of that directory (a
// backup, a snapshot) then opens them all. ASVS 5.0 V13.3 (secret management): secrets are
// kept apart from the data and configuration they protect.
func (c *serveConfig) postureKEK(getenv func(string) string, exposed bool, why string) finding {
	f := finding{flag: "--secret-key-file"}
	devPath := filepath.Join(c.dataDir, keys.DevKEKFile)
	switch c.kekSource(getenv) {
	case "file":
		f.text = fmt.Sprintf("key-encryption key from --secret-key-file %s", c.secretKeyFile)
		if within(c.dataDir, c.secretKeyFile) {
			f.sev, f.text = sevWarn, f.text+", which is inside --data-dir: a copy of the data directory holds both the database and the key that opens its signing keys; keep the key elsewhere (e.g. /etc/gatehouse/kek)"
		}
	case "env":
		f.text = "key-encryption key from GATEHOUSE_SECRET_KEY"
	default:
		if exposed {
			f.sev, f.text = sevUnsafe, fmt.Sprintf("--secret-key-file: the development key-encryption key %s sits in --data-dir beside the database it protects, which is not for an exposed server (%s). "+
				"Set --secret-key-file or GATEHOUSE_SECRET_KEY to base64 of 32 random bytes kept apart from the data (head -c 32 /dev/urandom | base64)", devPath, why)
		} else {
			f.sev, f.text = sevWarn, fmt.Sprintf("the development key-encryption key %s (generated when missing): for a laptop only; set --secret-key-file or GATEHOUSE_SECRET_KEY in production", devPath)
		}
	}
	return f
}

// postureDocs: the OpenAPI document is a map of every route and parameter
// (ASVS 5.0 V13.4: no unintended documentation on production endpoints).
// Publishing it is allowed, but only on purpose.
func (c *serveConfig) postureDocs(exposed bool, why string) finding {
	f := finding{flag: "--docs"}
	switch {
	case !c.docs:
		f.text = "API documentation off"
	case !exposed:
		f.text = "API documentation (/openapi.json, /docs) on loopback only"
	case c.docsPublic:
		f.sev, f.text = sevWarn, fmt.Sprintf("API documentation (/openapi.json, /docs) published to everyone who reaches the server (%s, --docs-public)", why)
	default:
		f.sev, f.text = sevUnsafe, fmt.Sprintf("--docs on an exposed server (%s) would publish the map of every route to the network: add --docs-public if that is intended, or drop --docs", why)
	}
	return f
}

// posturePassword: NIST SP 800-63B-4 §3.1.1.2 requires at least 8
// characters for any password, and 15 when the password is the only
// authentication factor, as it is in gatehouse.
func (c *serveConfig) posturePassword() finding {
	f := finding{flag: "--password-min-length"}
	n := c.passwordMinLen
	switch {
	case n < 8:
		f.sev, f.text = sevUnsafe, fmt.Sprintf("--password-min-length %d is below 8, the least NIST SP 800-63B-4 §3.1.1.2 allows for any password: raise it (default 15)", n)
	case n < 15:
		f.sev, f.text = sevWarn, fmt.Sprintf("passwords of at least %d characters: NIST SP 800-63B-4 asks for 15 when the password is the only factor, as here", n)
	default:
		f.text = fmt.Sprintf("passwords of at least %d characters", n)
	}
	return f
}

// postureHSTS: HSTS (RFC 6797) keeps browsers on HTTPS once they have seen
// it; only preloading protects the very first visit.
func (c *serveConfig) postureHSTS() finding {
	f := finding{flag: "--hsts-preload"}
	switch {
	case c.behindProxy:
		f.sev, f.text = sevWarn, "TLS ends at the proxy: gatehouse does not send Strict-Transport-Security over plain HTTP (RFC 6797 §7.2), so the proxy must (max-age=31536000; includeSubDomains)"
	case !c.tlsOn():
		f.text = "no HTTPS listener, so no HSTS (RFC 6797 §7.2: never over plain HTTP)"
	case c.devTLS:
		f.text = "HSTS for the development certificate on loopback; preload does not apply"
	case !c.hstsIncludeSubdomains:
		f.sev, f.text = sevWarn, "HSTS without includeSubDomains (--hsts-include-subdomains=false) and without preload: sibling hosts and a browser's first visit can be downgraded to plain HTTP"
	case !c.hstsPreload:
		f.sev, f.text = sevWarn, "HSTS preload off: a browser's first visit can be downgraded to plain HTTP before it has seen the header; consider --hsts-preload (hstspreload.org; hard to undo)"
	default:
		f.text = "HSTS max-age=31536000; includeSubDomains; preload"
	}
	return f
}

// postureCORS: which other sites' scripts may read responses. "*" reads
// without credentials; loopback http:// origins are for development.
func (c *serveConfig) postureCORS(exposed bool) finding {
	f := finding{flag: "--cors-origins"}
	if len(c.origins) == 0 {
		f.text = "no cross-origin access: browsers hand other sites' scripts no responses"
		return f
	}
	var notes []string
	if slices.Contains(c.origins, "*") {
		notes = append(notes, `"*" lets any web page read responses (without credentials)`)
	}
	var plain []string
	for _, o := range c.exactOrigins() {
		if strings.HasPrefix(o, "http://") {
			plain = append(plain, o)
		}
	}
	if exposed && len(plain) > 0 {
		notes = append(notes, fmt.Sprintf("development origins %s are trusted with credentials on an exposed server: any program listening there on a user's machine can act as the user", strings.Join(plain, ", ")))
	}
	list := strings.Join(c.origins, ", ")
	if len(notes) > 0 {
		f.sev, f.text = sevWarn, fmt.Sprintf("origins %s: %s", list, strings.Join(notes, "; "))
		return f
	}
	f.text = "credentials for the listed origins only: " + list
	return f
}

// postureRateLimits: the defaults are tight on the routes that take
// passwords or create accounts; loosening them helps password guessing and
// account spraying (OWASP API4:2023).
func (c *serveConfig) postureRateLimits() finding {
	f := finding{flag: "--rate-limit"}
	var looser, tighter []string
	patterns := make([]string, 0, len(c.rateLimits.rules))
	for p := range c.rateLimits.rules {
		patterns = append(patterns, p)
	}
	slices.Sort(patterns)
	for _, p := range patterns {
		r := c.rateLimits.rules[p]
		def, ok := server.DefaultRateLimits[p]
		if !ok {
			tighter = append(tighter, fmt.Sprintf("%s %s (new)", p, r))
			continue
		}
		d, _ := ratelimit.ParseRate(def)
		switch cmpRate(r, d) {
		case 1:
			looser = append(looser, fmt.Sprintf("%s %s (default %s)", p, r, def))
		case -1:
			tighter = append(tighter, fmt.Sprintf("%s %s (default %s)", p, r, def))
		}
	}
	if r := c.rateLimits.user; r != (ratelimit.Rate{}) {
		d, _ := ratelimit.ParseRate(server.DefaultUserRate)
		switch cmpRate(r, d) {
		case 1:
			looser = append(looser, fmt.Sprintf("per user %s (default %s)", r, server.DefaultUserRate))
		case -1:
			tighter = append(tighter, fmt.Sprintf("per user %s (default %s)", r, server.DefaultUserRate))
		}
	}
	switch {
	case len(looser) > 0:
		f.sev, f.text = sevWarn, "looser than the defaults: "+strings.Join(looser, ", ")
		if len(tighter) > 0 {
			f.text += "; tighter: " + strings.Join(tighter, ", ")
		}
	case len(tighter) > 0:
		f.text = "defaults, tightened: " + strings.Join(tighter, ", ")
	default:
		f.text = "defaults: " + defaultLimitsText()
	}
	return f
}

// cmpRate compares the requests per second of two rates: 1 when a allows
// more than b, -1 when fewer, 0 when the same.
func cmpRate(a, b ratelimit.Rate) int {
	// a.Limit/a.Period vs b.Limit/b.Period, in integers.
	x := int64(a.Limit) * int64(b.Period.Seconds())
	y := int64(b.Limit) * int64(a.Period.Seconds())
	switch {
	case x > y:
		return 1
	case x < y:
		return -1
	}
	return 0
}

func defaultLimitsText() string {
	var parts []string
	for p, r := range server.DefaultRateLimits {
		parts = append(parts, p+" "+r)
	}
	slices.Sort(parts)
	return strings.Join(append(parts, "per user "+server.DefaultUserRate), ", ")
}

// postureMetrics: metrics reveal traffic, error rates and account activity;
// they belong on loopback or a private interface (ASVS 5.0 V13.4).
func (c *serveConfig) postureMetrics() finding {
	f := finding{flag: "--metrics-addr"}
	host, _, _ := net.SplitHostPort(c.metricsAddr)
	switch {
	case c.metricsAddr == "":
		f.text = "no metrics listener"
	case loopbackHost(host):
		f.text = fmt.Sprintf("metrics on loopback %s", c.metricsAddr)
	default:
		f.sev, f.text = sevWarn, fmt.Sprintf("metrics on %s are reachable from the network: bind a loopback or private interface and firewall it to the scraper", c.metricsAddr)
	}
	return f
}

// privateRanges are networks whose hosts an operator can know: a proxy
// there is plausibly the operator's own.
var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("fc00::/7"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("fe80::/10"),
}

// postureProxies: a trusted proxy chooses the client IP that rate limits
// and login throttling key on (STYLE.md 9: trusting the network is opt-in
// and loud).
func (c *serveConfig) postureProxies() finding {
	f := finding{flag: "--trusted-proxies"}
	prefixes, _ := clientip.ParseCIDRs(c.trustedProxies)
	if len(prefixes) == 0 {
		f.text = "client IPs from the socket; X-Forwarded-For is ignored"
		return f
	}
	var public []string
	for _, p := range prefixes {
		if !slices.ContainsFunc(privateRanges, func(r netip.Prefix) bool { return r.Bits() <= p.Bits() && r.Contains(p.Addr()) }) {
			public = append(public, p.String())
		}
	}
	if len(public) > 0 {
		f.sev, f.text = sevWarn, fmt.Sprintf("X-Forwarded-For believed from public addresses %s: any host there can choose its client IP and escape per-IP limits; list only your proxies", strings.Join(public, ", "))
		return f
	}
	f.text = "X-Forwarded-For believed from " + c.trustedProxies
	return f
}

// within reports whether path lies inside dir.
func within(dir, path string) bool {
	d, err1 := filepath.Abs(dir)
	p, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// refuseUnsafe is serve's gate: an error naming every UNSAFE finding, or
// nil.
func refuseUnsafe(findings []finding) error {
	var msgs []string
	for _, f := range findings {
		if f.sev == sevUnsafe {
			msgs = append(msgs, f.text)
		}
	}
	switch len(msgs) {
	case 0:
		return nil
	case 1:
		return usageError{"unsafe configuration, not starting: " + msgs[0]}
	}
	return usageError{"unsafe configuration, not starting (see `gatehouse config check`):\n  - " + strings.Join(msgs, "\n  - ")}
}
