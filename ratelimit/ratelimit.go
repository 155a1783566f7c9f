// Package ratelimit limits how often a client may call a route, with
// declarative rates such as "5/minute", and tells clients their budget in
// the IETF RateLimit header fields.
//
// # Algorithm
//
// Limits use the generic cell rate algorithm (GCRA) with a burst equal to
// the limit: a key idle for a whole period may send Limit requests at once,
// then one more every Period/Limit. Unlike fixed windows, there is no edge
// where a client sends Limit requests at the end of one window and Limit
// more at the start of the next: after a burst, the budget refills at the
// steady rate, so any interval of length L admits at most
// Limit + L·Limit/Period requests, and Limit in any instant. The state is
// one time per key (see Store), which keeps MemoryStore small and lets a
// shared store implement the same steps atomically.
//
// # Header fields
//
// The Limiter follows draft-ietf-httpapi-ratelimit-headers-11 (23 May 2026),
// whose field syntax has not changed since -08: both fields are Structured
// Field Lists (RFC 9651) of Items whose value is the policy name as a
// String. Every response on which a Limiter decides carries (a store
// failure sends the policy only; a request its Key exempts, neither)
//
//	RateLimit-Policy: "login";q=5;w=60
//	RateLimit: "login";r=4;t=12
//
// q is the Limit and w the Period in seconds (§3.1); r is Result.Remaining
// (§4.1.1); t (§4.1.2, "the time within which the client can use no more
// than the available quota") is the number of seconds, rounded up, until
// one more request becomes available: before then at most r requests
// succeed, which is exactly what the draft's effective window promises. On
// a refusal r is 0 and t equals Retry-After, honouring §6: Retry-After
// SHOULD NOT point before the end of the effective window. Several
// Limiters on one route add one list member each. No partition key (pk) is
// sent: it would reveal the key, such as a user ID or an address (§6.1,
// §8.2).
//
// A refused request gets 429 Too Many Requests (RFC 6585 §4) as an RFC 9457
// problem, with Retry-After in whole seconds (RFC 9110 §10.2.3), rounded up
// and at least 1 so that a client that waits as told is not refused again.
//
// # Keys
//
// Each Limiter keys requests with its Key function (ByClientIP by default)
// and prefixes the key with its policy name, so Limiters with different
// names may share one Store without sharing budgets.
package ratelimit

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/clientip"
	"github.com/gatehouse/gatehouse/problem"
)

// MaxPolicyLen is the longest policy name New accepts.
const MaxPolicyLen = 64

// A Limiter is middleware that enforces one rate per key on the requests
// that pass through it. Make one with New; set the optional parts with its
// setters before it serves. Handler panics on a Limiter not made by New, so
// a missing limit is found at start-up, not in production traffic.
type Limiter struct {
	policy   string
	rate     Rate
	store    Store
	key      func(*http.Request) (string, bool)
	now      func() time.Time
	failOpen bool
	onError  func(*http.Request, error)

	policyField string // the RateLimit-Policy list member, made once
}

// New returns a Limiter named policy that allows rate per key, with state in
// store. The policy name is sent to clients in the header fields: it must be
// 1 to MaxPolicyLen printable ASCII characters without '"' or '\', and
// without leading or trailing spaces. Limiters with the same name and
// store share their budgets, which lets several routes draw on one; give
// unrelated limits different names.
func New(policy string, rate Rate, store Store) (*Limiter, error) {
	if err := checkPolicy(policy); err != nil {
		return nil, fmt.Errorf("ratelimit: policy %q: %w", policy, err)
	}
	if err := rate.Validate(); err != nil {
		return nil, fmt.Errorf("ratelimit: policy %q: %w", policy, err)
	}
	if store == nil {
		return nil, fmt.Errorf("ratelimit: policy %q: nil store", policy)
	}
	return &Limiter{
		policy: policy,
		rate:   rate,
		store:  store,
		key:    ByClientIP,
		now:    time.Now,
		policyField: `"` + policy + `";q=` + strconv.Itoa(rate.Limit) +
			";w=" + strconv.FormatInt(int64(rate.Period/time.Second), 10),
	}, nil
}

// checkPolicy keeps the name a valid Structured Field String (RFC 9651
// §3.3.3) that needs no escaping, and without control characters, so that
// "policy\x00key" store keys cannot collide across policies.
func checkPolicy(p string) error {
	if p == "" || len(p) > MaxPolicyLen {
		return fmt.Errorf("length is not between 1 and %d", MaxPolicyLen)
	}
	if p[0] == ' ' || p[len(p)-1] == ' ' {
		return errors.New("leading or trailing space")
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return fmt.Errorf("character %q is not allowed", c)
		}
	}
	return nil
}

// Policy returns the policy name.
func (l *Limiter) Policy() string { return l.policy }

// Rate returns the enforced rate.
func (l *Limiter) Rate() Rate { return l.rate }

