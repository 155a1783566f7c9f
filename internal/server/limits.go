package server

import (
	"context"
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
	store   ratelimit.Store
	rules   map[string]ratelimit.Rate
	general *ratelimit.Limiter
}

func newLimits(d Deps) (*limits, error) {
	l := &limits{store: d.RateStore, rules: map[string]ratelimit.Rate{}}
	general := d.RateStore
	if l.store == nil {
		l.store = ratelimit.NewMemoryStore(0)
		general = l.store
	} else {
		// A shared store (Redis) that fails: the anonymous routes, which
		// guard passwords and sign-ups, fail closed (503 with
		// Retry-After); the general per-user limit falls back to this
		// process's own memory so the API keeps working, and says so
		// loudly in the log.
		general = &fallbackStore{primary: l.store, local: ratelimit.NewMemoryStore(0), log: d.Logger}
	}
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

// fallbackStore answers from local when primary fails.
type fallbackStore struct {
	primary, local ratelimit.Store
	log            *slog.Logger
	failing        atomic.Bool
}

func (f *fallbackStore) Allow(ctx context.Context, key string, rate ratelimit.Rate, now time.Time) (ratelimit.Result, error) {
	res, err := f.primary.Allow(ctx, key, rate, now)
	if err == nil {
		if f.failing.Swap(false) {
			f.log.Warn("shared rate-limit store answers again; per-user limits are shared again")
		}
		return res, nil
	}
	if !f.failing.Swap(true) {
		f.log.Error("shared rate-limit store failed; per-user limits fall back to this process's memory until it answers", "error", err.Error())
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
	lim, err := ratelimit.New(pattern, rate, l.store)
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
