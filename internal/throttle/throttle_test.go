package throttle_test

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/throttle"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable test clock, safe for concurrent reads.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newThrottle(t testing.TB, cfg throttle.Config) (*throttle.Throttle, *clock) {
	t.Helper()
	c := &clock{now: t0}
	cfg.Now = c.Now
	th, err := throttle.New(cfg)
	if err != nil {
		t.Fatalf("New: got error %v, want nil", err)
	}
	return th, c
}

var (
	ipA = netip.MustParseAddr("198.51.100.7")
	ipB = netip.MustParseAddr("203.0.113.9")
)

// nthIP returns a different IPv4 address for every n.
func nthIP(n int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
}

// fail makes one attempt that Check must allow, and records it as failed.
func fail(t *testing.T, th *throttle.Throttle, user string, ip netip.Addr) throttle.Event {
	t.Helper()
	if wait, throttled := th.Check(user, ip); throttled {
		t.Fatalf("Check(%q, %v): got throttled for %v, want allowed", user, ip, wait)
	}
	return th.Failure(user, ip)
}

// failWhenAllowed waits as long as Check says, then makes a failed attempt.
func failWhenAllowed(t *testing.T, th *throttle.Throttle, c *clock, user string, ip netip.Addr) throttle.Event {
	t.Helper()
	for range 2 {
		wait, throttled := th.Check(user, ip)
		if !throttled {
			return th.Failure(user, ip)
		}
		c.Advance(wait)
	}
	t.Fatalf("Check(%q, %v): still throttled after waiting as told", user, ip)
	return throttle.Event{}
}

// wantWait checks that the next attempt is refused until exactly wait has
// passed, and leaves the clock at that moment.
func wantWait(t *testing.T, th *throttle.Throttle, c *clock, user string, ip netip.Addr, wait time.Duration) {
	t.Helper()
	if wait == 0 {
		return
	}
	if got, throttled := th.Check(user, ip); !throttled || got != wait {
		t.Fatalf("right after the failure: got wait %v throttled %v, want %v true", got, throttled, wait)
	}
	c.Advance(wait - time.Nanosecond)
	if got, throttled := th.Check(user, ip); !throttled || got != time.Nanosecond {
		t.Fatalf("1ns before the end: got wait %v throttled %v, want 1ns true", got, throttled)
	}
	c.Advance(time.Nanosecond)
}

// defaultSchedule is the wait after each failure from one address with the
// default Config, as the package documentation states it: the pair's
// back-off, then the account's where it is longer.
func defaultSchedule() []time.Duration {
	s := time.Second
	w := []time.Duration{
		0, 0, 0, 0, 0, // 1–5 free
		1 * s, 2 * s, 4 * s, 8 * s, 16 * s, 32 * s, 64 * s, 128 * s, 256 * s, 512 * s, // 6–15 pair
		15 * time.Minute, 15 * time.Minute, 15 * time.Minute, 15 * time.Minute, 15 * time.Minute, // 16–20 pair max
		1024 * s, 2048 * s, // 21, 22 account
	}
	for len(w) < 99 {
		w = append(w, time.Hour) // 23–99 account max
	}
	return append(w, throttle.Forever) // 100: the cap
}

func TestDefaultScheduleOneAddress(t *testing.T) {
	th, c := newThrottle(t, throttle.Config{})
	for i, want := range defaultSchedule() {
		n := i + 1
		ev := fail(t, th, "alice", ipA)
		if ev.Wait != want {
			t.Fatalf("failure %d: got Event.Wait %v, want %v", n, ev.Wait, want)
		}
		if ev.PairFailures != n || ev.AccountFailures != n {
			t.Fatalf("failure %d: got counts %d/%d, want %d/%d", n, ev.PairFailures, ev.AccountFailures, n, n)
		}
		if got, want := ev.PairStarted, n == 6; got != want {
			t.Errorf("failure %d: got PairStarted %v, want %v", n, got, want)
		}
		if got, want := ev.AccountStarted, n == 11; got != want {
			t.Errorf("failure %d: got AccountStarted %v, want %v", n, got, want)
		}
		if got, want := ev.Locked, n == 100; got != want {
			t.Errorf("failure %d: got Locked %v, want %v", n, got, want)
		}
		if got, want := ev.Started(), n == 6 || n == 11 || n == 100; got != want {
			t.Errorf("failure %d: got Started %v, want %v", n, got, want)
		}
		if want != throttle.Forever {
			wantWait(t, th, c, "alice", ipA, want)
		}
	}
}

