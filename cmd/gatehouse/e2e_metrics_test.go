package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// scrapeMetrics fetches the metrics listener's exposition.
func scrapeMetrics(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: got %d, want 200: %s", resp.StatusCode, b)
	}
	return string(b)
}

func TestE2EMetrics(t *testing.T) {
	maddr := freeAddr(t)
	// --log-level warn hides the access log: failures are counted anyway.
	ts := startServer(t, "", noDefaultLimits, "--metrics-addr", maddr, "--log-level", "warn",
		"--rate-limit", "POST /v1/auth/token=2/minute")
	ts.register(t, "metrics-alice", "correct horse battery staple")

	if r := ts.do(t, "GET", "/v1/users/me", nil, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("GET /v1/users/me without a token: got %d, want 401", r.Status)
	}
	if r := ts.do(t, "GET", "/v1/users/me", nil, map[string]string{"Authorization": "Bearer not.a.jwt"}); r.Status != http.StatusUnauthorized {
		t.Fatalf("GET /v1/users/me with a bad token: got %d, want 401", r.Status)
	}
	if r := ts.do(t, "GET", "/no/such/path", nil, nil); r.Status != http.StatusNotFound {
		t.Fatalf("GET /no/such/path: got %d, want 404", r.Status)
	}
	form := url.Values{"grant_type": {"password"}, "username": {"metrics-alice"}, "password": {"wrong password here"}}
	for i, want := range []int{http.StatusBadRequest, http.StatusBadRequest, http.StatusTooManyRequests} {
		if r := ts.do(t, "POST", "/v1/auth/token", form, nil); r.Status != want {
			t.Fatalf("login %d with a wrong password: got %d, want %d: %s", i+1, r.Status, want, r.Body)
		}
	}

	body := scrapeMetrics(t, maddr)
	for _, want := range []string{
		`gatehouse_http_requests_total{route="GET /v1/users/me",status="401"} 2`,
		`gatehouse_http_requests_total{route="POST /v1/users",status="201"} 1`,
		`gatehouse_http_requests_total{route="unmatched",status="404"} 1`,
		`gatehouse_http_requests_total{route="POST /v1/auth/token",status="400"} 2`,
		`gatehouse_http_requests_total{route="POST /v1/auth/token",status="429"} 1`,
		`gatehouse_rate_limited_total{route="POST /v1/auth/token"} 1`,
		`gatehouse_http_request_duration_seconds_count{route="GET /v1/users/me"} 2`,
		`gatehouse_auth_failures_total{reason="unauthenticated"} 1`,
		`gatehouse_auth_failures_total{reason="invalid_token"} 1`,
		`gatehouse_auth_failures_total{reason="wrong_password"} 2`,
		`gatehouse_auth_failures_total{reason="unknown_user"} 0`,
		`gatehouse_token_cache_misses_total `,
		`gatehouse_password_hash_queue_depth 0`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want+"\n") && !strings.Contains(body, "\n"+want) {
			t.Errorf("metrics: no line %q", want)
		}
	}
	// Nothing from a request's path, user or token reaches a label.
	for _, leak := range []string{"/no/such/path", "metrics-alice", "not.a.jwt"} {
		if strings.Contains(body, leak) {
			t.Errorf("metrics contain %q", leak)
		}
	}
	// The API listener does not serve metrics.
	if r := ts.do(t, "GET", "/metrics", nil, nil); r.Status != http.StatusNotFound {
		t.Errorf("GET /metrics on the API: got %d, want 404", r.Status)
	}

	ts.Stop(t)
	if _, err := http.Get("http://" + maddr + "/metrics"); err == nil {
		t.Errorf("the metrics listener still answers after shutdown")
	}
}

func TestE2EMetricsOffByDefault(t *testing.T) {
	ts := startServer(t, "")
	if strings.Contains(ts.Log.String(), "metrics") {
		t.Errorf("log mentions metrics without --metrics-addr:\n%s", ts.Log)
	}
}
