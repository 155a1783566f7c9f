package ratelimit

import (
	"context"
	"time"
)

// A Store keeps the rate-limit state of every key and decides each request.
// MemoryStore keeps it in the process; a shared store (Redis, for several
// instances) implements the same method, for example with a Lua script that
// runs the steps below atomically.
//
// Allow must implement the generic cell rate algorithm (GCRA) with burst
// equal to rate.Limit, so that every store gives the same answers and the
// header fields derived from a Result mean the same thing. With
// T = rate.Period / rate.Limit (integer nanoseconds), B = T * rate.Limit and
// the key's theoretical arrival time TAT (absent = now):
//
//	tat    = max(TAT, now)
//	newTAT = tat + T
//	if newTAT - now > B: refuse; RetryAfter = newTAT - now - B, ResetAfter = tat - now
//	else: TAT = newTAT; Remaining = (B - (newTAT - now)) / T, ResetAfter = newTAT - now
//
// A refused request does not change the state. A key whose TAT is not after
// now is the same as an absent key, so a store may drop it at any time (a
// shared store can expire it after ResetAfter). A shared store may use its
// own clock instead of now, so that instances with skewed clocks agree.
//
// Allow is called concurrently. It returns an error only when the store
// cannot decide (a network failure, an invalid rate); the Limiter then fails
// closed or open as configured.
type Store interface {
	Allow(ctx context.Context, key string, rate Rate, now time.Time) (Result, error)
}

// Result is the decision on one request.
type Result struct {
	Allowed bool
	// Limit is rate.Limit, the burst and the count per period.
	Limit int
	// Remaining is how many more requests would be allowed at once, right
	// after this one.
	Remaining int
	// ResetAfter is the time until the key is back to a full Limit.
	ResetAfter time.Duration
	// RetryAfter is, for a refused request, the time until one request would
	// be allowed; zero when Allowed.
	RetryAfter time.Duration
}

// gcra runs one step of the algorithm described on Store, on times in Unix
// nanoseconds. It returns the result and the new TAT to store when allowed.
func gcra(tat, now int64, rate Rate) (Result, int64) {
	t := int64(rate.Interval())
	b := t * int64(rate.Limit)
	if tat < now {
		tat = now
	}
	next := tat + t
	res := Result{Limit: rate.Limit}
	if d := next - now; d > b {
		res.RetryAfter = time.Duration(d - b)
		res.ResetAfter = time.Duration(tat - now)
		return res, tat
	}
	res.Allowed = true
	res.Remaining = int((b - (next - now)) / t)
	res.ResetAfter = time.Duration(next - now)
	return res, next
}
