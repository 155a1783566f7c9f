package metrics_test

import (
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/internal/metrics"
)

// TestRateStoreFallback: the gauge reads 0 without a shared store, follows
// the server's failing flag, and errors are counted.
func TestRateStoreFallback(t *testing.T) {
	m := metrics.New(nil)
	none := map[string]string{}
	mfs := scrape(t, m)
	if got, ok := value(mfs, "gatehouse_ratelimit_store_fallback", none); !ok || got != 0 {
		t.Errorf("gatehouse_ratelimit_store_fallback without a store: got %v (present %v), want 0", got, ok)
	}
	var failing atomic.Bool
	m.RateStoreFailing(failing.Load)
	failing.Store(true)
	m.RateStoreError()
	m.RateStoreError()
	mfs = scrape(t, m)
	if got, _ := value(mfs, "gatehouse_ratelimit_store_fallback", none); got != 1 {
		t.Errorf("gatehouse_ratelimit_store_fallback while failing: got %v, want 1", got)
	}
	if got, _ := value(mfs, "gatehouse_ratelimit_store_errors_total", none); got != 2 {
		t.Errorf("gatehouse_ratelimit_store_errors_total: got %v, want 2", got)
	}
	failing.Store(false)
	if got, _ := value(scrape(t, m), "gatehouse_ratelimit_store_fallback", none); got != 0 {
		t.Errorf("gatehouse_ratelimit_store_fallback after recovery: got %v, want 0", got)
	}
}
