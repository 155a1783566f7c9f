package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/ratelimit"
)

var (
	perMinute5 = ratelimit.Rate{Limit: 5, Period: time.Minute}
	t0         = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
)

func allow(t testing.TB, s ratelimit.Store, key string, rate ratelimit.Rate, now time.Time) ratelimit.Result {
	t.Helper()
	res, err := s.Allow(context.Background(), key, rate, now)
	if err != nil {
		t.Fatalf("Allow: got error %v, want nil", err)
	}
	return res
}

func TestMemoryExactlyN(t *testing.T) {
	for _, rate := range []ratelimit.Rate{
		{Limit: 1, Period: time.Second},
		{Limit: 5, Period: time.Minute},
		{Limit: 100, Period: time.Hour},
		{Limit: 7, Period: 24 * time.Hour},
		{Limit: ratelimit.MaxLimit, Period: time.Second},
	} {
		t.Run(rate.String(), func(t *testing.T) {
			if rate.Limit > 1000 && testing.Short() {
				t.Skip("a million requests")
			}
			s := ratelimit.NewMemoryStore(0)
			for i := 1; i <= rate.Limit; i++ {
				res := allow(t, s, "k", rate, t0)
				if !res.Allowed {
					t.Fatalf("request %d: got refused, want allowed", i)
				}
				if want := rate.Limit - i; res.Remaining != want {
					t.Fatalf("request %d: got Remaining %d, want %d", i, res.Remaining, want)
				}
			}
			res := allow(t, s, "k", rate, t0)
			if res.Allowed {
				t.Fatalf("request %d: got allowed, want refused", rate.Limit+1)
			}
			if want := rate.Interval(); res.RetryAfter != want {
				t.Errorf("got RetryAfter %v, want %v", res.RetryAfter, want)
			}
			if res.Remaining != 0 || res.Limit != rate.Limit {
				t.Errorf("got Remaining %d, Limit %d, want 0, %d", res.Remaining, res.Limit, rate.Limit)
			}
			// A refusal does not consume: after one interval exactly one
			// more request passes.
			later := t0.Add(rate.Interval())
			if !allow(t, s, "k", rate, later).Allowed {
				t.Errorf("after one interval: got refused, want allowed")
			}
			if allow(t, s, "k", rate, later).Allowed {
				t.Errorf("second request after one interval: got allowed, want refused")
			}
			// After a full idle period the whole burst is back.
			fresh := later.Add(rate.Period)
			for i := 1; i <= rate.Limit; i++ {
				if !allow(t, s, "k", rate, fresh).Allowed {
					t.Fatalf("after a full period, request %d: got refused, want allowed", i)
				}
			}
		})
	}
}

func TestMemoryKeysIndependent(t *testing.T) {
	s := ratelimit.NewMemoryStore(0)
	for i := 0; i < perMinute5.Limit; i++ {
		allow(t, s, "a", perMinute5, t0)
	}
	if allow(t, s, "a", perMinute5, t0).Allowed {
		t.Fatal("key a: got allowed, want refused")
	}
	for _, key := range []string{"b", "a ", "A", ""} {
		if res := allow(t, s, key, perMinute5, t0); !res.Allowed || res.Remaining != 4 {
			t.Errorf("key %q: got allowed=%v remaining=%d, want true, 4", key, res.Allowed, res.Remaining)
		}
	}
}

// TestMemoryNoEdgeBurst is the case that breaks fixed windows: a full burst
// at the end of one minute and another at the start of the next. GCRA
// allows the first and nothing of the second until the budget refills.
func TestMemoryNoEdgeBurst(t *testing.T) {
	s := ratelimit.NewMemoryStore(0)
	end := t0.Add(59*time.Second + 900*time.Millisecond) // 12:00:59.9
	start := t0.Add(time.Minute)                         // 12:01:00.0
	allowed := 0
	for i := 0; i < perMinute5.Limit; i++ {
		if allow(t, s, "k", perMinute5, end).Allowed {
			allowed++
		}
	}
	if allowed != perMinute5.Limit {
		t.Fatalf("end of minute: got %d allowed, want %d", allowed, perMinute5.Limit)
	}
	second := 0
	for i := 0; i < perMinute5.Limit; i++ {
		if allow(t, s, "k", perMinute5, start).Allowed {
			second++
		}
	}
	if second != 0 {
		t.Errorf("start of next minute: got %d allowed, want 0 (no 2N burst)", second)
	}
}

