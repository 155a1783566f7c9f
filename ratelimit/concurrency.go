package ratelimit

import (
	"errors"
	"hash/maphash"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/gatehouse/gatehouse/problem"
)

// concurrencyShards is the number of locks over the per-client counts.
const concurrencyShards = 32

// Concurrency is middleware that bounds the requests in progress: overall,
// and per client (per key, by default the client IP as ByClientIP gives
// it). A rate limit bounds how often requests start; it does not bound how
// many run at once, which is what memory, file descriptors and goroutines
// depend on when requests are slow (a slow client, a queued password hash,
// a slow store). Concurrency is that second bound (OWASP ASVS 5.0 §2.4.1,
// anti-automation against overuse of costly resources).
//
// A request over a bound is answered at once, never queued, because a
// queue is itself memory that a flood would fill:
//
//   - over the overall bound: 503 Service Unavailable with Retry-After: 1.
//     The server as a whole is busy; no single client is to blame.
//   - over the client's bound: 429 Too Many Requests (RFC 6585 §4) with
//     Retry-After: 1. One client holding many requests open cannot take
//     the whole server from everyone else.
//
// Both answers are RFC 9457 problem details. The overall bound is checked
// first, so the per-client table only ever holds clients that have a
// request in progress, never more than the overall bound: it cannot grow
// with the number of clients seen (a client's entry is deleted when its
// last request ends). A request's slots are given back when the handler
// returns, also when it panics.
//
// Make one with NewConcurrency; set the key before it serves. Handler
// panics on a Concurrency not made by NewConcurrency, so a missing bound is
// found at start-up. A Concurrency is safe for concurrent use, and one
// Concurrency may wrap several handlers, which then share its bounds.
type Concurrency struct {
	total, perKey int64
	key           func(*http.Request) (string, bool)

	inFlight      atomic.Int64
	refusedTotal  atomic.Uint64
	refusedPerKey atomic.Uint64
	seed          maphash.Seed
	shards        []concurrencyShard
}

type concurrencyShard struct {
	mu sync.Mutex
	n  map[string]int64 // requests in progress per key; no zero entries
	_  [48]byte         // one shard per cache line, against false sharing
}

// NewConcurrency returns a Concurrency that lets at most total requests be
// in progress at once, and at most perIP of them from one client. Both
// must be at least 1, and perIP at most total. Behind a proxy that is not
// listed in clientip's trusted proxies every request has the proxy's
// address, and the per-client bound is then a second overall bound.
func NewConcurrency(total, perIP int) (*Concurrency, error) {
	switch {
	case total < 1:
		return nil, errors.New("ratelimit: concurrency: total must be at least 1")
	case perIP < 1:
		return nil, errors.New("ratelimit: concurrency: per-IP bound must be at least 1")
	case perIP > total:
		return nil, errors.New("ratelimit: concurrency: per-IP bound is more than the total")
	}
	c := &Concurrency{
		total:  int64(total),
		perKey: int64(perIP),
		key:    ByClientIP,
		seed:   maphash.MakeSeed(),
		shards: make([]concurrencyShard, concurrencyShards),
	}
	for i := range c.shards {
		c.shards[i].n = make(map[string]int64)
	}
	return c, nil
}

// SetKey sets the function that names the client a request counts
// against; nil restores the default, ByClientIP. A request for which it
// returns false is not bounded per client, but still counts toward the
// total: use that only for requests that are bounded elsewhere.
func (c *Concurrency) SetKey(key func(*http.Request) (string, bool)) {
	if key == nil {
		key = ByClientIP
	}
	c.key = key
}

// ConcurrencyStats is a snapshot of a Concurrency, for metrics.
type ConcurrencyStats struct {
	InFlight         int    // requests in progress now
	Clients          int    // keys with a request in progress now
	RefusedTotal     uint64 // 503s for the overall bound, since creation
	RefusedPerClient uint64 // 429s for the per-client bound, since creation
}

// Stats returns the current counts.
func (c *Concurrency) Stats() ConcurrencyStats {
	s := ConcurrencyStats{
		InFlight:         int(c.inFlight.Load()),
		RefusedTotal:     c.refusedTotal.Load(),
		RefusedPerClient: c.refusedPerKey.Load(),
	}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		s.Clients += len(sh.n)
		sh.mu.Unlock()
	}
	return s
}

// Handler returns h bounded by c.
func (c *Concurrency) Handler(h http.Handler) http.Handler {
	if c == nil || c.shards == nil || c.key == nil {
		panic("ratelimit: Handler on a Concurrency not made by NewConcurrency")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !c.acquireTotal() {
			c.refusedTotal.Add(1)
			problem.Write(w, r, problem.New(http.StatusServiceUnavailable,
				"The server is handling too many requests; retry shortly.").
				With("Retry-After", "1"))
			return
		}
		defer c.inFlight.Add(-1)
		if key, ok := c.key(r); ok {
			sh := &c.shards[maphash.String(c.seed, key)%concurrencyShards]
			if !sh.acquire(key, c.perKey) {
				c.refusedPerKey.Add(1)
				problem.Write(w, r, problem.New(http.StatusTooManyRequests,
					"Too many requests in progress from this client; retry shortly.").
					With("Retry-After", "1"))
				return
			}
			defer sh.release(key)
		}
		h.ServeHTTP(w, r)
	})
}

// acquireTotal takes one of the total slots. Compare-and-swap rather than
// add-then-undo, so that a refused request never makes another one look
// over the bound.
func (c *Concurrency) acquireTotal() bool {
	for {
		n := c.inFlight.Load()
		if n >= c.total {
			return false
		}
		if c.inFlight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (sh *concurrencyShard) acquire(key string, limit int64) bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n := sh.n[key]
	if n >= limit {
		return false
	}
	sh.n[key] = n + 1
	return true
}

// release gives back one slot of key and deletes the entry at zero, which
// keeps the table as small as the requests in progress.
func (sh *concurrencyShard) release(key string) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if n := sh.n[key] - 1; n > 0 {
		sh.n[key] = n
	} else {
		delete(sh.n, key)
	}
}