// TestAccountScheduleManyAddresses spreads the guesses over addresses, one
// each, so that no pair ever waits: the account's back-off alone applies.
func TestAccountScheduleManyAddresses(t *testing.T) {
	th, c := newThrottle(t, throttle.Config{})
	var want []time.Duration
	for range 10 {
		want = append(want, 0)
	}
	for d := time.Second; d < time.Hour; d *= 2 {
		want = append(want, d) // 11–22: 1 s … 2048 s
	}
	for len(want) < 99 {
		want = append(want, time.Hour)
	}
	want = append(want, throttle.Forever)
	for i, w := range want {
		ip := nthIP(i)
		ev := fail(t, th, "alice", ip)
		if ev.Wait != w || ev.PairFailures != 1 || ev.AccountFailures != i+1 {
			t.Fatalf("failure %d: got wait %v, counts %d/%d, want %v, 1/%d", i+1, ev.Wait, ev.PairFailures, ev.AccountFailures, w, i+1)
		}
		if w != throttle.Forever {
			// The account's wait applies to a fresh address too.
			wantWait(t, th, c, "alice", nthIP(i+1), w)
		}
	}
}

func TestCustomSchedule(t *testing.T) {
	s := time.Second
	tests := []struct {
		name string
		cfg  throttle.Config
		want []time.Duration // wait after each failure from one address
	}{
		{
			name: "pair max 3s",
			cfg:  throttle.Config{PairFree: 2, PairMax: 3 * s, AccountFree: 50, AccountCap: 60},
			want: []time.Duration{0, 0, 1 * s, 2 * s, 3 * s, 3 * s},
		},
		{
			name: "account stricter than pair",
			cfg:  throttle.Config{PairFree: 5, AccountFree: 1, AccountMax: 4 * s, AccountCap: 6},
			want: []time.Duration{0, 1 * s, 2 * s, 4 * s, 4 * s, throttle.Forever},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th, c := newThrottle(t, tt.cfg)
			for i, w := range tt.want {
				ev := fail(t, th, "bob", ipA)
				if ev.Wait != w {
					t.Fatalf("failure %d: got wait %v, want %v", i+1, ev.Wait, w)
				}
				if w != throttle.Forever {
					wantWait(t, th, c, "bob", ipA, w)
				}
			}
		})
	}
}

// login stands for the token endpoint: it asks the Throttle first, and a
// throttled attempt gets the same answer as a wrong password, whatever the
// password. accounts maps usernames to passwords.
func login(th *throttle.Throttle, accounts map[string]string, user, pw string, ip netip.Addr) string {
	if _, throttled := th.Check(user, ip); throttled {
		return "invalid_grant" // after the same dummy verification, in the server
	}
	want, found := accounts[user]
	if !found || pw != want {
		th.Failure(user, ip)
		return "invalid_grant"
	}
	th.Success(user, ip)
	return "ok"
}

func TestCorrectPasswordWhileThrottledIsRefused(t *testing.T) {
	th, c := newThrottle(t, throttle.Config{})
	accounts := map[string]string{"alice": "right horse battery staple"}
	for i := range 6 {
		if got := login(th, accounts, "alice", "guess", ipA); got != "invalid_grant" {
			t.Fatalf("guess %d: got %q, want invalid_grant", i+1, got)
		}
	}
	// Six failures: the pair waits one second. The right password is
	// refused, exactly like a wrong one, until then.
	if got := login(th, accounts, "alice", "right horse battery staple", ipA); got != "invalid_grant" {
		t.Fatalf("correct password while throttled: got %q, want invalid_grant", got)
	}
	c.Advance(time.Second - time.Nanosecond)
	if got := login(th, accounts, "alice", "right horse battery staple", ipA); got != "invalid_grant" {
		t.Fatalf("correct password 1ns before the wait ends: got %q, want invalid_grant", got)
	}
	c.Advance(time.Nanosecond)
	if got := login(th, accounts, "alice", "right horse battery staple", ipA); got != "ok" {
		t.Fatalf("correct password after the wait: got %q, want ok", got)
	}
	// The success reset the pair: five free failures again.
	for i := range 5 {
		ev := fail(t, th, "alice", ipA)
		if ev.Wait != 0 || ev.PairFailures != i+1 || ev.AccountFailures != i+1 {
			t.Fatalf("failure %d after success: got wait %v counts %d/%d, want 0 %d/%d", i+1, ev.Wait, ev.PairFailures, ev.AccountFailures, i+1, i+1)
		}
	}
}

