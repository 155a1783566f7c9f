// Package secheaders sets the browser security headers that every response
// of the API carries, error responses included:
//
//	X-Content-Type-Options: nosniff
//	Content-Security-Policy: default-src 'none'; frame-ancestors 'none'
//	Referrer-Policy: no-referrer
//	X-Frame-Options: DENY
//	Cross-Origin-Opener-Policy: same-origin
//	Cross-Origin-Resource-Policy: same-origin
//	Strict-Transport-Security: max-age=31536000; includeSubDomains  (HTTPS only)
//
// and removes Server and X-Powered-By, so that a response does not advertise
// the software behind it (OWASP ASVS 5.0 requirement 13.4.6).
//
// Why each header, for a JSON API:
//
//   - nosniff stops a browser from second-guessing Content-Type and running
//     a JSON body that a user managed to shape like HTML or script
//     (ASVS 5.0 3.4.4; Fetch Standard, "X-Content-Type-Options").
//   - default-src 'none' means a response rendered as a document by mistake
//     can load and run nothing; frame-ancestors 'none' forbids framing, the
//     clickjacking defence of W3C CSP Level 3 §6.4.2 (ASVS 5.0 3.4.3, 3.4.6).
//     X-Frame-Options: DENY says the same to browsers that predate CSP
//     frame-ancestors (RFC 7034).
//   - no-referrer keeps tokens, IDs and search terms in URLs from leaking to
//     other sites through Referer (ASVS 5.0 3.4.5; W3C Referrer Policy).
//   - Cross-Origin-Opener-Policy: same-origin puts a document from this
//     origin in its own browsing context group, so cross-origin windows get no
//     handle to it (WHATWG HTML, "Cross-origin opener policies").
//     Cross-Origin-Resource-Policy:
//     same-origin stops other sites from loading responses as no-cors
//     subresources (images, scripts), a Spectre-era leak (Fetch Standard,
//     "Cross-Origin-Resource-Policy header"). Browsers apply it to no-cors
//     requests only, so an API that other origins call with fetch() and
//     CORS still works.
//   - Strict-Transport-Security makes the browser use HTTPS for this host
//     (and by default its subdomains) for a year (RFC 6797; ASVS 5.0 3.4.1,
//     which asks for at least one year and, from level 2, subdomains). It
//     goes only on responses to requests that came over TLS (RFC 6797
//     §7.2); see Headers.SetTLSTerminated for TLS ended at a proxy.
//
// Headers are set before the wrapped handler runs, so they are present on
// every response it writes, an error page or a panic recovered by an outer
// middleware included. Server and X-Powered-By are removed at the moment the
// response header is written, so they go even when the handler sets them
// itself. Responses that net/http writes without calling any handler (a
// malformed request answered 400, an HTTP request to an HTTPS port) cannot
// carry these headers; their bodies are fixed plain-text messages with
// nothing from the request in them.
//
// # Per-route Content-Security-Policy
//
// The default policy is right for JSON. A route that serves a document,
// such as interactive docs, needs its own: wrap that route's handler with
// CSPHandler, or have the handler set the header itself before it writes,
// which replaces the value set here:
//
//	mux.Handle("GET /docs", secheaders.CSPHandler(docs, "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"))
//	// or, inside a handler:
//	w.Header().Set("Content-Security-Policy", policy)
//
// Headers.Handler must wrap the mux (be outside CSPHandler); wrapped the
// other way round, it would overwrite the route's policy.
package secheaders

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// DefaultCSP is the Content-Security-Policy for API responses (API.md,
	// "Conventions for every response").
	DefaultCSP = "default-src 'none'; frame-ancestors 'none'"

	// DefaultHSTSMaxAge is the default HSTS max-age: one year, the minimum
	// that OWASP ASVS 5.0 3.4.1 and the HSTS preload list accept.
	DefaultHSTSMaxAge = 365 * 24 * time.Hour
)

// HSTS configures the Strict-Transport-Security header (RFC 6797 §6.1).
// A zero Headers uses HSTS{MaxAge: DefaultHSTSMaxAge, IncludeSubDomains: true}:
// one year, subdomains included, not preloaded.
type HSTS struct {
	// MaxAge is how long the browser remembers to use only HTTPS, in whole
	// seconds. Zero is allowed and tells browsers to forget the policy
	// (RFC 6797 §6.1.1): the way to back out of HSTS.
	MaxAge time.Duration

	// IncludeSubDomains applies the policy to every subdomain as well
	// (RFC 6797 §6.1.2). Without it, a network attacker can answer for an
	// unvisited plain-HTTP subdomain and set cookies for the parent domain
	// (RFC 6797 §14.4).
	IncludeSubDomains bool

	// Preload adds the preload directive, the consent that hstspreload.org
	// requires before it adds the domain to the list built into browsers.
	// Leaving the list takes months, so it is opt-in, and it requires
	// MaxAge of at least a year and IncludeSubDomains, as the list does.
	Preload bool
}

