package main

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestLoginBackoff: after the free failures a (username, IP) pair waits;
// while it waits even the correct password is refused with the usual
// invalid_grant; an unknown username behaves identically; the wait passes
// and a success resets the pair.
func TestLoginBackoff(t *testing.T) {
	ts := startServer(t, "")
	ts.register(t, "xena", goodPassword)
	attempt := func(user, pw string) *response {
		return ts.do(t, "POST", "/v1/auth/token", url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}}, nil)
	}
	var known, unknown []string
	for i := 0; i < 6; i++ {
		known = append(known, string(attempt("xena", "wrong password number x").Body))
		unknown = append(unknown, string(attempt("nobody-at-all", "wrong password number x").Body))
	}
	for i := range known {
		if known[i] != unknown[i] {
			t.Errorf("attempt %d: known %s vs unknown %s, want identical answers", i, known[i], unknown[i])
		}
	}
	// Throttled now: the right password gets the wrong-password answer.
	r := attempt("xena", goodPassword)
	if r.Status != 400 || string(r.Body) != known[0] || r.Header.Get("Retry-After") != "" {
		t.Fatalf("correct password while throttled: got %d %s (Retry-After %q), want the plain invalid_grant", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
	log := ts.Log.String()
	if !strings.Contains(log, `"login_failure":"throttled"`) {
		t.Errorf("throttled attempts are not marked in the log")
	}
	if !strings.Contains(log, `"event":"login_throttled"`) || !strings.Contains(log, `"username":"nobody-at-all"`) {
		t.Errorf("no login_throttled security event for both names")
	}
	// Another IP's pair is not this one's: the account is still below its
	// own threshold, so a login from elsewhere works. (All test traffic
	// comes from 127.0.0.1, so this is shown by the unit tests instead.)

	// The back-off after the 6th failure is 1 s: wait for it to pass.
	deadline := time.Now().Add(10 * time.Second)
	for attempt("xena", goodPassword).Status != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the back-off did not pass")
		}
		time.Sleep(250 * time.Millisecond)
	}
	// Success reset the pair: five more failures pass without a wait.
	for i := 0; i < 5; i++ {
		attempt("xena", "wrong password number y")
	}
	if r := attempt("xena", goodPassword); r.Status != 200 {
		t.Errorf("after a reset and 5 failures: got %d, want 200", r.Status)
	}
}
