package throttle_test

import (
	"fmt"
	"log"
	"net/netip"
	"time"

	"github.com/gatehouse/gatehouse/internal/throttle"
)

// Example shows the calls around a password check: Attempt before, then
// exactly one of Failure, Success or Release. A throttled attempt gets the
// same answer as a wrong password, even when the password is right.
func Example() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th, err := throttle.New(throttle.Config{
		Now: func() time.Time { return now }, // leave out in production
	})
	if err != nil {
		log.Fatal(err)
	}
	accounts := map[string]string{"alice": "correct horse battery staple"}
	ip := netip.MustParseAddr("198.51.100.7")

	login := func(username, password string) string {
		switch v, _ := th.Attempt(username, ip); v {
		case throttle.Throttled:
			// In the server: the same dummy argon2id verification as
			// for an unknown user, then the same answer.
			return "invalid_grant"
		case throttle.InFlight:
			// This client's own logins for this name are still running.
			return "temporarily_unavailable" // 503, Retry-After: 1
		}
		// In the server, when the password hasher is busy (503) or the
		// client has gone: th.Release(username, ip).
		if want, ok := accounts[username]; !ok || password != want {
			if ev := th.Failure(username, ip); ev.Started() {
				fmt.Printf("  security event: throttle started for %q (pair %d, account %d failures, wait %v)\n",
					username, ev.PairFailures, ev.AccountFailures, ev.Wait)
			}
			return "invalid_grant"
		}
		th.Success(username, ip)
		return "ok"
	}

	for i := 1; i <= 6; i++ {
		fmt.Println("guess", i, login("alice", "guess"))
	}
	fmt.Println("right password, throttled:", login("alice", "correct horse battery staple"))
	now = now.Add(time.Second)
	fmt.Println("right password, a second later:", login("alice", "correct horse battery staple"))
	// Output:
	// guess 1 invalid_grant
	// guess 2 invalid_grant
	// guess 3 invalid_grant
	// guess 4 invalid_grant
	// guess 5 invalid_grant
	//   security event: throttle started for "alice" (pair 6, account 6 failures, wait 1s)
	// guess 6 invalid_grant
	// right password, throttled: invalid_grant
	// right password, a second later: ok
}

// ExampleThrottle_Attempt shows a client sending many logins for one
// username at once: the first six are verified, the next ones are answered
// busy until those finish, and none is answered as a wrong password.
func ExampleThrottle_Attempt() {
	th, err := throttle.New(throttle.Config{})
	if err != nil {
		log.Fatal(err)
	}
	ip := netip.MustParseAddr("198.51.100.7")
	for i := 1; i <= 8; i++ {
		v, _ := th.Attempt("alice", ip)
		fmt.Println(i, v)
	}
	for range 6 {
		th.Success("alice", ip) // the six verified logins succeed
	}
	v, _ := th.Attempt("alice", ip)
	fmt.Println("then", v)
	// Output:
	// 1 allowed
	// 2 allowed
	// 3 allowed
	// 4 allowed
	// 5 allowed
	// 6 allowed
	// 7 in flight
	// 8 in flight
	// then allowed
}
