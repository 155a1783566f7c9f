package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/ratelimit"
)

// DefaultRateLimits are the per-route limits in force unless --rate-limit
// changes them: tight on the routes that take passwords or create
// accounts, keyed by client IP since their callers are anonymous.
var DefaultRateLimits = map[string]string{
	"POST /v1/auth/token":   "10/minute",
	"POST /v1/users":        "10/hour",
	"POST /v1/auth/revoke":  "30/minute",
	"POST /v1/auth/session": "10/minute",
}

// DefaultUserRate is the general limit per user over all authenticated
// routes together: generous for people and scripts, a ceiling for a
// stolen token in a loop (OWASP API4:2023).
const DefaultUserRate = "600/minute"

// limits builds the rate-limit middleware of each route from the
// configured rules (pattern → rate).
type limits struct {
	store ratelimit.Store
	// degraded is the store of routes that may run on this process's
	// own memory while a shared store fails (degradeOK); store itself
	// when there is no shared store.
	degraded ratelimit.Store
	rules    map[string]ratelimit.Rate
	general  *ratelimit.Limiter
}

// degradeOK are the anonymous routes whose limit falls back to this
// process's memory, instead of failing closed, while the shared store
// (Redis) fails. Token revocation (RFC 7009) takes no password and
// creates nothing: the caller must hold the 256-bit token it ends, so a
// per-process limit loses no protection against guessing, and refusing
// it during an outage would keep a user from ending a leaked session.
var degradeOK = map[string]bool{"POST /v1/auth/revoke": true}

func newLimits(d Deps) (*limits, error) {
	l := &limits{store: d.RateStore, rules: map[string]ratelimit.Rate{}}
	var general ratelimit.Store
	if l.store == nil {
		l.store = ratelimit.NewMemoryStore(0)
		general = l.store
	} else {
		// A shared store (Redis) that fails: the anonymous routes, which
		// guard passwords and sign-ups, fail closed (503 with
		// Retry-After); the general per-user limit falls back to this
		// process's own memory so the API keeps working, and says so
		// loudly in the log and in the metrics.
		w := &watchedStore{store: l.store, log: d.Logger, metrics: d.Metrics}
		if d.Metrics != nil {
			d.Metrics.RateStoreFailing(w.failing.Load)
		}
		l.store = w
		general = &fallbackStore{primary: w, local: ratelimit.NewMemoryStore(0)}
	}
	l.degraded = general
	for p, s := range DefaultRateLimits {
		r, err := ratelimit.ParseRate(s)
		if err != nil {
			return nil, err
		}
		l.rules[p] = r
	}
	for p, r := range d.Config.RateLimits {
		l.rules[p] = r
	}
	userRate := d.Config.UserRate
	if userRate == (ratelimit.Rate{}) {
		var err error
		if userRate, err = ratelimit.ParseRate(DefaultUserRate); err != nil {
			return nil, err
		}
	}
	g, err := ratelimit.New("user", userRate, general)
	if err != nil {
		return nil, err
	}
	g.SetKey(byUser)
	g.SetNow(d.Now)
	l.general = g
	return l, nil
}

// watchedStore is the shared store, watched: every failure is counted,
// and the first failure after a success (and the first success after a
// failure) is logged, so that an outage is loud once rather than on every
// request.
//
// While it fails, one call a second goes to the store to see whether it is
// back (a Redis client retries a refused connection for up to a second or
// so); the others fail at once, so that an outage does not add that wait
// to every request. That is as safe as asking: sign-in and sign-up are
// refused (fail closed) and per-user limits use this process's memory.
type watchedStore struct {
	store     ratelimit.Store
	log       *slog.Logger
	metrics   Metrics
	failing   atomic.Bool
	lastProbe atomic.Int64 // Unix nanoseconds of the last call let through while failing
}

// errStoreDown is returned without asking the store while it fails.
var errStoreDown = errors.New("shared rate-limit store is failing; not asked again within a second")

// probeEvery is how often a failing store is asked again.
const probeEvery = time.Second

func (w *watchedStore) Allow(ctx context.Context, key string, rate ratelimit.Rate, now time.Time) (ratelimit.Result, error) {
	if w.failing.Load() {
		last, t := w.lastProbe.Load(), time.Now().UnixNano()
		if t-last < int64(probeEvery) || !w.lastProbe.CompareAndSwap(last, t) {
			if w.metrics != nil {
				w.metrics.RateStoreError()
			}
			return ratelimit.Result{}, errStoreDown
		}
	}
	res, err := w.store.Allow(ctx, key, rate, now)
	if err == nil {
		if w.failing.Swap(false) {
			w.log.Warn("shared rate-limit store answers again; sign-in and sign-up routes are open and per-user limits are shared again")
		}
		return res, nil
	}
	if ctx.Err() != nil {
		// The client went away or its deadline passed: that says
		// nothing about the store.
		return res, err
	}
	if w.metrics != nil {
		w.metrics.RateStoreError()
	}
	if !w.failing.Swap(true) {
		w.lastProbe.Store(time.Now().UnixNano())
		w.log.Error("SHARED RATE-LIMIT STORE FAILED: sign-in and sign-up routes answer 503 (fail closed) and per-user limits fall back to this process's memory until it answers", "error", err.Error())
	}
	return res, err
}

// fallbackStore answers from local when primary fails (primary logs it).
type fallbackStore struct {
	primary, local ratelimit.Store
}

func (f *fallbackStore) Allow(ctx context.Context, key string, rate ratelimit.Rate, now time.Time) (ratelimit.Result, error) {
	res, err := f.primary.Allow(ctx, key, rate, now)
	if err == nil {
		return res, nil
	}
	return f.local.Allow(ctx, key, rate, now)
}

// byUser keys a limit by the authenticated subject.
func byUser(r *http.Request) (string, bool) {
	c, ok := auth.FromContext(r.Context())
	if !ok {
		return "", false
	}
	return c.Subject, true
}

// route wraps h in the limit configured for pattern, if any, keyed by
// client IP (anonymous routes) or by user (authenticated ones: the
// middleware must then sit inside the Authenticator).
func (l *limits) route(pattern string, byUserKey bool, h http.Handler) http.Handler {
	rate, ok := l.rules[pattern]
	if !ok {
		return h
	}
	store := l.store
	if degradeOK[pattern] {
		store = l.degraded
	}
	lim, err := ratelimit.New(pattern, rate, store)
	if err != nil {
		panic(fmt.Sprintf("rate limit %s: %v", pattern, err)) // patterns are ours, validated at start
	}
	if byUserKey {
		lim.SetKey(byUser)
	}
	return lim.Handler(h)
}

// anon is the limit of an anonymous route.
func (l *limits) anon(pattern string, h http.Handler) http.Handler { return l.route(pattern, false, h) }

// user is the general per-user limit plus the route's own, if any.
func (l *limits) user(pattern string, h http.Handler) http.Handler {
	return l.general.Handler(l.route(pattern, true, h))
}

// unknown lists configured patterns that name no route, so that a typo in
// --rate-limit is refused at start instead of silently limiting nothing.
func (l *limits) unknown(routes []string) []string {
	var bad []string
	for p := range l.rules {
		if !slices.Contains(routes, p) {
			if _, isDefault := DefaultRateLimits[p]; isDefault {
				continue // a default for a route this build does not serve
			}
			bad = append(bad, p)
		}
	}
	slices.Sort(bad)
	return bad
}

func errUnknownRoutes(bad []string) error {
	return fmt.Errorf("--rate-limit names no route: %s", strings.Join(bad, ", "))
}
