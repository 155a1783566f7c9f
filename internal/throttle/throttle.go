// Package throttle slows down password guessing against one account with
// exponential back-off, independently of any per-IP rate limit.
//
// # What is counted
//
// Failed logins are counted twice: per pair, the account together with the
// client IP (IPv6 cut to its /64, as ratelimit.ByClientIP does), and per
// account across every IP. A pair's first PairFree failures are free; from
// failure PairFree+1 on, each failure makes the pair wait FirstDelay, then
// twice as long after each further failure, up to PairMax. The account does
// the same with AccountFree and AccountMax, so that an attacker who spreads
// guesses over many addresses meets the account's back-off instead of a
// fresh pair budget per address. An attempt must wait for the longer of the
// two. With the defaults (wait after failure n, measured from failure n):
//
//	failures 1–5      no wait
//	failure  6 … 15   1 s, 2 s, 4 s … 512 s    (pair)
//	failure  16 … 20  15 min                   (pair maximum)
//	failure  21, 22   1024 s, 2048 s           (account, from failure 11)
//	failure  23 … 99  1 h                      (account maximum)
//	failure  100      locked: every attempt on the account is refused until Reset
//
// Such waits are what NIST SP 800-63B-4 §3.2.2 suggests to keep a
// legitimate subscriber from reaching the cap: they grow as the account
// approaches it. A guesser gets about 18 guesses in the first hour from one
// address (about 22 in the first 70 minutes from many), then one an hour:
// reaching the cap takes about 3.3 days.
//
// # The cap (NIST SP 800-63B-4 §3.2.2)
//
// "The verifier SHALL limit consecutive failed authentication attempts on a
// single account to no more than 100." A Throttle enforces it strictly: when
// the account's consecutive failures reach AccountCap (at most, and by
// default, 100), Attempt refuses every attempt on the account, from every IP,
// with no time limit, until Reset (an administrator re-enabling the account,
// or account recovery) or a restart of an in-memory store. A cooldown that
// let one more attempt through would allow a 101st consecutive failure.
// The price is that anyone who knows a username can lock that account over
// about three days of patient guessing; the back-off above is what makes
// that slow, and an operator alerted by the security event can Reset.
// "Consecutive" ends at a success: Success sets the account's count back to
// zero. Only verified attempts count: an attempt that Attempt refused did
// not test a password, so it does not count toward the cap, or anyone could
// lock any account in a hundred requests.
//
// # Concurrent attempts
//
// Attempt reserves the attempt it allows: until the caller reports Failure,
// Success or Release, the attempt counts as a failure for the decision on
// the next one. Without that, an attacker who sends many guesses at once
// would have all of them checked against the same count before any failure
// was recorded, getting a burst of guesses past the back-off and past the
// cap. A reservation the caller never resolves is dropped after
// ReservationTTL, longer than any login may take.
//
// So a client with PairFree+1 logins for one username in flight has the
// next refused, even with the right password and no failure on record.
// Attempt tells that case apart (Verdict InFlight), for the server to
// answer "busy, retry" at once instead of "wrong password" after a dummy
// hash: it depends only on the client's own requests, so it reveals
// nothing (see Attempt).
//
// # Answering a throttled attempt
//
// A Throttled attempt must look exactly like a wrong password: the same
// invalid_grant answer, no Retry-After, and the same time, so run the dummy
// password verification for it (password.Hasher.VerifyDummy). Keys are
// usernames, not user IDs, and the Throttle never learns whether an account
// exists, so unknown usernames are throttled in exactly the same way and
// throttling reveals nothing about which accounts exist (OWASP ASVS 5.0
// §6.3.8; OWASP Authentication Cheat Sheet, "Login Throttling"). A correct
// password for a throttled attempt is refused all the same: Attempt decides
// before any verification, and its answer does not depend on the password.
//
// Every Failure that starts a back-off or locks the account returns an
// Event with Started true: log it as a security event (OWASP ASVS 5.0
// §16.3.1).
//
// # Memory
//
// State lives in a Store; the default MemoryStore holds a bounded number of
// entries whatever the traffic, so a flood of made-up usernames or of IPv6
// addresses cannot grow it (see MemoryStore for what it evicts first). Its
// state is per process and is lost on restart; a shared Store (Redis) can
// implement the same interface for several instances.
package throttle

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse"
)

