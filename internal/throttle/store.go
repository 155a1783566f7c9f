package throttle

import "time"

// A Store keeps the login-failure state of accounts and of (account, IP)
// pairs. MemoryStore keeps it in the process and is the default; a shared
// store (Redis, for several instances) implements the same method, for
// example as an optimistic transaction (WATCH both keys, run f, MULTI/EXEC,
// retry on conflict).
//
// Update runs f on the current states of account and pair and saves what f
// leaves in them, as one atomic step: no other Update on the same account
// or pair may interleave, or concurrent attempts could all be allowed
// against the same count. A store that retries on conflict may run f more
// than once, on fresh states each time; only the last run counts. A key
// the store does not hold has the zero State; a State that f leaves zero
// may be deleted. An empty pair means no pair: f then gets a scratch State
// whose changes are discarded. now is the time of the step, for eviction
// decisions; a shared store may use its own clock instead.
//
// Update returns an error only when the store cannot run the step; the
// Throttle then fails closed (Check refuses the attempt).
type Store interface {
	Update(account, pair string, now time.Time, f func(account, pair *State)) error
}

// State is what a Store remembers about one account or one pair.
type State struct {
	// Failures is the number of consecutive failed attempts: a success
	// resets it, time alone does not (NIST SP 800-63B-4 §3.2.2 counts
	// consecutive failures).
	Failures int
	// Pending is the number of attempts that Check allowed and whose
	// outcome is not recorded yet; each counts as a failure for Check.
	Pending int
	// Last is the time of the latest failure.
	Last time.Time
	// Reserved is the time of the latest allowed attempt while Pending is
	// not zero.
	Reserved time.Time
	// Until is when the current back-off ends. Stores use it to choose what
	// to evict; the Throttle derives it again on every step.
	Until time.Time
}

func (s State) isZero() bool {
	return s.Failures == 0 && s.Pending == 0 && s.Last.IsZero() && s.Reserved.IsZero() && s.Until.IsZero()
}