func TestSuccessResetsOwnPairOnly(t *testing.T) {
	th, c := newThrottle(t, throttle.Config{})
	for range 3 {
		fail(t, th, "alice", ipA) // the owner's typos
	}
	for range 6 {
		fail(t, th, "alice", ipB) // a guesser: now waiting
	}
	if _, throttled := th.Check("alice", ipA); throttled {
		t.Fatal("owner's address: got throttled, want allowed")
	}
	th.Success("alice", ipA)

	// The guesser's pair still waits, and counts on from 6.
	if wait, throttled := th.Check("alice", ipB); !throttled || wait != time.Second {
		t.Fatalf("other address after success: got wait %v throttled %v, want 1s true", wait, throttled)
	}
	c.Advance(time.Second)
	ev := fail(t, th, "alice", ipB)
	if ev.PairFailures != 7 || ev.Wait != 2*time.Second {
		t.Errorf("other address: got pair failures %d wait %v, want 7 2s", ev.PairFailures, ev.Wait)
	}
	// The account's consecutive count restarted at the success.
	if ev.AccountFailures != 1 {
		t.Errorf("account: got %d consecutive failures, want 1", ev.AccountFailures)
	}
	// The owner's pair starts from zero.
	if ev := fail(t, th, "alice", ipA); ev.PairFailures != 1 {
		t.Errorf("owner's pair: got %d failures, want 1", ev.PairFailures)
	}
}

// TestUnknownUsernamesBehaveTheSame runs one script against an account that
// exists and one that does not: every answer and every event must be the
// same, so that throttling tells an attacker nothing about which accounts
// exist (OWASP ASVS 5.0 §6.3.8).
func TestUnknownUsernamesBehaveTheSame(t *testing.T) {
	accounts := map[string]string{"alice": "right horse battery staple"}
	type step struct {
		answer  string
		wait    time.Duration
		verdict throttle.Verdict
	}
	script := func(user string) []step {
		th, c := newThrottle(t, throttle.Config{})
		var out []step
		for i := range 40 {
			v, wait := th.Attempt(user, ipA)
			if v == throttle.Allowed {
				th.Release(user, ipA)
			}
			out = append(out, step{login(th, accounts, user, fmt.Sprint("guess ", i), ipA), wait, v})
			c.Advance(time.Duration(i) * 7 * time.Second)
		}
		return out
	}
	known, unknown := script("alice"), script("nobody-here")
	for i := range known {
		if known[i] != unknown[i] {
			t.Fatalf("step %d: got %+v for an unknown username, want %+v as for an existing one", i, unknown[i], known[i])
		}
	}
}

func TestUsernameNormalized(t *testing.T) {
	th, _ := newThrottle(t, throttle.Config{})
	for _, u := range []string{"Alice", "ALICE", "alice", "Ａｌｉｃｅ", "alice", "aLiCe"} {
		fail(t, th, u, ipA)
	}
	if wait, throttled := th.Check("alice", ipA); !throttled || wait != time.Second {
		t.Fatalf("after six failures under six spellings: got wait %v throttled %v, want 1s true", wait, throttled)
	}
}

