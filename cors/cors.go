// Package cors lets browser scripts on other origins call an API, for an
// allow-list of exact origins, following the CORS protocol of the WHATWG
// Fetch Standard (section "CORS protocol").
//
// CORS relaxes the same-origin policy; it protects nothing by itself.
// Browsers send cross-origin requests whatever the server says, and only
// withhold the response from the calling script unless the server allows
// it. So:
//
//   - The zero value allows no cross-origin access: responses carry no
//     Access-Control-* headers and preflights are refused.
//   - Origins are listed exactly (scheme, host, port) and compared as
//     strings. Patterns and suffix matches are where CORS configurations
//     usually break (https://example.com.evil.example); there are none.
//     The origin "null" (sandboxed frames, file: pages, some redirects) is
//     refused: any site can produce it.
//   - Credentials (cookies, HTTP authentication) are allowed, when
//     SetAllowCredentials(true), only for listed origins, answered with
//     the exact origin. "*" may be listed to let every origin read
//     responses without credentials, and is never sent together with
//     Access-Control-Allow-Credentials (Fetch forbids it, and it would
//     expose every user's data to every site).
//   - Plain-http origins are accepted only for loopback hosts (local
//     development): anyone on the network path can run script in an
//     http:// origin, so trusting it means trusting the network.
//   - Every response that depends on Origin says "Vary: Origin", so a
//     shared cache does not hand one origin's answer to another.
//   - Preflight answers are cached by the browser for MaxAge
//     (Access-Control-Max-Age), saving a round trip per request.
//
// Requests from origins that are not allowed are not refused, only left
// without CORS headers: same-origin requests carry Origin too (every POST
// from a page does), and refusing would not stop a non-browser client
// anyway. CORS is not a defence against cross-site request forgery; for
// cookie-authenticated routes use net/http.CrossOriginProtection as well.
//
// Handler must see the request before any router: a preflight is an
// OPTIONS request that routes usually do not accept. It answers
// preflights itself and passes every other request on.
package cors

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxAge is how long browsers may cache a preflight answer unless
// SetMaxAge says otherwise: two hours, the most Chromium accepts (Firefox
// accepts up to a day).
const DefaultMaxAge = 2 * time.Hour

// MaxMaxAge is the longest accepted by SetMaxAge.
const MaxMaxAge = 24 * time.Hour

// Errors returned by Check.
var (
	ErrOriginNotAllowed = errors.New("cors: origin not allowed")
	ErrMethodNotAllowed = errors.New("cors: method not allowed for cross-origin requests")
	ErrHeaderNotAllowed = errors.New("cors: request header not allowed for cross-origin requests")
)

// CORS is middleware that answers CORS preflight requests and adds the
// CORS response headers for allowed origins.
//
// The zero value is ready to use and allows no origin. Setters change the
// configuration for requests that start afterwards; they may be called
// concurrently with each other and with request handling. A setter that
// returns an error changes nothing.
type CORS struct {
	mu  sync.Mutex             // serializes setters
	cfg atomic.Pointer[config] // nil means defaultConfig
}

type config struct {
	origins     map[string]bool
	anyOrigin   bool
	credentials bool
	methods     []string        // beyond the CORS-safelisted GET, HEAD, POST
	headers     map[string]bool // lower case
	headerList  string          // canonical form for Access-Control-Allow-Headers
	expose      string
	maxAge      string // seconds
	deny        http.Handler
}

var defaultConfig = &config{maxAge: strconv.Itoa(int(DefaultMaxAge / time.Second))}

// New returns a CORS that allows no origin; it is the same as new(CORS).
func New() *CORS { return &CORS{} }

func (c *CORS) load() *config {
	if p := c.cfg.Load(); p != nil {
		return p
	}
	return defaultConfig
}

func (c *CORS) update(f func(*config) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := *c.load()
	next.origins = cloneSet(next.origins)
	next.headers = cloneSet(next.headers)
	next.methods = slices.Clone(next.methods)
	if err := f(&next); err != nil {
		return err
	}
	c.cfg.Store(&next)
	return nil
}