// TestMemorySlidingWindow drives one key with a request every second for
// ten minutes and checks that no 60-second window holds more than
// Limit + Limit - 1 allowed requests (the burst plus the steady refill), and
// that the long-run count matches the rate.
func TestMemorySlidingWindow(t *testing.T) {
	s := ratelimit.NewMemoryStore(0)
	var times []time.Time
	for sec := 0; sec < 600; sec++ {
		now := t0.Add(time.Duration(sec) * time.Second)
		if allow(t, s, "k", perMinute5, now).Allowed {
			times = append(times, now)
		}
	}
	// 5 at once, then one every 12 s: 5 + (599-0)/12 = 5 + 49.
	if got, want := len(times), 5+599/12; got != want {
		t.Errorf("got %d allowed in 600 s, want %d", got, want)
	}
	for i := range times {
		n := 0
		for j := i; j < len(times) && times[j].Sub(times[i]) < time.Minute; j++ {
			n++
		}
		if n > 2*perMinute5.Limit-1 {
			t.Fatalf("got %d allowed in the minute from %v, want at most %d", n, times[i], 2*perMinute5.Limit-1)
		}
	}
}

func TestMemoryRetryAfter(t *testing.T) {
	s := ratelimit.NewMemoryStore(0)
	for i := 0; i < perMinute5.Limit; i++ {
		allow(t, s, "k", perMinute5, t0)
	}
	tests := []struct {
		at         time.Duration
		retryAfter time.Duration
		resetAfter time.Duration
	}{
		{at: 0, retryAfter: 12 * time.Second, resetAfter: 60 * time.Second},
		{at: 5 * time.Second, retryAfter: 7 * time.Second, resetAfter: 55 * time.Second},
		{at: 11*time.Second + 999*time.Millisecond, retryAfter: time.Millisecond, resetAfter: 48*time.Second + time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.at.String(), func(t *testing.T) {
			res := allow(t, s, "k", perMinute5, t0.Add(tt.at))
			if res.Allowed || res.RetryAfter != tt.retryAfter || res.ResetAfter != tt.resetAfter {
				t.Errorf("got allowed=%v RetryAfter=%v ResetAfter=%v, want false, %v, %v",
					res.Allowed, res.RetryAfter, res.ResetAfter, tt.retryAfter, tt.resetAfter)
			}
		})
	}
	if res := allow(t, s, "k", perMinute5, t0.Add(12*time.Second)); !res.Allowed || res.Remaining != 0 {
		t.Errorf("at 12s: got allowed=%v remaining=%d, want true, 0", res.Allowed, res.Remaining)
	}
}

func TestMemoryClockBackwards(t *testing.T) {
	s := ratelimit.NewMemoryStore(0)
	for i := 0; i < perMinute5.Limit; i++ {
		allow(t, s, "k", perMinute5, t0)
	}
	// A clock stepped back does not refill the budget.
	if allow(t, s, "k", perMinute5, t0.Add(-time.Hour)).Allowed {
		t.Error("got allowed after the clock went back, want refused")
	}
}

func TestMemoryInvalidRate(t *testing.T) {
	s := ratelimit.NewMemoryStore(0)
	_, err := s.Allow(context.Background(), "k", ratelimit.Rate{}, t0)
	if !errors.Is(err, ratelimit.ErrInvalidRate) {
		t.Errorf("got %v, want ErrInvalidRate", err)
	}
}