// String returns the header value, such as "max-age=31536000; includeSubDomains".
func (v HSTS) String() string {
	s := "max-age=" + strconv.FormatInt(int64(v.MaxAge/time.Second), 10)
	if v.IncludeSubDomains {
		s += "; includeSubDomains"
	}
	if v.Preload {
		s += "; preload"
	}
	return s
}

func (v HSTS) validate() error {
	switch {
	case v.MaxAge < 0:
		return fmt.Errorf("invalid HSTS max-age %v: must not be negative", v.MaxAge)
	case v.MaxAge%time.Second != 0:
		return fmt.Errorf("invalid HSTS max-age %v: must be whole seconds", v.MaxAge)
	case v.Preload && v.MaxAge < DefaultHSTSMaxAge:
		return fmt.Errorf("invalid HSTS policy: preload requires max-age of at least %d seconds (one year), got %d",
			int64(DefaultHSTSMaxAge/time.Second), int64(v.MaxAge/time.Second))
	case v.Preload && !v.IncludeSubDomains:
		return errors.New("invalid HSTS policy: preload requires includeSubDomains")
	}
	return nil
}

// Headers is middleware that sets the security headers listed in the
// package documentation.
//
// The zero value is ready to use and sends DefaultCSP and, only on requests
// that arrived over TLS, HSTS for one year with includeSubDomains. The setters change that
// for requests that start afterwards; they may be called concurrently with
// each other and with request handling. A setter that returns an error
// changes nothing.
type Headers struct {
	mu  sync.Mutex             // serializes setters
	cfg atomic.Pointer[config] // nil means defaultConfig
}

type config struct {
	csp           string
	hsts          string
	tlsTerminated func(*http.Request) bool
}

var defaultConfig = &config{
	csp:  DefaultCSP,
	hsts: HSTS{MaxAge: DefaultHSTSMaxAge, IncludeSubDomains: true}.String(),
}

// New returns a Headers with the default configuration; it is the same as
// new(Headers).
func New() *Headers {
	return &Headers{}
}

func (h *Headers) load() *config {
	if c := h.cfg.Load(); c != nil {
		return c
	}
	return defaultConfig
}

// update applies f to a copy of the current configuration and publishes it.
func (h *Headers) update(f func(*config)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := *h.load()
	f(&c)
	h.cfg.Store(&c)
}

// SetCSP sets the Content-Security-Policy sent on every response, for
// example to add report-to. The policy must be well-formed as W3C CSP
// Level 3 §2.2.1 defines it: directives separated by ";", each a name of
// letters, digits and "-" followed by a value of printable ASCII, no
// directive twice in one policy (browsers ignore the repeat, so it would be a
// silent mistake), and several policies separated by "," (§3.1; each is
// enforced). Control characters are refused, which also keeps CR and LF out
// of the header. To replace the policy for one route only, use CSPHandler.
func (h *Headers) SetCSP(policy string) error {
	if err := ValidateCSP(policy); err != nil {
		return err
	}
	h.update(func(c *config) { c.csp = policy })
	return nil
}

// SetHSTS sets the Strict-Transport-Security policy. It returns an error
// for a negative or fractional MaxAge, and for Preload without
// IncludeSubDomains and a MaxAge of at least a year.
func (h *Headers) SetHSTS(v HSTS) error {
	if err := v.validate(); err != nil {
		return err
	}
	h.update(func(c *config) { c.hsts = v.String() })
	return nil
}

// SetTLSTerminated sets a function that reports whether a request that
// reached this server over plain HTTP had arrived over HTTPS at a proxy
// that terminated TLS, so that Strict-Transport-Security is sent on it too.
// With nil, the default, HSTS is sent only when r.TLS is set.
//
// NB! Trusting the network is opt-in: f must not believe a request header
// such as X-Forwarded-Proto unless the request came from a proxy that the
// operator trusts (its address is on the --trusted-proxies list) and that
// overwrites that header. A wrong yes does less harm here than elsewhere,
// since browsers ignore HSTS received over plain HTTP (RFC 6797 §8.1), but
// the function is usually shared with code for which it matters.
//
// Over plain HTTP without a yes from f, the header is removed even if a
// handler set it: RFC 6797 §7.2 says a host must not send it there.
func (h *Headers) SetTLSTerminated(f func(r *http.Request) bool) {
	h.update(func(c *config) { c.tlsTerminated = f })
}

// secure reports whether r came over HTTPS: r.TLS, or the configured hook.
// It fails closed: without a hook, plain HTTP never counts as secure.
func (c *config) secure(r *http.Request) bool {
	return r.TLS != nil || (c.tlsTerminated != nil && c.tlsTerminated(r))
}

// Canonical header names, so that the map is written without
// canonicalizing on every request.
const (
	hdrCSP      = "Content-Security-Policy"
	hdrNosniff  = "X-Content-Type-Options"
	hdrReferrer = "Referrer-Policy"
	hdrXFO      = "X-Frame-Options"
	hdrCOOP     = "Cross-Origin-Opener-Policy"
	hdrCORP     = "Cross-Origin-Resource-Policy"
	hdrHSTS     = "Strict-Transport-Security"
	hdrServer   = "Server"
	hdrPowered  = "X-Powered-By"
)