func cloneSet(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// AddOrigin allows origin, written exactly as browsers send it in the
// Origin header: "https://app.example.com" or "http://localhost:3000", in
// lower case, with no path (not even "/"), and with no port when it is the
// scheme's default. Only https origins are accepted, and http for
// localhost, 127.0.0.0/8 and [::1]. "*" allows every origin without
// credentials. It returns an error, saying how to write it, for anything
// else.
func (c *CORS) AddOrigin(origin string) error {
	if origin == "*" {
		return c.update(func(cf *config) error { cf.anyOrigin = true; return nil })
	}
	if err := ValidateOrigin(origin); err != nil {
		return err
	}
	return c.update(func(cf *config) error { cf.origins[origin] = true; return nil })
}

// ValidateOrigin reports whether origin may be given to AddOrigin (which
// also accepts "*").
func ValidateOrigin(origin string) error {
	bad := func(why string) error { return fmt.Errorf("cors: invalid origin %q: %s", origin, why) }
	if origin == "null" {
		return bad(`"null" is the origin of sandboxed frames and local files, which any site can produce`)
	}
	if strings.Contains(origin, "*") {
		return bad(`patterns are not supported; list each origin exactly, or give "*" alone for any origin without credentials`)
	}
	u, err := url.Parse(origin)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "" {
		return bad("write scheme://host[:port], as in https://app.example.com")
	}
	canon := canonicalOrigin(u)
	if u.User != nil || u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.HasSuffix(origin, "#") {
		return bad("an origin has no user, path, query or fragment; write " + canon)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return bad("only http and https origins are supported")
	}
	host := u.Hostname()
	if u.Scheme == "http" && !loopback(host) {
		return bad("plain-http origins are accepted only for localhost and loopback addresses: anyone on the network can run script in them; use https")
	}
	if origin != canon {
		return bad("browsers send it as " + canon)
	}
	for i := 0; i < len(host); i++ {
		if ch := host[i]; ch >= 0x80 || ch == '%' {
			return bad("write internationalized host names in their xn-- form")
		}
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return bad("bad port")
		}
	}
	return nil
}

// canonicalOrigin serializes u as a browser would (Fetch's "ASCII
// serialization of an origin"): lower case, no default port.
func canonicalOrigin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}

func loopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true // RFC 6761 §6.3: always the loopback interface
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SetAllowCredentials sets whether listed origins (never "*") may send
// credentials: cookies, HTTP authentication and TLS client certificates
// (fetch with credentials: "include"). The default is false.
func (c *CORS) SetAllowCredentials(allow bool) {
	_ = c.update(func(cf *config) error { cf.credentials = allow; return nil })
}

// SetAllowedMethods sets the methods that cross-origin scripts may use
// besides GET, HEAD and POST, which Fetch always allows, as in
// SetAllowedMethods("PUT", "PATCH", "DELETE"). Methods are tokens
// (RFC 9110 §9.1) and are case-sensitive; CONNECT, TRACE and TRACK are
// refused.
func (c *CORS) SetAllowedMethods(methods ...string) error {
	var ms []string
	for _, m := range methods {
		if !token(m) {
			return fmt.Errorf("cors: invalid method %q", m)
		}
		switch strings.ToUpper(m) {
		case "CONNECT", "TRACE", "TRACK":
			return fmt.Errorf("cors: method %q is forbidden by Fetch", m)
		case "GET", "HEAD", "POST":
			continue
		}
		if !slices.Contains(ms, m) {
			ms = append(ms, m)
		}
	}
	return c.update(func(cf *config) error { cf.methods = ms; return nil })
}

// SetAllowedHeaders sets the request headers that cross-origin scripts may
// send, beyond those Fetch always allows (Accept, Accept-Language,
// Content-Language, and Content-Type with a form or text/plain value),
// as in SetAllowedHeaders("Authorization", "Content-Type"). Names are
// case-insensitive tokens; "*" is refused, since browsers never let it
// cover Authorization and it reads as more than it does.
func (c *CORS) SetAllowedHeaders(headers ...string) error {
	set := map[string]bool{}
	var list []string
	for _, h := range headers {
		if !token(h) || h == "*" {
			return fmt.Errorf("cors: invalid header name %q", h)
		}
		lh := strings.ToLower(h)
		if !set[lh] {
			set[lh] = true
			list = append(list, http.CanonicalHeaderKey(h))
		}
	}
	return c.update(func(cf *config) error {
		cf.headers, cf.headerList = set, strings.Join(list, ", ")
		return nil
	})
}

// SetExposedHeaders sets the response headers that cross-origin scripts
// may read, beyond the CORS-safelisted ones (Cache-Control,
// Content-Language, Content-Length, Content-Type, Expires, Last-Modified,
// Pragma), as in SetExposedHeaders("X-Request-ID", "Retry-After").
func (c *CORS) SetExposedHeaders(headers ...string) error {
	var list []string
	for _, h := range headers {
		if !token(h) || h == "*" {
			return fmt.Errorf("cors: invalid header name %q", h)
		}
		if h = http.CanonicalHeaderKey(h); !slices.Contains(list, h) {
			list = append(list, h)
		}
	}
	return c.update(func(cf *config) error { cf.expose = strings.Join(list, ", "); return nil })
}