func TestMemoryZeroValue(t *testing.T) {
	var s ratelimit.MemoryStore
	if !allow(t, &s, "k", perMinute5, t0).Allowed {
		t.Error("got refused, want allowed")
	}
	if got := s.MaxKeys(); got > ratelimit.DefaultMaxKeys || got < ratelimit.DefaultMaxKeys*9/10 {
		t.Errorf("got MaxKeys %d, want about %d", got, ratelimit.DefaultMaxKeys)
	}
}

// TestMemoryCap floods a small store with a million distinct keys, as an
// attacker with many addresses would, and checks that it never holds more
// keys than its cap.
func TestMemoryCap(t *testing.T) {
	for _, tt := range []struct{ maxKeys, keys int }{
		{maxKeys: 1, keys: 10_000},
		{maxKeys: 100, keys: 100_000},
		{maxKeys: 10_000, keys: 1_000_000},
	} {
		maxKeys := tt.maxKeys
		t.Run(strconv.Itoa(maxKeys), func(t *testing.T) {
			s := ratelimit.NewMemoryStore(maxKeys)
			if s.MaxKeys() > maxKeys || s.MaxKeys() < maxKeys/2 {
				t.Fatalf("got MaxKeys %d, want at most %d and near it", s.MaxKeys(), maxKeys)
			}
			n := tt.keys
			if testing.Short() {
				n /= 10
			}
			for i := range n {
				key := "flood-" + strconv.Itoa(i)
				if !allow(t, s, key, perMinute5, t0).Allowed {
					t.Fatalf("key %d: got refused, want a fresh key allowed", i)
				}
				if i%1000 == 0 || i == n-1 {
					if got := s.Len(); got > maxKeys {
						t.Fatalf("after %d keys: got %d keys held, want at most %d", i+1, got, maxKeys)
					}
				}
			}
			if got := s.Len(); got != s.MaxKeys() {
				t.Errorf("got %d keys held, want the store full at %d", got, s.MaxKeys())
			}
		})
	}
}

// TestMemoryEvictsExpiredFirst fills a store with keys whose state has
// expired, then shows that new keys replace those and not a live key.
func TestMemoryEvictsExpiredFirst(t *testing.T) {
	s := ratelimit.NewMemoryStore(64) // one shard of 64
	for i := 0; i < s.MaxKeys(); i++ {
		allow(t, s, "old-"+strconv.Itoa(i), perMinute5, t0)
	}
	if got := s.Len(); got != s.MaxKeys() {
		t.Fatalf("got %d keys, want %d", got, s.MaxKeys())
	}
	// 90 seconds later every "old" entry has expired. "victim" spends its
	// burst and must stay refused while new keys arrive.
	later := t0.Add(90 * time.Second)
	for i := 0; i < perMinute5.Limit; i++ {
		allow(t, s, "victim", perMinute5, later)
	}
	for i := 0; i < 200; i++ {
		allow(t, s, "new-"+strconv.Itoa(i), perMinute5, later)
		if allow(t, s, "victim", perMinute5, later).Allowed {
			t.Fatalf("after %d new keys: victim got allowed, want refused (its state kept)", i+1)
		}
		if got := s.Len(); got > s.MaxKeys() {
			t.Fatalf("got %d keys, want at most %d", got, s.MaxKeys())
		}
	}
}

// TestMemoryEvictsNearestFull: with only live entries, an eviction takes
// the sampled entry with the earliest TAT, the one closest to a full
// budget. A key that spent its whole burst has a later TAT than keys that
// spent one request, so it is never the earliest of a sample of several.
func TestMemoryEvictsNearestFull(t *testing.T) {
	s := ratelimit.NewMemoryStore(64)
	for i := 0; i < perMinute5.Limit; i++ {
		allow(t, s, "heavy", perMinute5, t0)
	}
	for i := 0; i < 2000; i++ {
		allow(t, s, "light-"+strconv.Itoa(i), perMinute5, t0)
		if got := s.Len(); got > s.MaxKeys() {
			t.Fatalf("got %d keys, want at most %d", got, s.MaxKeys())
		}
	}
	if allow(t, s, "heavy", perMinute5, t0).Allowed {
		t.Error("heavy: got allowed, want refused (state kept)")
	}
}