func TestIPv6PairIsSlash64(t *testing.T) {
	th, _ := newThrottle(t, throttle.Config{})
	for i := range 6 {
		ip := netip.MustParseAddr(fmt.Sprintf("2001:db8:1:2::%x", i+1))
		fail(t, th, "alice", ip) // a new address in the same /64 each time
	}
	// Other /64s are fresh pairs, allowed while the account has failures
	// to spare (six of ten).
	for _, tt := range []struct {
		ip        string
		throttled bool
	}{
		{"2001:db8:1:2:ffff::1", true},  // same /64
		{"2001:db8:1:2::1%eth0", true},  // zones are dropped
		{"2001:db8:1:2:8000::9", true},  // same /64
		{"2001:db8:1:3::1", false},      // another /64
		{"::ffff:198.51.100.7", false},  // IPv4-mapped: an IPv4 pair
		{"2001:db8:1:2:abcd::ff", true}, // same /64
	} {
		wait, throttled := th.Check("alice", netip.MustParseAddr(tt.ip))
		if throttled != tt.throttled {
			t.Errorf("%s: got throttled %v (wait %v), want %v", tt.ip, throttled, wait, tt.throttled)
		}
		if !throttled {
			th.Release("alice", netip.MustParseAddr(tt.ip))
		}
	}
}

func TestCapLocksUntilReset(t *testing.T) {
	th, c := newThrottle(t, throttle.Config{})
	var last throttle.Event
	for i := range 100 {
		last = failWhenAllowed(t, th, c, "alice", nthIP(i))
	}
	if !last.Locked || last.Wait != throttle.Forever || last.AccountFailures != 100 {
		t.Fatalf("failure 100: got %+v, want Locked, Wait Forever, 100 failures", last)
	}
	for _, after := range []time.Duration{0, time.Hour, 365 * 24 * time.Hour} {
		c.Advance(after)
		for _, ip := range []netip.Addr{ipA, ipB, nthIP(5000), {}} {
			if wait, throttled := th.Check("alice", ip); !throttled || wait != throttle.Forever {
				t.Fatalf("%v later from %v: got wait %v throttled %v, want Forever true", after, ip, wait, throttled)
			}
		}
	}
	// Other accounts are not affected.
	if _, throttled := th.Check("bob", ipA); throttled {
		t.Fatal("another account: got throttled, want allowed")
	}
	if err := th.Reset("ALICE"); err != nil {
		t.Fatalf("Reset: got error %v, want nil", err)
	}
	if wait, throttled := th.Check("alice", ipA); throttled {
		t.Fatalf("after Reset: got throttled for %v, want allowed", wait)
	}
	th.Success("alice", ipA)
}

// TestRefusedAttemptsDoNotCount: only verified attempts count toward the
// cap, so hammering a throttled account cannot lock it.
func TestRefusedAttemptsDoNotCount(t *testing.T) {
	th, c := newThrottle(t, throttle.Config{})
	for i := range 11 {
		fail(t, th, "alice", nthIP(i))
	}
	for i := range 10_000 {
		if _, throttled := th.Check("alice", nthIP(i)); !throttled {
			t.Fatalf("attempt %d during the back-off: got allowed, want throttled", i)
		}
	}
	c.Advance(time.Hour)
	if ev := fail(t, th, "alice", ipB); ev.AccountFailures != 12 {
		t.Fatalf("got %d account failures, want 12", ev.AccountFailures)
	}
}

// TestConcurrentAttemptsAreReserved: attempts in flight count as failures,
// so a burst of parallel guesses gets no more than sequential ones.
func TestConcurrentAttemptsAreReserved(t *testing.T) {
	th, c := newThrottle(t, throttle.Config{})
	allowed := 0
	for range 50 {
		if _, throttled := th.Check("alice", ipA); !throttled {
			allowed++
		}
	}
	if allowed != 6 {
		t.Fatalf("50 attempts in flight: got %d allowed, want 6 (five free failures and the sixth)", allowed)
	}
	// Releasing them (the hasher was busy) gives the budget back.
	for range allowed {
		th.Release("alice", ipA)
	}
	if _, throttled := th.Check("alice", ipA); throttled {
		t.Fatal("after Release: got throttled, want allowed")
	}
	th.Release("alice", ipA)

	// A reservation never resolved expires after ReservationTTL.
	for range 6 {
		th.Check("alice", ipA)
	}
	if _, throttled := th.Check("alice", ipA); !throttled {
		t.Fatal("six unresolved reservations: got allowed, want throttled")
	}
	c.Advance(throttle.ReservationTTL + time.Nanosecond)
	if _, throttled := th.Check("alice", ipA); throttled {
		t.Fatal("after ReservationTTL: got throttled, want allowed")
	}
}