// The defaults that New uses for the zero fields of Config.
const (
	DefaultPairFree    = 5
	DefaultPairMax     = 15 * time.Minute
	DefaultAccountFree = 10
	DefaultAccountMax  = time.Hour
	DefaultAccountCap  = MaxAccountCap
)

// MaxAccountCap is the largest AccountCap New accepts: NIST SP 800-63B-4
// §3.2.2 allows no more than 100 consecutive failed attempts on an account.
const MaxAccountCap = 100

// FirstDelay is the first wait of a back-off; each further failure doubles
// it.
const FirstDelay = time.Second

// ReservationTTL is how long an attempt allowed by Attempt counts as a failure
// when the caller never reports its outcome. It is longer than any request
// may take (the server's WriteTimeout), so it only cleans up after a caller
// that forgot to call Failure, Success or Release.
const ReservationTTL = time.Minute

// Forever is the wait that Attempt reports for an account locked at the cap.
const Forever = time.Duration(math.MaxInt64)

// maxCount keeps failure counts far from overflow.
const maxCount = 1 << 30

// Config configures a Throttle. Zero fields take the defaults above.
type Config struct {
	// PairFree is how many consecutive failures of one (username, IP) pair
	// pass without a wait (default 5).
	PairFree int
	// PairMax is the longest wait of a pair (default 15 min).
	PairMax time.Duration
	// AccountFree is how many consecutive failures of one account, from
	// any IP, pass without a wait (default 10).
	AccountFree int
	// AccountMax is the longest wait of an account (default 1 h).
	AccountMax time.Duration
	// AccountCap is the number of consecutive failures that locks the
	// account until Reset: more than AccountFree, at most MaxAccountCap
	// (default 100).
	AccountCap int
	// MaxKeys bounds the entries of the default MemoryStore (default
	// DefaultMaxKeys). It is ignored when Store is set.
	MaxKeys int
	// Store keeps the state (default NewMemoryStore(MaxKeys)).
	Store Store
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnError is called with every Store error, for logging. The Throttle
	// fails closed on a Store error: Attempt refuses the attempt (Throttled).
	OnError func(error)
}

// A Throttle decides whether a login attempt may be verified now, and
// records the outcome. Make one with New. It is safe for concurrent use.
type Throttle struct {
	pairFree, accountFree, cap int
	pairMax, accountMax        time.Duration
	store                      Store
	now                        func() time.Time
	onError                    func(error)
}

