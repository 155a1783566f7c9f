// Package server is the gatehouse HTTP API. NewServer wires the handlers of
// every route (listed in routes.go) to their dependencies; the result is a
// plain http.Handler.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/clientip"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/revocation"
	"github.com/gatehouse/gatehouse/internal/throttle"
	"github.com/gatehouse/gatehouse/problem"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/reqid"
	"github.com/gatehouse/gatehouse/reqlog"
	"github.com/gatehouse/gatehouse/secheaders"
)

// Config holds the settings of the API that come from flags.
type Config struct {
	Issuer          string        // exact iss of issued tokens
	Audience        string        // aud of issued tokens
	AccessTokenTTL  time.Duration // default 15 minutes
	RefreshIdleTTL  time.Duration // default 14 days
	RefreshMaxTTL   time.Duration // absolute session lifetime, default 90 days
	MaxBodyBytes    int64         // default 1 MiB
	PasswordMinLen  int           // default 15
	ClockSkew       time.Duration // leeway when verifying tokens, ≤ 60 s
	VerifyCacheSize int
	// HSTS is the Strict-Transport-Security policy sent over HTTPS; the
	// zero value is secheaders' default (one year, includeSubDomains).
	HSTS secheaders.HSTS
	// CookieSessionTTL is the lifetime of a browser session. Default 12 h.
	CookieSessionTTL time.Duration
	// TrustedOrigins may make cookie-authenticated unsafe requests from
	// another origin (the --cors-origins list).
	TrustedOrigins []string
	// RateLimits override DefaultRateLimits per route pattern; UserRate
	// replaces DefaultUserRate.
	RateLimits map[string]ratelimit.Rate
	UserRate   ratelimit.Rate
	// TrustedProxies may set X-Forwarded-For; nobody else can choose the
	// client IP that rate limits and throttling key on.
	TrustedProxies []netip.Prefix
	// MaxConcurrent and MaxConcurrentPerIP bound the requests in flight,
	// overall (503 above it) and per client IP (429). Defaults 1024 and 64.
	MaxConcurrent, MaxConcurrentPerIP int
	// RefreshGrace is how long a rotated refresh token may be presented
	// again and get the same answer (a client retrying after a network
	// error) instead of ending the session as a reuse. Zero: no grace.
	RefreshGrace time.Duration
	// Docs serves the OpenAPI 3.1 document at GET /openapi.json.
	Docs bool
}

