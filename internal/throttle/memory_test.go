package throttle_test

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/throttle"
)

func TestMemoryStoreCap(t *testing.T) {
	tests := []struct {
		maxKeys, want int
	}{
		{0, throttle.DefaultMaxKeys},
		{-5, throttle.DefaultMaxKeys},
		{1 << 20, 1 << 20},
		{4096, 4096},
		{100, 100}, // one shard, 50 entries per map
		{2, 2},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.maxKeys), func(t *testing.T) {
			if got := throttle.NewMemoryStore(tt.maxKeys).MaxKeys(); got != tt.want {
				t.Errorf("got MaxKeys %d, want %d", got, tt.want)
			}
		})
	}
	var zero throttle.MemoryStore
	if got := zero.MaxKeys(); got != throttle.DefaultMaxKeys {
		t.Errorf("zero MemoryStore: got MaxKeys %d, want %d", got, throttle.DefaultMaxKeys)
	}
}

// TestFloodStaysBounded sends failures for far more distinct usernames and
// addresses than the store holds: it never grows past its cap, and the
// accounts under a real attack, with more failures than any flood entry,
// keep their state.
func TestFloodStaysBounded(t *testing.T) {
	store := throttle.NewMemoryStore(1024)
	th, c := newThrottle(t, throttle.Config{Store: store})
	attacked := []string{"alice", "bob", "carol"}
	for range 16 { // 16 failures: each pair waits 15 min
		for _, u := range attacked {
			failWhenAllowed(t, th, c, u, ipA)
		}
	}
	for i := range 100_000 {
		// Unknown usernames from IPv6 addresses in different /64s: the
		// cheapest way to make new keys.
		ip := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 4: byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i), 15: 1})
		fail(t, th, fmt.Sprint("spray-", i), ip)
		if n := store.Len(); n > store.MaxKeys() {
			t.Fatalf("after %d flood keys: got %d entries, want at most %d", i+1, n, store.MaxKeys())
		}
		if i%10_000 == 0 {
			c.Advance(time.Second) // 10 s in all: the attacked pairs still wait
		}
	}
	if got, want := store.Len(), store.MaxKeys(); got != want {
		t.Errorf("got %d entries after the flood, want the cap %d", got, want)
	}
	for _, u := range attacked {
		if wait, throttled := th.Check(u, ipA); !throttled {
			t.Errorf("%s after the flood: got allowed, want throttled (its failures forgotten)", u)
		} else if wait <= 0 {
			t.Errorf("%s after the flood: got wait %v, want > 0", u, wait)
		}
	}
	for _, u := range attacked {
		if ev := failWhenAllowed(t, th, c, u, ipA); ev.AccountFailures != 17 || ev.PairFailures != 17 {
			t.Errorf("%s after the flood: got counts %d/%d, want 17/17", u, ev.PairFailures, ev.AccountFailures)
		}
	}
}

func TestLockedAccountSurvivesFlood(t *testing.T) {
	store := throttle.NewMemoryStore(256)
	th, c := newThrottle(t, throttle.Config{Store: store, AccountFree: 1, AccountMax: time.Second, AccountCap: 3})
	for range 3 {
		failWhenAllowed(t, th, c, "alice", ipA)
	}
	for i := range 20_000 {
		for range 2 { // two failures each: more telling than one, less than three
			failWhenAllowed(t, th, c, fmt.Sprint("spray-", i), nthIP(i))
		}
	}
	if wait, throttled := th.Check("alice", ipB); !throttled || wait != throttle.Forever {
		t.Fatalf("locked account after the flood: got wait %v throttled %v, want Forever true", wait, throttled)
	}
}

func TestStoreDropsClearedEntries(t *testing.T) {
	store := throttle.NewMemoryStore(0)
	th, c := newThrottle(t, throttle.Config{Store: store})
	for i := range 100 {
		fail(t, th, fmt.Sprint("user", i), ipA)
	}
	if got := store.Len(); got != 200 {
		t.Fatalf("got %d entries, want 200 (100 accounts, 100 pairs)", got)
	}
	for i := range 100 {
		u := fmt.Sprint("user", i)
		if _, throttled := th.Check(u, ipA); throttled {
			t.Fatalf("%s: got throttled, want allowed", u)
		}
		th.Success(u, ipA)
	}
	if got := store.Len(); got != 0 {
		t.Errorf("after every success: got %d entries, want 0", got)
	}
	// Released and expired reservations leave nothing behind either.
	th.Check("dave", ipA)
	th.Release("dave", ipA)
	th.Check("erin", ipA)
	c.Advance(throttle.ReservationTTL + time.Second)
	th.Check("frank", ipA)
	th.Release("frank", ipA)
	th.Check("erin", ipA)
	th.Release("erin", ipA)
	if got := store.Len(); got != 0 {
		t.Errorf("after released reservations: got %d entries, want 0", got)
	}
}

func BenchmarkCheckAllowed(b *testing.B) {
	th, _ := newThrottle(b, throttle.Config{})
	for b.Loop() {
		th.Check("alice", ipA)
		th.Release("alice", ipA)
	}
}

func BenchmarkCheckThrottled(b *testing.B) {
	th, _ := newThrottle(b, throttle.Config{})
	for range 20 {
		th.Failure("alice", ipA)
	}
	for b.Loop() {
		if _, throttled := th.Check("alice", ipA); !throttled {
			b.Fatal("got allowed, want throttled")
		}
	}
}

// BenchmarkFailureNewKeys records failures for ever new usernames, with
// evictions once the store is full: the cost of a username spray.
func BenchmarkFailureNewKeys(b *testing.B) {
	th, _ := newThrottle(b, throttle.Config{MaxKeys: 1 << 16})
	names := make([]string, 1<<20)
	for i := range names {
		names[i] = fmt.Sprint("spray-", i)
	}
	i := 0
	for b.Loop() {
		th.Failure(names[i&(len(names)-1)], nthIP(i))
		i++
	}
}

func BenchmarkCheckFailureParallel(b *testing.B) {
	th, _ := newThrottle(b, throttle.Config{})
	names := make([]string, 1024)
	for i := range names {
		names[i] = fmt.Sprint("user", i)
	}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			u := names[i%len(names)]
			if _, throttled := th.Check(u, ipA); !throttled {
				th.Failure(u, ipA)
			}
			i++
		}
	})
}

// BenchmarkMemoryPerEntry fills a store to its cap and reports the heap it
// takes per entry.
func BenchmarkMemoryPerEntry(b *testing.B) {
	const keys = throttle.DefaultMaxKeys
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		store := throttle.NewMemoryStore(keys)
		th, _ := newThrottle(b, throttle.Config{Store: store})
		for i := range keys / 2 {
			th.Failure(fmt.Sprint("u", i), ipA)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(store.Len()), "B/entry")
		runtime.KeepAlive(store)
	}
}