// SetMaxAge sets how long browsers may cache a preflight answer, in whole
// seconds from 0 (do not cache) to MaxMaxAge. The default is
// DefaultMaxAge. Browsers cap it (Chromium at two hours).
func (c *CORS) SetMaxAge(d time.Duration) error {
	if d < 0 || d > MaxMaxAge || d%time.Second != 0 {
		return fmt.Errorf("cors: max age %v: must be whole seconds from 0 to %v", d, MaxMaxAge)
	}
	return c.update(func(cf *config) error { cf.maxAge = strconv.Itoa(int(d / time.Second)); return nil })
}

// SetDenyHandler sets the handler that answers preflight requests that are
// not allowed. With nil, the default, they get 403 Forbidden with a short
// plain-text body and no CORS headers, so the browser fails the request.
func (c *CORS) SetDenyHandler(h http.Handler) {
	_ = c.update(func(cf *config) error { cf.deny = h; return nil })
}

// Check reports whether r may be answered with CORS headers: nil for a
// request without Origin and for an allowed origin (for a preflight, also
// with an allowed method and headers), else ErrOriginNotAllowed,
// ErrMethodNotAllowed or ErrHeaderNotAllowed. Handler refuses only
// preflights that fail Check; other requests that fail it are served
// without CORS headers.
func (c *CORS) Check(r *http.Request) error {
	cf := c.load()
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	if !cf.allowed(origin) {
		return ErrOriginNotAllowed
	}
	if !isPreflight(r) {
		return nil
	}
	return cf.checkPreflight(r)
}

func (cf *config) allowed(origin string) bool {
	return cf.origins[origin] || cf.anyOrigin && origin != "null"
}

func (cf *config) checkPreflight(r *http.Request) error {
	m := r.Header.Get("Access-Control-Request-Method")
	if m != "GET" && m != "HEAD" && m != "POST" && !slices.Contains(cf.methods, m) {
		return ErrMethodNotAllowed
	}
	for _, line := range r.Header.Values("Access-Control-Request-Headers") {
		for _, h := range strings.Split(line, ",") {
			h = strings.ToLower(strings.TrimSpace(h))
			if h == "" {
				continue
			}
			switch h {
			case "accept", "accept-language", "content-language":
				continue // always CORS-safelisted request-headers (Fetch Standard)
			}
			if !cf.headers[h] {
				return ErrHeaderNotAllowed
			}
		}
	}
	return nil
}

// isPreflight reports whether r is a CORS preflight: OPTIONS with Origin
// and Access-Control-Request-Method (Fetch Standard, "CORS-preflight
// request").
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// Handler returns a handler that answers allowed preflight requests with
// 204 No Content, refuses other preflights through the deny handler, and
// passes every other request to h with the CORS headers its origin earns.
func (c *CORS) Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cf := c.load()
		hdr := w.Header()
		configured := cf.anyOrigin || len(cf.origins) > 0
		if configured {
			// The answer depends on Origin whether or not this request has
			// one: a cached answer without CORS headers must not be reused
			// for a cross-origin request (Fetch Standard, "CORS protocol
			// and HTTP caches").
			hdr.Add("Vary", "Origin")
		}
		origin := r.Header.Get("Origin")
		if isPreflight(r) {
			hdr.Add("Vary", "Access-Control-Request-Method")
			hdr.Add("Vary", "Access-Control-Request-Headers")
			if !configured || !cf.allowed(origin) || cf.checkPreflight(r) != nil {
				if cf.deny != nil {
					cf.deny.ServeHTTP(w, r)
					return
				}
				http.Error(w, "cross-origin request not allowed", http.StatusForbidden)
				return
			}
			cf.setOrigin(hdr, origin)
			if len(cf.methods) > 0 {
				hdr.Set("Access-Control-Allow-Methods", strings.Join(cf.methods, ", "))
			}
			if cf.headerList != "" {
				hdr.Set("Access-Control-Allow-Headers", cf.headerList)
			}
			hdr.Set("Access-Control-Max-Age", cf.maxAge)
			hdr.Set("Content-Length", "0")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if origin != "" && cf.allowed(origin) {
			cf.setOrigin(hdr, origin)
			if cf.expose != "" {
				hdr.Set("Access-Control-Expose-Headers", cf.expose)
			}
		}
		h.ServeHTTP(w, r)
	})
}

// setOrigin sets Access-Control-Allow-Origin, and -Credentials only for a
// listed origin: never together with "*" (Fetch Standard, "CORS protocol
// and credentials").
func (cf *config) setOrigin(hdr http.Header, origin string) {
	if cf.origins[origin] {
		hdr.Set("Access-Control-Allow-Origin", origin)
		if cf.credentials {
			hdr.Set("Access-Control-Allow-Credentials", "true")
		}
		return
	}
	hdr.Set("Access-Control-Allow-Origin", "*")
}

// token reports whether s is an RFC 9110 §5.6.2 token.
func token(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}