// Defaults fills zero fields with the documented defaults.
func (c *Config) Defaults() {
	if c.AccessTokenTTL == 0 {
		c.AccessTokenTTL = 15 * time.Minute
	}
	if c.RefreshIdleTTL == 0 {
		c.RefreshIdleTTL = 14 * 24 * time.Hour
	}
	if c.RefreshMaxTTL == 0 {
		c.RefreshMaxTTL = 90 * 24 * time.Hour
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.PasswordMinLen == 0 {
		c.PasswordMinLen = 15
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = 1024
	}
	if c.MaxConcurrentPerIP == 0 {
		c.MaxConcurrentPerIP = 64
	}
	if c.CookieSessionTTL == 0 {
		c.CookieSessionTTL = 12 * time.Hour
	}
	if c.ClockSkew == 0 {
		c.ClockSkew = 60 * time.Second
	}
}

// Deps are what the handlers need.
type Deps struct {
	Config Config
	Store  gatehouse.Store
	Keys   *keys.Ring
	Hasher *password.Hasher
	// KEK seals refresh-token successors kept for the grace window.
	KEK *keys.KEK
	// Audit is the tamper-evident audit trail and AuditStore the store it
	// reads from; nil: events go to the log only and the audit route
	// answers from an empty trail.
	Audit      *audit.Log
	AuditStore gatehouse.AuditStore
	// Throttle is the login back-off; NewServer makes an in-memory one
	// when nil.
	Throttle *throttle.Throttle
	// RateStore keeps rate-limit state; nil: in memory, per process.
	RateStore ratelimit.Store
	// Revocations is the in-memory set of ended sessions; NewServer makes
	// one (fed only by this process) when nil.
	Revocations *revocation.Set
	Logger      *slog.Logger
	Now         gatehouse.Clock // nil: time.Now
	// Metrics receives what the API observes; nil: no metrics.
	Metrics Metrics

	// testUserRoutes lets tests register extra routes behind the user(...)
	// guard of routes.go (export_test.go: the middleware benchmark).
	testUserRoutes func(user func(pattern string, h http.Handler))
}

// Metrics receives counts from the API (internal/metrics implements it).
// Every string it gets comes from a bounded set: route patterns of
// routes.go ("" for a request that matched none), and the fixed
// authentication-failure reasons of authFailureReason.
type Metrics interface {
	// Request records one answered request.
	Request(route string, status int, elapsed time.Duration)
	// AuthFailure counts a failed login or a 401 answer.
	AuthFailure(reason string)
	// TokenCache hands over the reader of the access-token verifier's
	// cache counters.
	TokenCache(stats func() auth.CacheStats)
	// RateStoreFailing hands over the reader of whether the shared
	// rate-limit store (Redis) fails now; RateStoreError counts one of
	// its failures. Called only with a shared store.
	RateStoreFailing(failing func() bool)
	RateStoreError()
}

// Server is the gatehouse API as an http.Handler.
type Server struct {
	mux     *http.ServeMux
	handler http.Handler
	routes  []string
}

// NewServer builds the API. It fails when a dependency is missing.
func NewServer(d Deps) (*Server, error) {
	if d.Store == nil || d.Keys == nil || d.Hasher == nil || d.KEK == nil {
		return nil, errors.New("server: store, keys, hasher and KEK are required")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	d.Config.Defaults()
	if d.AuditStore == nil {
		if as, ok := d.Store.(gatehouse.AuditStore); ok {
			d.AuditStore = as
		}
	}
	if d.Audit == nil && d.AuditStore != nil {
		l, err := audit.New(d.AuditStore, d.KEK.Derive(audit.KeyLabel), d.Now)
		if err != nil {
			return nil, err
		}
		d.Audit = l
	}
	if d.AuditStore == nil {
		return nil, errors.New("server: the store keeps no audit trail")
	}
	if d.Throttle == nil {
		t, err := throttle.New(throttle.Config{Now: d.Now})
		if err != nil {
			return nil, err
		}
		d.Throttle = t
	}
	if d.Revocations == nil {
		d.Revocations = revocation.New(d.Store, d.Config.AccessTokenTTL+d.Config.ClockSkew, d.Now)
	}
	s := &Server{mux: http.NewServeMux()}
	if err := s.addRoutes(d); err != nil {
		return nil, err
	}
	var ips clientip.Resolver
	if err := ips.AddTrustedProxies(d.Config.TrustedProxies...); err != nil {
		return nil, fmt.Errorf("--trusted-proxies: %w", err)
	}
	conc, err := ratelimit.NewConcurrency(d.Config.MaxConcurrent, d.Config.MaxConcurrentPerIP)
	if err != nil {
		return nil, err
	}
	var h http.Handler = http.HandlerFunc(s.serveMux)
	// Bounded work per client and overall (OWASP API4:2023): a client
	// holding many slow requests open cannot take every worker.
	h = conc.Handler(h)
	h = problem.Recover(h)
	sh := secheaders.New()
	if d.Config.HSTS != (secheaders.HSTS{}) {
		if err := sh.SetHSTS(d.Config.HSTS); err != nil {
			return nil, fmt.Errorf("hsts: %w", err)
		}
	}
	h = sh.Handler(h)
	accessLog := d.Logger
	if d.Metrics != nil {
		// Inside reqlog, outside everything else: refusals by the
		// concurrency limit and recovered panics are counted too.
		h = s.instrument(d.Metrics, h)
		accessLog = slog.New(authFailureObserver{d.Logger.Handler(), d.Metrics})
	}
	h = reqlog.Handler(accessLog, h)
	h = ips.Handler(h)
	h = reqid.Handler(h)
	s.handler = h
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Routes lists every registered pattern, for tests that must cover them all.
func (s *Server) Routes() []string { return slices.Clone(s.routes) }

// handle registers a route and remembers its pattern.
func (s *Server) handle(pattern string, h http.Handler) {
	s.routes = append(s.routes, pattern)
	s.mux.Handle(pattern, h)
}

// instrument reports every request's route pattern, status and duration
// to m. The pattern is the one the router will pick (the mux is asked
// here because refusals before routing must be counted under it too).
func (s *Server) instrument(m Metrics, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		_, pattern := s.mux.Handler(r)
		sw := &statusRecorder{ResponseWriter: w}
		defer func() {
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			m.Request(pattern, status, time.Since(start))
		}()
		h.ServeHTTP(sw, r)
	})
}

// statusRecorder remembers the status code of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	// 1xx answers (103 Early Hints) precede the real status.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// authFailureObserver passes the access log through to its handler and
// counts the authentication failures its lines record: the login_failure
// reason the token handler logs, or else a 401 status (with auth_error
// when a bearer token failed verification). The access-log line is the
// one place where both are known, whatever layer refused the request.
type authFailureObserver struct {
	slog.Handler
	m Metrics
}

// Enabled is true at every level: a failure is counted even when the
// log level hides the line.
func (o authFailureObserver) Enabled(context.Context, slog.Level) bool { return true }

func (o authFailureObserver) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "request" {
		if reason := authFailureReason(r); reason != "" {
			o.m.AuthFailure(reason)
		}
	}
	if !o.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return o.Handler.Handle(ctx, r)
}