// TestCapNotOvershotByConcurrentAttempts: at 99 failures, only one attempt
// may be in flight, so the account never sees a 101st failure.
func TestCapNotOvershotByConcurrentAttempts(t *testing.T) {
	th, c := newThrottle(t, throttle.Config{PairFree: 50, AccountFree: 2, AccountMax: 2 * time.Second, AccountCap: 5})
	for range 4 {
		failWhenAllowed(t, th, c, "alice", ipA)
	}
	c.Advance(time.Hour)
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			if _, throttled := th.Check("alice", nthIP(i)); !throttled {
				allowed.Add(1)
				// Slower than the back-off: the reservation still holds.
				th.Failure("alice", nthIP(i))
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != 1 {
		t.Fatalf("64 parallel attempts at 4 of 5 failures: got %d allowed, want 1", got)
	}
	if wait, throttled := th.Check("alice", ipA); !throttled || wait != throttle.Forever {
		t.Fatalf("after the fifth failure: got wait %v throttled %v, want Forever true", wait, throttled)
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name    string
		cfg     throttle.Config
		wantErr string
	}{
		{name: "zero is the default", cfg: throttle.Config{}},
		{name: "cap 100", cfg: throttle.Config{AccountCap: 100}},
		{name: "small", cfg: throttle.Config{PairFree: 1, PairMax: time.Second, AccountFree: 1, AccountMax: time.Second, AccountCap: 2, MaxKeys: 2}},
		{name: "cap over NIST", cfg: throttle.Config{AccountCap: 101}, wantErr: "AccountCap 101 is more than 100"},
		{name: "cap not over free", cfg: throttle.Config{AccountFree: 20, AccountCap: 20}, wantErr: "AccountCap 20 is not more than AccountFree 20"},
		{name: "default cap under free", cfg: throttle.Config{AccountFree: 100}, wantErr: "not more than AccountFree"},
		{name: "negative pair free", cfg: throttle.Config{PairFree: -1}, wantErr: "PairFree"},
		{name: "negative account free", cfg: throttle.Config{AccountFree: -1}, wantErr: "AccountFree"},
		{name: "negative cap", cfg: throttle.Config{AccountCap: -1}, wantErr: "AccountCap"},
		{name: "pair max under a second", cfg: throttle.Config{PairMax: time.Millisecond}, wantErr: "PairMax"},
		{name: "negative account max", cfg: throttle.Config{AccountMax: -time.Second}, wantErr: "AccountMax"},
		{name: "negative max keys", cfg: throttle.Config{MaxKeys: -1}, wantErr: "MaxKeys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th, err := throttle.New(tt.cfg)
			if tt.wantErr == "" {
				if err != nil || th == nil {
					t.Fatalf("got %v, %v, want a Throttle, nil", th, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// errStore fails every step.
type errStore struct{}

func (errStore) Update(string, string, time.Time, func(a, p *throttle.State)) error {
	return fmt.Errorf("store down")
}

func TestStoreErrorFailsClosed(t *testing.T) {
	var got []string
	th, err := throttle.New(throttle.Config{Store: errStore{}, OnError: func(err error) { got = append(got, err.Error()) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, throttled := th.Check("alice", ipA); !throttled {
		t.Error("Check with a failing store: got allowed, want throttled")
	}
	th.Failure("alice", ipA)
	th.Success("alice", ipA)
	th.Release("alice", ipA)
	if err := th.Reset("alice"); err == nil {
		t.Error("Reset with a failing store: got nil error, want one")
	}
	if len(got) != 4 {
		t.Errorf("OnError: got %d calls %q, want 4", len(got), got)
	}
}

// TestRace hammers one Throttle from many goroutines; run with -race. With
// the clock stopped, however the goroutines interleave, each pair is
// allowed exactly its free failures plus one, since every allowed attempt
// fails.
func TestRace(t *testing.T) {
	th, _ := newThrottle(t, throttle.Config{PairFree: 3, AccountFree: 40, AccountCap: 100})
	const users, ips, goroutines = 4, 4, 16
	var allowed [users][ips]atomic.Int32
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range 200 {
				u, ip := i%users, (i/users+g)%ips
				name := fmt.Sprint("user", u)
				if _, throttled := th.Check(name, nthIP(ip)); !throttled {
					allowed[u][ip].Add(1)
					th.Failure(name, nthIP(ip))
				}
			}
		})
	}
	wg.Wait()
	for u := range users {
		for ip := range ips {
			if got := allowed[u][ip].Load(); got != 4 {
				t.Errorf("user%d from address %d: got %d attempts allowed, want 4", u, ip, got)
			}
		}
	}
}

// TestAttemptVerdicts: a refusal caused only by the client's own attempts
// in flight is InFlight (answer busy); any other refusal is Throttled
// (answer as a wrong password).
func TestAttemptVerdicts(t *testing.T) {
	type try struct {
		ip   netip.Addr
		want throttle.Verdict
	}
	tests := []struct {
		name  string
		cfg   throttle.Config
		setup func(t *testing.T, th *throttle.Throttle, c *clock)
		tries []try // made in order; allowed ones stay in flight
	}{
		{
			name:  "own attempts in flight",
			tries: []try{{ipA, throttle.Allowed}, {ipA, throttle.Allowed}, {ipA, throttle.Allowed}, {ipA, throttle.Allowed}, {ipA, throttle.Allowed}, {ipA, throttle.Allowed}, {ipA, throttle.InFlight}, {ipA, throttle.InFlight}, {ipB, throttle.Allowed}},
		},
		{
			name: "five failures and one in flight",
			setup: func(t *testing.T, th *throttle.Throttle, c *clock) {
				for range 5 {
					fail(t, th, "alice", ipA)
				}
			},
			tries: []try{{ipA, throttle.Allowed}, {ipA, throttle.InFlight}},
		},
		{
			name: "back-off running",
			setup: func(t *testing.T, th *throttle.Throttle, c *clock) {
				for range 6 {
					fail(t, th, "alice", ipA)
				}
			},
			tries: []try{{ipA, throttle.Throttled}, {ipB, throttle.Allowed}},
		},
		{
			name: "back-off passed",
			setup: func(t *testing.T, th *throttle.Throttle, c *clock) {
				for range 6 {
					fail(t, th, "alice", ipA)
				}
				c.Advance(time.Second)
			},
			tries: []try{{ipA, throttle.Allowed}, {ipA, throttle.InFlight}},
		},
		{
			name:  "other clients in flight on the account",
			cfg:   throttle.Config{AccountFree: 2, AccountCap: 10},
			tries: []try{{nthIP(1), throttle.Allowed}, {nthIP(2), throttle.Allowed}, {nthIP(3), throttle.Allowed}, {nthIP(4), throttle.Throttled}, {nthIP(1), throttle.Throttled}},
		},
		{
			name:  "own attempts fill the account's free failures",
			cfg:   throttle.Config{AccountFree: 2, AccountCap: 10},
			tries: []try{{ipA, throttle.Allowed}, {ipA, throttle.Allowed}, {ipA, throttle.Allowed}, {ipA, throttle.InFlight}, {ipB, throttle.Throttled}},
		},
		{
			name: "locked",
			cfg:  throttle.Config{AccountFree: 1, AccountMax: time.Second, AccountCap: 2},
			setup: func(t *testing.T, th *throttle.Throttle, c *clock) {
				failWhenAllowed(t, th, c, "alice", ipA)
				failWhenAllowed(t, th, c, "alice", ipA)
			},
			tries: []try{{ipA, throttle.Throttled}, {ipB, throttle.Throttled}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th, c := newThrottle(t, tt.cfg)
			if tt.setup != nil {
				tt.setup(t, th, c)
			}
			for i, tr := range tt.tries {
				got, wait := th.Attempt("alice", tr.ip)
				if got != tr.want {
					t.Fatalf("try %d from %v: got %v (wait %v), want %v", i, tr.ip, got, wait, tr.want)
				}
				if (got == throttle.Allowed) != (wait == 0) {
					t.Errorf("try %d: got %v with wait %v, want a wait exactly when refused", i, got, wait)
				}
				if w, throttled := th.Check("alice", tr.ip); got != throttle.Allowed && !throttled {
					t.Errorf("try %d: Check got allowed after %v, want throttled (wait %v)", i, got, w)
				} else if got == throttle.Allowed && !throttled {
					th.Release("alice", tr.ip) // the extra reservation Check made
				}
			}
		})
	}
}