// New returns a Throttle configured by cfg, or an error naming the first bad
// field.
func New(cfg Config) (*Throttle, error) {
	c := cfg
	switch {
	case c.PairFree < 0:
		return nil, errors.New("throttle: PairFree is negative")
	case c.AccountFree < 0:
		return nil, errors.New("throttle: AccountFree is negative")
	case c.AccountCap < 0:
		return nil, errors.New("throttle: AccountCap is negative")
	case c.PairMax < 0, c.PairMax > 0 && c.PairMax < FirstDelay:
		return nil, fmt.Errorf("throttle: PairMax %s is less than %s", c.PairMax, FirstDelay)
	case c.AccountMax < 0, c.AccountMax > 0 && c.AccountMax < FirstDelay:
		return nil, fmt.Errorf("throttle: AccountMax %s is less than %s", c.AccountMax, FirstDelay)
	case c.MaxKeys < 0:
		return nil, errors.New("throttle: MaxKeys is negative")
	}
	if c.PairFree == 0 {
		c.PairFree = DefaultPairFree
	}
	if c.AccountFree == 0 {
		c.AccountFree = DefaultAccountFree
	}
	if c.AccountCap == 0 {
		c.AccountCap = DefaultAccountCap
	}
	if c.PairMax == 0 {
		c.PairMax = DefaultPairMax
	}
	if c.AccountMax == 0 {
		c.AccountMax = DefaultAccountMax
	}
	if c.AccountCap > MaxAccountCap {
		return nil, fmt.Errorf("throttle: AccountCap %d is more than %d (NIST SP 800-63B-4 §3.2.2)", c.AccountCap, MaxAccountCap)
	}
	if c.AccountCap <= c.AccountFree {
		return nil, fmt.Errorf("throttle: AccountCap %d is not more than AccountFree %d", c.AccountCap, c.AccountFree)
	}
	if c.Store == nil {
		c.Store = NewMemoryStore(c.MaxKeys)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.OnError == nil {
		c.OnError = func(error) {}
	}
	return &Throttle{
		pairFree: c.PairFree, accountFree: c.AccountFree, cap: c.AccountCap,
		pairMax: c.PairMax, accountMax: c.AccountMax,
		store: c.Store, now: c.Now, onError: c.OnError,
	}, nil
}

// Event describes one recorded failure, for the security log.
type Event struct {
	// PairFailures and AccountFailures are the consecutive failures of the
	// (username, IP) pair and of the account, this one included.
	PairFailures, AccountFailures int
	// Wait is how long the pair must now wait before its next attempt;
	// Forever when the account is locked.
	Wait time.Duration
	// PairStarted: this failure started the pair's back-off.
	PairStarted bool
	// AccountStarted: this failure started the account's back-off.
	AccountStarted bool
	// Locked: this failure reached the cap and locked the account.
	Locked bool
}

// Started reports whether this failure started a back-off or locked the
// account: a security event to log.
func (e Event) Started() bool { return e.PairStarted || e.AccountStarted || e.Locked }

// Verdict is Attempt's decision on a login attempt.
type Verdict int

const (
	// Allowed: verify the password, then report the outcome with exactly
	// one of Failure, Success or Release.
	Allowed Verdict = iota
	// Throttled: a back-off is running, or the account is locked, or other
	// clients' attempts on the account are being verified. Answer exactly as
	// for a wrong password, after the same dummy verification, without
	// verifying the real password, and report nothing.
	Throttled
	// InFlight: no back-off is running, but this client's own earlier
	// attempts on this username, as many as it may make without waiting,
	// are still being verified. Answer as busy (503 temporarily_unavailable
	// with Retry-After: 1), without any verification, and report nothing.
	InFlight
)

func (v Verdict) String() string {
	switch v {
	case Allowed:
		return "allowed"
	case Throttled:
		return "throttled"
	case InFlight:
		return "in flight"
	}
	return "Verdict(" + strconv.Itoa(int(v)) + ")"
}

// Attempt decides whether a login attempt for username from ip may be
// verified now. Call it before verifying the password. When it allows the
// attempt, it reserves it: report the outcome with exactly one of Failure,
// Success or Release. When it refuses, wait is the time until an attempt
// would be allowed (Forever for a locked account) and the Verdict says how
// to answer.
//
// Why two refusals. Attempts in flight count as failures (see the package
// documentation), so a client that sends many logins for one username at
// once, all with the right password, would see all but the first few
// refused. Answered as wrong passwords, after a dummy verification each,
// that would tell a legitimate client its password is wrong and spend the
// hasher on nothing; InFlight lets the server answer "busy, retry" at once
// instead. That answer reveals nothing about the account, whether it
// exists or whether a password was right: it depends only on the requests
// that this client (this IP, or IPv6 /64) has itself sent for this
// username and that are still running. A refusal that depends on anything
// else (failures, the cap, or other clients' attempts on the account) is
// Throttled, and must look like a wrong password.
//
// username is the name the client sent; it is normalized as
// gatehouse.NormalizeUsername does, so every spelling of one name shares
// its counts. Callers should bound its length first.
func (t *Throttle) Attempt(username string, ip netip.Addr) (v Verdict, wait time.Duration) {
	now := t.now()
	acc := accountKey(username)
	err := t.store.Update(acc, pairKey(acc, ip), now, func(a, p *State) {
		v, wait = Allowed, 0 // f may run again when a store retries
		expire(a, now)
		expire(p, now)
		if a.Failures >= t.cap {
			v, wait = Throttled, Forever
			return
		}
		// The waits that recorded failures impose, and the waits with
		// the attempts in flight counted as failures too.
		failed := max(p.Last.Add(t.pairDelay(p.Failures)).Sub(now),
			a.Last.Add(t.accountDelay(a.Failures)).Sub(now))
		pair := base(p).Add(t.pairDelay(p.Failures + p.Pending)).Sub(now)
		account := base(a).Add(t.accountDelay(a.Failures + a.Pending)).Sub(now)
		if a.Failures+a.Pending >= t.cap {
			// Attempts in flight could take the account past the cap:
			// wait for their outcome.
			account = max(account, FirstDelay)
		}
		wait = max(pair, account)
		switch {
		case wait <= 0:
			wait = 0
			for _, s := range []*State{a, p} {
				s.Pending++
				s.Reserved = now
			}
			t.settle(a, p)
		case failed > 0:
			v = Throttled
		case account > 0 && a.Pending > p.Pending:
			// Other clients' attempts are in flight: telling this
			// client so would tell it that someone is logging in to
			// the account right now.
			v = Throttled
		default:
			v = InFlight
		}
	})
	if err != nil {
		// Fail closed: an attempt that cannot be counted is not verified.
		t.onError(fmt.Errorf("throttle: check: %w", err))
		return Throttled, FirstDelay
	}
	return v, wait
}

// Check is Attempt without the reason: throttled is true for both
// refusals, which the caller then answers as wrong passwords. Prefer
// Attempt, which lets the server answer a client's own excess concurrency
// as busy instead of as a wrong password.
func (t *Throttle) Check(username string, ip netip.Addr) (wait time.Duration, throttled bool) {
	v, wait := t.Attempt(username, ip)
	return wait, v != Allowed
}

// Failure records a failed attempt (a wrong password, an unknown username,
// a disabled account) that Attempt allowed, and returns what it started.
func (t *Throttle) Failure(username string, ip netip.Addr) Event {
	now := t.now()
	acc := accountKey(username)
	var ev Event
	err := t.store.Update(acc, pairKey(acc, ip), now, func(a, p *State) {
		expire(a, now)
		expire(p, now)
		for _, s := range []*State{a, p} {
			unreserve(s)
			s.Failures = min(s.Failures+1, maxCount)
			s.Last = now
		}
		t.settle(a, p)
		ev = Event{
			PairFailures:    p.Failures,
			AccountFailures: a.Failures,
			Wait:            max(p.Until.Sub(now), a.Until.Sub(now), 0),
			PairStarted:     p.Failures == t.pairFree+1,
			AccountStarted:  a.Failures == t.accountFree+1,
			Locked:          a.Failures == t.cap,
		}
		if a.Failures >= t.cap {
			ev.Wait = Forever
		}
	})
	if err != nil {
		t.onError(fmt.Errorf("throttle: record failure: %w", err))
	}
	return ev
}

// Success records a successful login that Attempt allowed. It clears the
// pair and sets the account's consecutive failures back to zero; other IPs'
// pairs keep their counts, since they may be an attacker's (NIST SP
// 800-63B-4 §3.2.2: disregard previous failed attempts from the same IP
// after a successful authentication).
func (t *Throttle) Success(username string, ip netip.Addr) {
	now := t.now()
	acc := accountKey(username)
	err := t.store.Update(acc, pairKey(acc, ip), now, func(a, p *State) {
		expire(a, now)
		expire(p, now)
		for _, s := range []*State{a, p} {
			s.Failures = 0
			unreserve(s)
		}
		t.settle(a, p)
	})
	if err != nil {
		t.onError(fmt.Errorf("throttle: record success: %w", err))
	}
}

// Release gives back the reservation of an attempt that Attempt allowed but
// that was never verified: the password hasher was busy, or the client went
// away. It does not count as a failure.
func (t *Throttle) Release(username string, ip netip.Addr) {
	now := t.now()
	acc := accountKey(username)
	err := t.store.Update(acc, pairKey(acc, ip), now, func(a, p *State) {
		expire(a, now)
		expire(p, now)
		unreserve(a)
		unreserve(p)
		t.settle(a, p)
	})
	if err != nil {
		t.onError(fmt.Errorf("throttle: release: %w", err))
	}
}

// Reset clears the account's failures and unlocks it, for an administrator
// or account recovery. The pairs of the account keep their counts: they
// wait at most PairMax.
func (t *Throttle) Reset(username string) error {
	err := t.store.Update(accountKey(username), "", t.now(), func(a, _ *State) { *a = State{} })
	if err != nil {
		return fmt.Errorf("throttle: reset: %w", err)
	}
	return nil
}

// settle derives Until, and clears a state with nothing left to remember so
// that the store may drop it.
func (t *Throttle) settle(a, p *State) {
	settle(a, t.accountDelay(a.Failures+a.Pending))
	settle(p, t.pairDelay(p.Failures+p.Pending))
}

func settle(s *State, d time.Duration) {
	if s.Failures == 0 && s.Pending == 0 {
		*s = State{}
		return
	}
	s.Until = base(s).Add(d)
}

// base is the time a wait is measured from: the latest failure, or the
// latest attempt still in flight, which counts as one.
func base(s *State) time.Time {
	if s.Pending > 0 && s.Reserved.After(s.Last) {
		return s.Reserved
	}
	return s.Last
}

// unreserve resolves one reservation. When none is left the reservation
// time goes too, so that a released attempt does not extend the wait.
func unreserve(s *State) {
	s.Pending = max(s.Pending-1, 0)
	if s.Pending == 0 {
		s.Reserved = time.Time{}
	}
}

// expire drops reservations older than ReservationTTL.
func expire(s *State, now time.Time) {
	if s.Pending > 0 && now.Sub(s.Reserved) > ReservationTTL {
		s.Pending = 0
		s.Reserved = time.Time{}
	}
}

func (t *Throttle) pairDelay(n int) time.Duration    { return backoff(n, t.pairFree, t.pairMax) }
func (t *Throttle) accountDelay(n int) time.Duration { return backoff(n, t.accountFree, t.accountMax) }

// backoff is the wait after n consecutive failures: none for the first
// free, then FirstDelay doubling with each failure, at most limit.
func backoff(n, free int, limit time.Duration) time.Duration {
	if n <= free {
		return 0
	}
	shift := n - free - 1
	if shift >= 32 { // FirstDelay<<32 is over a century: past any limit
		return limit
	}
	return min(FirstDelay<<shift, limit)
}

// accountKey is the normalized username: every spelling of one account
// (NFKC, case) draws on one budget, whether or not the account exists.
func accountKey(username string) string { return gatehouse.NormalizeUsername(username) }

// pairKey joins the account and the IP. ipKey never contains the NUL
// separator, so the last NUL ends the username and two different pairs
// never share a key.
func pairKey(account string, ip netip.Addr) string { return account + "\x00" + ipKey(ip) }

// ipKey is the part of a pair key that names the client: an IPv4 address
// whole, an IPv6 address cut to its /64 (one subscriber usually holds a
// whole /64 and could otherwise take a fresh pair budget for every guess),
// and "unknown" for an invalid address, which then shares one budget with
// every other request without an address. An IPv4-mapped IPv6 address is
// its IPv4 address.
func ipKey(ip netip.Addr) string {
	ip = ip.Unmap().WithZone("")
	switch {
	case !ip.IsValid():
		return "unknown"
	case ip.Is6():
		return netip.PrefixFrom(ip, 64).Masked().String()
	}
	return ip.String()
}