func (o authFailureObserver) WithAttrs(as []slog.Attr) slog.Handler {
	return authFailureObserver{o.Handler.WithAttrs(as), o.m}
}

func (o authFailureObserver) WithGroup(name string) slog.Handler {
	return authFailureObserver{o.Handler.WithGroup(name), o.m}
}

// loginFailureReasons maps the reasons handle_token.go logs to label
// values; an unlisted reason becomes "other".
var loginFailureReasons = map[string]string{
	"wrong password":   "wrong_password",
	"unknown user":     "unknown_user",
	"account disabled": "account_disabled",
	"throttled":        "throttled",
}

// authFailureReason is the failure an access-log record reports, "" for
// none. It returns only fixed strings, never logged values.
func authFailureReason(r slog.Record) string {
	var login string
	var status int64
	var authError bool
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "login_failure":
			login = a.Value.String()
			if login == "" {
				login = "?"
			}
		case "status":
			if a.Value.Kind() == slog.KindInt64 {
				status = a.Value.Int64()
			}
		case "auth_error":
			authError = true
		}
		return true
	})
	switch {
	case login != "":
		if reason, ok := loginFailureReasons[login]; ok {
			return reason
		}
		return "other"
	case status == http.StatusUnauthorized && authError:
		return "invalid_token"
	case status == http.StatusUnauthorized:
		return "unauthenticated"
	}
	return ""
}

var probeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// serveMux answers unknown routes with problem details: 404, or 405 with an
// Allow header when the path exists for other methods (RFC 9110 §15.5.6).
// The standard ServeMux would answer those in plain text.
func (s *Server) serveMux(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern != "" {
		reqlog.SetPattern(r.Context(), pattern)
		s.mux.ServeHTTP(w, r)
		return
	}
	var allow []string
	for _, m := range probeMethods {
		if m == r.Method {
			continue
		}
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, p := s.mux.Handler(probe); p != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		problem.Write(w, r, problem.New(http.StatusMethodNotAllowed,
			fmt.Sprintf("Method %s is not allowed here.", r.Method)).With("Allow", strings.Join(allow, ", ")))
		return
	}
	problem.Write(w, r, problem.New(http.StatusNotFound, "No such resource."))
}

// noStore marks a response that carries tokens or personal data as not
// cacheable (RFC 6749 §5.1, RFC 9111 §5.2.2.5).
func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

// newAuthenticator builds the access-token verifier over the key ring.
func newAuthenticator(d Deps) (*auth.Authenticator, error) {
	v, err := auth.NewVerifier(d.Keys, d.Config.Issuer, d.Config.Audience)
	if err != nil {
		return nil, err
	}
	if err := v.SetLeeway(d.Config.ClockSkew); err != nil {
		return nil, err
	}
	v.SetClock(d.Now)
	if d.Config.VerifyCacheSize > 0 {
		if err := v.SetCacheSize(d.Config.VerifyCacheSize); err != nil {
			return nil, err
		}
	}
	if d.Metrics != nil {
		d.Metrics.TokenCache(v.Stats)
	}
	return &auth.Authenticator{Verifier: v, Check: sessionCheck(d.Revocations)}, nil
}

// errSessionEnded refuses a token whose session was revoked.
var errSessionEnded = errors.New("session ended")

// sessionCheck refuses tokens of ended sessions on every request, cached
// verification or not. Every gatehouse access token names its session;
// one without is refused (fail closed).
func sessionCheck(revs *revocation.Set) func(ctx context.Context, c *auth.Claims) error {
	return func(ctx context.Context, c *auth.Claims) error {
		if c.SessionID == "" || revs.Revoked(c.SessionID) {
			return errSessionEnded
		}
		return nil
	}
}

func slogString(k, v string) slog.Attr { return slog.String(k, v) }
