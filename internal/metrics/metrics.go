// Package metrics exposes gatehouse's operational metrics in the Prometheus
// text format, on a registry of its own (never the global one, so that no
// library can add series to what gatehouse serves).
//
// Every label has a bounded set of values: route patterns from routes.go
// (unknown paths count under "unmatched"), HTTP status codes, and the fixed
// authentication-failure reasons in Reasons. No label ever holds a user
// name, an IP address, a raw path or an error message.
package metrics

import (
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Unmatched is the route label of requests that match no route: raw paths
// would let any client create series without bound.
const Unmatched = "unmatched"

// Reasons are the values of the reason label of
// gatehouse_auth_failures_total; AuthFailure counts any other value as
// "other".
var Reasons = []string{
	"wrong_password",   // login: the password did not match
	"unknown_user",     // login: no such account
	"account_disabled", // login: right password, disabled account
	"throttled",        // login: refused by the brute-force back-off
	"invalid_token",    // 401: a bearer token that failed verification
	"unauthenticated",  // 401 otherwise: no token or cookie, unknown client
	"other",
}

// Metrics records the API's requests and reads the password-hash queue and
// the token-verification cache when scraped. It implements
// server.Metrics. Its methods are safe for concurrent use.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	authFail    *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
	tokenCache  atomic.Pointer[func() auth.CacheStats]
	storeFail   atomic.Pointer[func() bool]
	storeErrors prometheus.Counter
}

// New registers gatehouse's metrics, the Go runtime's and the process's
// on a new registry. hashes is the password-hash limiter whose queue is
// reported; nil: no hash-queue metrics.
func New(hashes *password.Limiter) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_http_requests_total",
			Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_http_request_duration_seconds",
			Help: "Time to answer HTTP requests, by route pattern.",
			// Password hashing puts logins around 50-500 ms; the tail
			// buckets show a hash queue backing up.
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route"}),
		authFail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_auth_failures_total",
			Help: "Authentication failures: failed logins and 401 answers, by reason.",
		}, []string{"reason"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_rate_limited_total",
			Help: "Requests refused with 429 Too Many Requests, by route pattern.",
		}, []string{"route"}),
	}
	// Every reason is exported from the start, at 0, so that rate() and
	// alerts see the series before the first failure.
	for _, r := range Reasons {
		m.authFail.WithLabelValues(r)
	}
	m.storeErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatehouse_ratelimit_store_errors_total",
		Help: "Failed calls to the shared rate-limit store (Redis); each refused a sign-in or sign-up with 503 or fell back to in-process per-user limits.",
	})
	m.reg.MustRegister(m.storeErrors, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gatehouse_ratelimit_store_fallback",
		Help: "1 while the shared rate-limit store (Redis) fails: sign-in and sign-up answer 503, per-user limits are this process's own; 0 otherwise or without one.",
	}, func() float64 {
		if p := m.storeFail.Load(); p != nil && (*p)() {
			return 1
		}
		return 0
	}))
	m.reg.MustRegister(m.requests, m.duration, m.authFail, m.rateLimited,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if hashes != nil {
		m.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "gatehouse_password_hash_in_flight",
				Help: "Password hashes being computed now.",
			}, func() float64 { return float64(hashes.Stats().InFlight) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "gatehouse_password_hash_queue_depth",
				Help: "Password hashes waiting for a hashing slot now.",
			}, func() float64 { return float64(hashes.Stats().Queued) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "gatehouse_password_hash_queue_wait_seconds_total",
				Help: "Time all password hashes have spent waiting for a slot.",
			}, func() float64 { return hashes.Stats().TotalWait.Seconds() }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "gatehouse_password_hash_rejected_total",
				Help: "Password hashes refused because the queue was full (answered 503).",
			}, func() float64 { return float64(hashes.Stats().Rejected) }),
		)
	}
	cache := func(f func(auth.CacheStats) float64) func() float64 {
		return func() float64 {
			if p := m.tokenCache.Load(); p != nil {
				return f((*p)())
			}
			return 0
		}
	}
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gatehouse_token_cache_hits_total",
			Help: "Access tokens found in the verification cache.",
		}, cache(func(s auth.CacheStats) float64 { return float64(s.Hits) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gatehouse_token_cache_misses_total",
			Help: "Access tokens verified in full (not found in the verification cache).",
		}, cache(func(s auth.CacheStats) float64 { return float64(s.Misses) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gatehouse_token_cache_evictions_total",
			Help: "Entries dropped from the verification cache to make room.",
		}, cache(func(s auth.CacheStats) float64 { return float64(s.Evictions) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gatehouse_token_cache_entries",
			Help: "Access tokens in the verification cache now.",
		}, cache(func(s auth.CacheStats) float64 { return float64(s.Entries) })),
	)
	return m
}

// Request records one answered request. An empty route counts as
// Unmatched.
func (m *Metrics) Request(route string, status int, elapsed time.Duration) {
	if route == "" {
		route = Unmatched
	}
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(elapsed.Seconds())
	if status == http.StatusTooManyRequests {
		m.rateLimited.WithLabelValues(route).Inc()
	}
}

// AuthFailure counts one authentication failure; a reason not in Reasons
// counts as "other".
func (m *Metrics) AuthFailure(reason string) {
	if !slices.Contains(Reasons, reason) {
		reason = "other"
	}
	m.authFail.WithLabelValues(reason).Inc()
}

// TokenCache sets the function that reads the token-verification cache's
// counters; the server calls it with its verifier's Stats.
func (m *Metrics) TokenCache(stats func() auth.CacheStats) {
	if stats != nil {
		m.tokenCache.Store(&stats)
	}
}

// RateStoreFailing sets the function that says whether the shared
// rate-limit store fails now (gatehouse_ratelimit_store_fallback).
func (m *Metrics) RateStoreFailing(failing func() bool) {
	if failing != nil {
		m.storeFail.Store(&failing)
	}
}

// RateStoreError counts one failed call to the shared rate-limit store.
func (m *Metrics) RateStoreError() { m.storeErrors.Inc() }

// Registry is the registry the metrics are on, for tests and for adding
// collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition format. It
// answers every path and method alike; serve it on a listener of its own
// (--metrics-addr), never on the API's.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A failing collector is left out of the scrape instead of
		// failing it whole.
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}
