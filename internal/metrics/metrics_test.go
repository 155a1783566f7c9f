package metrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/password"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape serves /metrics through Handler and parses the exposition.
func scrape(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: got %d, want 200: %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	return mfs
}

// value is the value of the series of family name with exactly labels;
// ok is false when there is no such series.
func value(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) (v float64, ok bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func TestCounters(t *testing.T) {
	m := metrics.New(password.NewLimiter(2, 4))
	m.Request("GET /v1/users/me", 200, 3*time.Millisecond)
	m.Request("GET /v1/users/me", 200, 5*time.Millisecond)
	m.Request("GET /v1/users/me", 401, time.Millisecond)
	m.Request("POST /v1/auth/token", 429, time.Millisecond)
	m.Request("", 404, time.Millisecond)
	m.AuthFailure("wrong_password")
	m.AuthFailure("invalid_token")
	m.AuthFailure("invalid_token")
	m.AuthFailure("alice's password was hunter2") // never a label value
	mfs := scrape(t, m)

	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"gatehouse_http_requests_total", map[string]string{"route": "GET /v1/users/me", "status": "200"}, 2},
		{"gatehouse_http_requests_total", map[string]string{"route": "GET /v1/users/me", "status": "401"}, 1},
		{"gatehouse_http_requests_total", map[string]string{"route": "POST /v1/auth/token", "status": "429"}, 1},
		{"gatehouse_http_requests_total", map[string]string{"route": "unmatched", "status": "404"}, 1},
		{"gatehouse_http_request_duration_seconds", map[string]string{"route": "GET /v1/users/me"}, 3},
		{"gatehouse_rate_limited_total", map[string]string{"route": "POST /v1/auth/token"}, 1},
		{"gatehouse_auth_failures_total", map[string]string{"reason": "wrong_password"}, 1},
		{"gatehouse_auth_failures_total", map[string]string{"reason": "invalid_token"}, 2},
		{"gatehouse_auth_failures_total", map[string]string{"reason": "other"}, 1},
		{"gatehouse_auth_failures_total", map[string]string{"reason": "throttled"}, 0},
		{"gatehouse_password_hash_queue_depth", map[string]string{}, 0},
		{"gatehouse_password_hash_in_flight", map[string]string{}, 0},
	}
	for _, tt := range tests {
		got, ok := value(mfs, tt.name, tt.labels)
		if !ok {
			t.Errorf("%s%v: no such series", tt.name, tt.labels)
			continue
		}
		if got != tt.want {
			t.Errorf("%s%v: got %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	if _, ok := value(mfs, "gatehouse_rate_limited_total", map[string]string{"route": "GET /v1/users/me"}); ok {
		t.Errorf("gatehouse_rate_limited_total counts a route that answered no 429")
	}
	if len(mfs["gatehouse_auth_failures_total"].GetMetric()) != len(metrics.Reasons) {
		t.Errorf("gatehouse_auth_failures_total: got %d series, want %d (one per reason)", len(mfs["gatehouse_auth_failures_total"].GetMetric()), len(metrics.Reasons))
	}
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		if mfs[name] == nil {
			t.Errorf("%s: missing from the exposition", name)
		}
	}
}

func TestHashQueueAndTokenCache(t *testing.T) {
	lim := password.NewLimiter(1, 4)
	m := metrics.New(lim)

	// Hold the only slot, queue one caller behind it.
	started, release := make(chan struct{}), make(chan struct{})
	go lim.Do(context.Background(), func() { close(started); <-release })
	<-started
	done := make(chan error)
	go func() { done <- lim.Do(context.Background(), func() {}) }()
	deadline := time.Now().Add(5 * time.Second)
	for lim.Stats().Queued == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	mfs := scrape(t, m)
	if got, _ := value(mfs, "gatehouse_password_hash_in_flight", map[string]string{}); got != 1 {
		t.Errorf("gatehouse_password_hash_in_flight: got %v, want 1", got)
	}
	if got, _ := value(mfs, "gatehouse_password_hash_queue_depth", map[string]string{}); got != 1 {
		t.Errorf("gatehouse_password_hash_queue_depth: got %v, want 1", got)
	}
	time.Sleep(10 * time.Millisecond)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mfs = scrape(t, m)
	if got, _ := value(mfs, "gatehouse_password_hash_queue_wait_seconds_total", map[string]string{}); got < 0.01 {
		t.Errorf("gatehouse_password_hash_queue_wait_seconds_total: got %v, want at least 0.01", got)
	}

	// The token cache reads 0 until the server hands over its verifier.
	if got, ok := value(mfs, "gatehouse_token_cache_hits_total", map[string]string{}); !ok || got != 0 {
		t.Errorf("gatehouse_token_cache_hits_total before TokenCache: got %v (present %v), want 0", got, ok)
	}
	m.TokenCache(func() auth.CacheStats { return auth.CacheStats{Hits: 7, Misses: 3, Entries: 2} })
	mfs = scrape(t, m)
	for name, want := range map[string]float64{
		"gatehouse_token_cache_hits_total":   7,
		"gatehouse_token_cache_misses_total": 3,
		"gatehouse_token_cache_entries":      2,
	} {
		if got, _ := value(mfs, name, map[string]string{}); got != want {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
}

func TestNilLimiter(t *testing.T) {
	mfs := scrape(t, metrics.New(nil))
	if mfs["gatehouse_password_hash_queue_depth"] != nil {
		t.Errorf("gatehouse_password_hash_queue_depth exported without a limiter")
	}
	if mfs["gatehouse_auth_failures_total"] == nil {
		t.Errorf("gatehouse_auth_failures_total missing")
	}
}
