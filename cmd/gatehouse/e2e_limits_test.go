package main

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func tokenAttempt(t *testing.T, ts *testServer, header map[string]string) *response {
	t.Helper()
	return ts.do(t, "POST", "/v1/auth/token", url.Values{"grant_type": {"password"}, "username": {"nobody"}, "password": {"wrong password here"}}, header)
}

func TestRateLimits(t *testing.T) {
	t.Run("defaults hold exactly", func(t *testing.T) {
		ts := startServer(t, "", noDefaultLimits)
		for i := 1; i <= 10; i++ {
			r := tokenAttempt(t, ts, nil)
			if r.Status != 400 {
				t.Fatalf("attempt %d: got %d, want 400 (invalid_grant)", i, r.Status)
			}
			if got := r.Header.Get("RateLimit-Policy"); got != `"POST /v1/auth/token";q=10;w=60` {
				t.Fatalf("RateLimit-Policy: got %q", got)
			}
			if got := r.Header.Get("RateLimit"); !strings.HasPrefix(got, `"POST /v1/auth/token";r=`+strconv.Itoa(10-i)+`;t=`) {
				t.Errorf("attempt %d RateLimit: got %q, want r=%d", i, got, 10-i)
			}
		}
		r := tokenAttempt(t, ts, nil)
		problemOf(t, r, 429)
		if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
			t.Errorf("Retry-After: got %q, want 1..60 seconds", r.Header.Get("Retry-After"))
		}
	})

	t.Run("configured limit and spoofed client IP", func(t *testing.T) {
		ts := startServer(t, "", noDefaultLimits, "--rate-limit", "POST /v1/auth/token=3/minute")
		for i := 0; i < 3; i++ {
			tokenAttempt(t, ts, map[string]string{"X-Forwarded-For": "203.0.113." + strconv.Itoa(i)})
		}
		// The peer (127.0.0.1) is not a trusted proxy: a forged
		// X-Forwarded-For does not buy a fresh budget.
		if r := tokenAttempt(t, ts, map[string]string{"X-Forwarded-For": "198.51.100.7"}); r.Status != 429 {
			t.Fatalf("4th attempt with a spoofed X-Forwarded-For: got %d, want 429", r.Status)
		}
	})

	t.Run("trusted proxy", func(t *testing.T) {
		ts := startServer(t, "", noDefaultLimits, "--rate-limit", "POST /v1/auth/token=2/minute", "--trusted-proxies", "127.0.0.1/32")
		for _, ip := range []string{"203.0.113.1", "203.0.113.2"} {
			for i := 0; i < 2; i++ {
				if r := tokenAttempt(t, ts, map[string]string{"X-Forwarded-For": "10.9.9.9, " + ip}); r.Status != 400 {
					t.Fatalf("client %s attempt %d: got %d, want 400", ip, i, r.Status)
				}
			}
			if r := tokenAttempt(t, ts, map[string]string{"X-Forwarded-For": ip}); r.Status != 429 {
				t.Errorf("client %s 3rd attempt: got %d, want 429 (right-most untrusted address is the key)", ip, r.Status)
			}
		}
	})

	t.Run("per user on authenticated routes", func(t *testing.T) {
		ts := startServer(t, "", noDefaultLimits, "--rate-limit", "*=5/minute")
		ts.register(t, "uma", goodPassword)
		ts.register(t, "vera", goodPassword)
		uma := ts.login(t, "uma", goodPassword)["access_token"]
		vera := ts.login(t, "vera", goodPassword)["access_token"]
		for i := 0; i < 5; i++ {
			if r := ts.do(t, "GET", "/v1/users/me", nil, bearer(uma)); r.Status != 200 {
				t.Fatalf("request %d: got %d", i, r.Status)
			}
		}
		if r := ts.do(t, "GET", "/v1/users/me", nil, bearer(uma)); r.Status != 429 {
			t.Errorf("6th request: got %d, want 429", r.Status)
		}
		if r := ts.do(t, "GET", "/v1/users/me", nil, bearer(vera)); r.Status != 200 {
			t.Errorf("another user: got %d, want 200", r.Status)
		}
	})

	t.Run("bad rules refused at start", func(t *testing.T) {
		for _, rule := range []string{"POST /v1/nope=5/minute", "POST /v1/auth/token=5/fortnight", "POST /v1/auth/token=0/minute", "garbage"} {
			_, _, err := runCLI(t, "", nil, "serve", "--data-dir", t.TempDir(), "--addr", freeAddr(t), "--rate-limit", rule)
			if err == nil {
				t.Errorf("--rate-limit %q: got no error", rule)
			}
		}
		_, _, err := runCLI(t, "", nil, "serve", "--data-dir", t.TempDir(), "--addr", freeAddr(t), "--trusted-proxies", "10.0.0.0/33")
		if err == nil || !strings.Contains(err.Error(), "--trusted-proxies") {
			t.Errorf("bad --trusted-proxies: got %v", err)
		}
	})
}