func TestMemoryConcurrent(t *testing.T) {
	s := ratelimit.NewMemoryStore(0)
	rate := ratelimit.Rate{Limit: 100, Period: time.Minute}
	const workers, perWorker = 8, 200
	var allowedShared atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				res, err := s.Allow(context.Background(), "shared", rate, t0)
				if err != nil {
					t.Error(err)
					return
				}
				if res.Allowed {
					allowedShared.Add(1)
				}
				// Keys of their own, always allowed the first time.
				own := fmt.Sprintf("w%d-%d", w, i)
				if res, _ := s.Allow(context.Background(), own, rate, t0); !res.Allowed {
					t.Errorf("key %s: got refused, want allowed", own)
				}
			}
		}()
	}
	wg.Wait()
	if got := allowedShared.Load(); got != int64(rate.Limit) {
		t.Errorf("got %d allowed on the shared key, want exactly %d", got, rate.Limit)
	}
}

// heapAfterGC returns the live heap after a full collection.
func heapAfterGC() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// bytesPerKey fills a store with n keys and returns the heap it grew by,
// per key.
func bytesPerKey(t testing.TB, n int) float64 {
	before := heapAfterGC()
	s := ratelimit.NewMemoryStore(n)
	ctx := context.Background()
	buf := []byte("login\x00")
	for i := range n {
		key := string(strconv.AppendInt(buf[:6], int64(i), 10))
		if _, err := s.Allow(ctx, key, perMinute5, t0); err != nil {
			t.Fatal(err)
		}
	}
	after := heapAfterGC()
	held := s.Len()
	runtime.KeepAlive(s)
	return float64(after-before) / float64(held)
}

func TestMemoryBytesPerKey(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a million keys")
	}
	const n = 1_000_000
	b := bytesPerKey(t, n)
	t.Logf("MemoryStore holds %d keys in about %.1f bytes per key (%.1f MiB)", n, b, b*n/(1<<20))
	// Each entry is a uint64 and an int64 in a Go map; with the map's
	// control bytes and growth slack that must stay well under 64 bytes,
	// whatever the length of the keys.
	if b > 64 {
		t.Errorf("got %.1f bytes per key, want at most 64", b)
	}
}

func BenchmarkMemoryAllow(b *testing.B) {
	s := ratelimit.NewMemoryStore(0)
	rate := ratelimit.Rate{Limit: 100, Period: time.Second}
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = "policy\x00198.51." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)
	}
	ctx := context.Background()
	now := t0
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Microsecond)
		s.Allow(ctx, keys[i&(len(keys)-1)], rate, now)
		i++
	}
}

func BenchmarkMemoryAllowParallel(b *testing.B) {
	s := ratelimit.NewMemoryStore(0)
	rate := ratelimit.Rate{Limit: 100, Period: time.Second}
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = "policy\x00198.51." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)
	}
	ctx := context.Background()
	var seq atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(1)) * 997
		now := t0
		for pb.Next() {
			now = now.Add(time.Microsecond)
			s.Allow(ctx, keys[i&(len(keys)-1)], rate, now)
			i++
		}
	})
}

// BenchmarkMemoryAllowFlood measures the eviction path: every request is a
// new key in a full store.
func BenchmarkMemoryAllowFlood(b *testing.B) {
	s := ratelimit.NewMemoryStore(100_000)
	ctx := context.Background()
	buf := []byte("flood\x00")
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		key := strconv.AppendInt(buf[:6], int64(i), 10)
		s.Allow(ctx, string(key), perMinute5, t0)
		i++
	}
}

func BenchmarkMemoryBytesPerKey(b *testing.B) {
	const n = 1_000_000
	var per float64
	for b.Loop() {
		per = bytesPerKey(b, n)
	}
	b.ReportMetric(per, "bytes/key")
}