// Handler returns a handler that sets the security headers on w and then
// calls next.
func (h *Headers) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := h.load()
		secure := c.secure(r)
		hdr := w.Header()
		// One backing array for all values; each header gets a slice with
		// cap == len, so an Add by a later handler copies instead of
		// writing into its neighbour.
		vals := [...]string{c.csp, "nosniff", "no-referrer", "DENY", "same-origin", "same-origin", c.hsts}
		hdr[hdrCSP] = vals[0:1:1]
		hdr[hdrNosniff] = vals[1:2:2]
		hdr[hdrReferrer] = vals[2:3:3]
		hdr[hdrXFO] = vals[3:4:4]
		hdr[hdrCOOP] = vals[4:5:5]
		hdr[hdrCORP] = vals[5:6:6]
		if secure {
			hdr[hdrHSTS] = vals[6:7:7]
		} else {
			delete(hdr, hdrHSTS)
		}
		delete(hdr, hdrServer)
		delete(hdr, hdrPowered)
		next.ServeHTTP(&responseWriter{ResponseWriter: w, secure: secure}, r)
	})
}

// CSPHandler returns a handler that sets Content-Security-Policy to policy
// and then calls next: the per-route override of the default policy. Use it
// inside Headers.Handler, which would otherwise overwrite it.
//
// CSPHandler panics if policy is not a valid policy (see Headers.SetCSP), in
// the manner of http.ServeMux.Handle with a bad pattern: routes are built
// once at start, and a typo there must stop the server rather than ship a
// policy that browsers would drop.
func CSPHandler(next http.Handler, policy string) http.Handler {
	if err := ValidateCSP(policy); err != nil {
		panic("secheaders: " + err.Error())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()[hdrCSP] = []string{policy}
		next.ServeHTTP(w, r)
	})
}

// ValidateCSP reports whether policy is a well-formed Content-Security-Policy
// header value, as described at Headers.SetCSP.
func ValidateCSP(policy string) error {
	if strings.TrimSpace(policy) == "" {
		return errors.New("invalid Content-Security-Policy: empty")
	}
	for i := 0; i < len(policy); i++ {
		// CSP3 §2.2.1: directive values are printable ASCII (%x21-7E) and
		// ASCII whitespace; HTTP field values allow no CR, LF or NUL.
		if c := policy[i]; c != ' ' && c != '\t' && (c < 0x21 || c > 0x7e) {
			return fmt.Errorf("invalid Content-Security-Policy %q: byte %#02x at %d is not printable ASCII", policy, c, i)
		}
	}
	for _, p := range strings.Split(policy, ",") {
		seen := map[string]bool{}
		n := 0
		for _, d := range strings.Split(p, ";") {
			d = strings.Trim(d, " \t")
			if d == "" {
				continue
			}
			name, _, _ := strings.Cut(strings.ReplaceAll(d, "\t", " "), " ")
			for i := 0; i < len(name); i++ {
				c := name[i]
				if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
					return fmt.Errorf("invalid Content-Security-Policy %q: bad directive name %q", policy, name)
				}
			}
			name = strings.ToLower(name)
			if seen[name] {
				return fmt.Errorf("invalid Content-Security-Policy %q: directive %q appears twice", policy, name)
			}
			seen[name] = true
			n++
		}
		if n == 0 {
			return fmt.Errorf("invalid Content-Security-Policy %q: a policy has no directives", policy)
		}
	}
	return nil
}

// responseWriter removes Server and X-Powered-By (and, on plain HTTP,
// Strict-Transport-Security) at the moment the header is written, so that
// a handler that sets them cannot leak them. It passes everything else
// through; Unwrap lets http.ResponseController reach the underlying writer.
type responseWriter struct {
	http.ResponseWriter
	secure      bool
	wroteHeader bool
}

func (w *responseWriter) scrub() {
	hdr := w.ResponseWriter.Header()
	delete(hdr, hdrServer)
	delete(hdr, hdrPowered)
	if !w.secure {
		delete(hdr, hdrHSTS)
	}
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.scrub()
		// 1xx responses (103 Early Hints) are followed by the final header,
		// which is scrubbed again.
		w.wroteHeader = code >= 200
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.scrub()
		w.wroteHeader = true
	}
	return w.ResponseWriter.Write(b)
}

// ReadFrom keeps the io.ReaderFrom fast path (sendfile for http.ServeFile
// and io.Copy) of the underlying writer.
func (w *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.wroteHeader {
		w.scrub()
		w.wroteHeader = true
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, r)
}

type writerOnly struct{ io.Writer }

// Flush implements http.Flusher, which many handlers assert directly;
// flushing sends the header, so it is scrubbed first.
func (w *responseWriter) Flush() {
	if !w.wroteHeader {
		w.scrub()
		w.wroteHeader = true
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack implements http.Hijacker, which WebSocket libraries assert
// directly; it fails with http.ErrNotSupported where the underlying writer
// cannot hijack (HTTP/2).
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap returns the underlying ResponseWriter, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter {
	return w.ResponseWriter
}