// SetKey sets the function that names the budget a request draws on, such
// as the client IP on anonymous routes or the user ID on authenticated ones.
// A request for which it returns false is not limited (and gets no header
// fields): use that only for requests that another layer already refuses or
// limits, since a key function that can be made to return false turns the
// limit off. nil restores the default, ByClientIP.
func (l *Limiter) SetKey(key func(*http.Request) (string, bool)) {
	if key == nil {
		key = ByClientIP
	}
	l.key = key
}

// SetNow sets the clock, for tests. nil restores time.Now.
func (l *Limiter) SetNow(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	l.now = now
}

// SetFailOpen chooses what happens when the store cannot decide. By default
// the Limiter fails closed: it answers 503 Service Unavailable with
// Retry-After, because a limit that vanishes whenever its store is
// unreachable is one an attacker can switch off by overloading the store
// (OWASP ASVS 5.0 §2.4.1 anti-automation controls). Fail open only for
// limits whose loss is harmless and whose route must stay up.
func (l *Limiter) SetFailOpen(open bool) { l.failOpen = open }

// SetOnError sets a function called with every store error, for logging
// and metrics; it runs before the response is written. The error is never
// sent to the client. nil removes it.
func (l *Limiter) SetOnError(f func(*http.Request, error)) { l.onError = f }

// The field names in canonical form (http.CanonicalHeaderKey), which
// Header.Add uses as they are, without converting them on every request.
// Field names are case-insensitive (RFC 9110 §5.1).
const (
	policyField = "Ratelimit-Policy"
	limitField  = "Ratelimit"
)

// sep separates the policy from the key in store keys. checkPolicy keeps it
// out of policy names, so the first sep ends the policy: two (policy, key)
// pairs give the same store key only when both parts are equal.
const sep = "\x00"

// Handler returns h limited by l. Allowed requests reach h with the header
// fields set; refused ones get 429, or 503 when the store fails and l fails
// closed.
func (l *Limiter) Handler(h http.Handler) http.Handler {
	if l == nil || l.store == nil || l.key == nil || l.now == nil {
		panic("ratelimit: Handler on a Limiter not made by New")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := l.key(r)
		if !ok {
			h.ServeHTTP(w, r)
			return
		}
		res, err := l.store.Allow(r.Context(), l.policy+sep+key, l.rate, l.now())
		hdr := w.Header()
		hdr.Add(policyField, l.policyField)
		if err != nil {
			if l.onError != nil {
				l.onError(r, err)
			}
			if l.failOpen {
				h.ServeHTTP(w, r)
				return
			}
			// Ask for a retry when the next request would have been
			// allowed anyway: no later than the limit requires, no
			// earlier than it allows.
			wait := seconds(l.rate.Interval())
			problem.Write(w, r, problem.New(http.StatusServiceUnavailable,
				"The rate limit could not be checked; retry later.").
				With("Retry-After", strconv.FormatInt(wait, 10)))
			return
		}
		hdr.Add(limitField, l.limitField(res))
		if !res.Allowed {
			wait := seconds(res.RetryAfter)
			problem.Write(w, r, problem.New(http.StatusTooManyRequests,
				"Too many requests; retry after "+strconv.FormatInt(wait, 10)+" seconds.").
				With("Retry-After", strconv.FormatInt(wait, 10)))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// limitField formats the RateLimit list member for res.
func (l *Limiter) limitField(res Result) string {
	b := make([]byte, 0, len(l.policy)+32)
	b = append(b, '"')
	b = append(b, l.policy...)
	b = append(b, `";r=`...)
	b = strconv.AppendInt(b, int64(max(res.Remaining, 0)), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, windowSeconds(res, l.rate), 10)
	return string(b)
}

// windowSeconds is the effective window t: the seconds until one more
// request is available. Refused, that is RetryAfter. Allowed, the key is
// full again after ResetAfter, and each of the Limit-Remaining-1 requests
// still missing on top of the next one takes one interval, so the next one
// arrives after ResetAfter - (Limit-Remaining-1)·Interval.
func windowSeconds(res Result, rate Rate) int64 {
	if !res.Allowed {
		return seconds(res.RetryAfter)
	}
	missing := max(res.Limit-res.Remaining-1, 0)
	return seconds(res.ResetAfter - time.Duration(missing)*rate.Interval())
}

// seconds rounds d up to whole seconds, at least 1: a client that waits
// that long finds the request allowed, and 0 would invite a retry loop.
func seconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// ByClientIP keys a request by its client IP: the address stored by a
// clientip Handler, or the socket address when there is none (never a
// forwarding header, see clientip). IPv4 addresses are used whole; IPv6
// addresses are cut to their /64, because one subscriber usually holds a
// whole /64 and could otherwise take a new address, and a new budget, for
// every request. A request without an IP (a Unix socket) is keyed
// "unknown", one budget shared by all such requests: limited, not exempt.
func ByClientIP(r *http.Request) (string, bool) {
	ip, ok := clientip.FromContext(r.Context())
	if !ok {
		ip = new(clientip.Resolver).IP(r)
	}
	switch {
	case !ip.IsValid():
		return "unknown", true
	case ip.Is6():
		return netip.PrefixFrom(ip, 64).Masked().String(), true
	}
	return ip.String(), true
}
