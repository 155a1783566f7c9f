package ratelimit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/ratelimit"
)

// redisURLEnv names the Redis the tests run against, such as
// redis://127.0.0.1:6379/0. Unset, the tests that need Redis are skipped;
// set but unreachable, they fail.
const redisURLEnv = "GATEHOUSE_TEST_REDIS_URL"

// newRedisClient returns a client for the test Redis, closed at the end of
// the test.
func newRedisClient(t *testing.T) *redis.Client {
	t.Helper()
	url := os.Getenv(redisURLEnv)
	if url == "" {
		t.Skip(redisURLEnv + " is not set: skipping the test against a real Redis (set it to redis://127.0.0.1:6379/0 to run it)")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("%s=%q: %v", redisURLEnv, url, err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("%s=%q is set but Redis does not answer: %v", redisURLEnv, url, err)
	}
	return c
}

// testPrefix returns a random key prefix for one test and deletes its keys
// at the end of the test, before the client is closed.
func testPrefix(t *testing.T, c *redis.Client) string {
	t.Helper()
	var b [8]byte
	rand.Read(b[:])
	prefix := "gatehouse-test:ratelimit:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("clean up %s*: %v", prefix, err)
		}
	})
	return prefix
}

// newRedisStore returns a store on the test Redis with its own prefix.
func newRedisStore(t *testing.T) (*ratelimit.RedisStore, *redis.Client, string) {
	t.Helper()
	c := newRedisClient(t)
	prefix := testPrefix(t, c)
	return ratelimit.NewRedisStore(c, prefix), c, prefix
}

func redisAllow(t *testing.T, s ratelimit.Store, key string, rate ratelimit.Rate) ratelimit.Result {
	t.Helper()
	res, err := s.Allow(context.Background(), key, rate, time.Now())
	if err != nil {
		t.Fatalf("Allow(%q): %v", key, err)
	}
	return res
}

// elapse makes d pass for key, as far as the store can tell, by moving its
// TAT back: the store keeps the TAT as Unix nanoseconds in one string.
func elapse(t *testing.T, c *redis.Client, key string, d time.Duration) {
	t.Helper()
	if err := c.DecrBy(context.Background(), key, int64(d)).Err(); err != nil {
		t.Fatalf("move %q back %s: %v", key, d, err)
	}
}

func TestRedisExactlyN(t *testing.T) {
	s, c, prefix := newRedisStore(t)
	for i := range perMinute5.Limit {
		res := redisAllow(t, s, "k", perMinute5)
		if !res.Allowed {
			t.Fatalf("request %d: refused, want allowed", i+1)
		}
		if got, want := res.Remaining, perMinute5.Limit-1-i; got != want {
			t.Errorf("request %d: got Remaining %d, want %d", i+1, got, want)
		}
		if res.Limit != perMinute5.Limit || res.RetryAfter != 0 {
			t.Errorf("request %d: got Limit %d RetryAfter %s, want %d and 0", i+1, res.Limit, res.RetryAfter, perMinute5.Limit)
		}
	}
	res := redisAllow(t, s, "k", perMinute5)
	if res.Allowed || res.Remaining != 0 {
		t.Fatalf("request %d: got Allowed %v Remaining %d, want refused with 0", perMinute5.Limit+1, res.Allowed, res.Remaining)
	}
	// One interval (12 s) until the next request, a period until full,
	// less the little time the test took.
	if res.RetryAfter <= 11*time.Second || res.RetryAfter > 12*time.Second {
		t.Errorf("got RetryAfter %s, want just under 12s", res.RetryAfter)
	}
	if res.ResetAfter <= 59*time.Second || res.ResetAfter > time.Minute {
		t.Errorf("got ResetAfter %s, want just under 1m", res.ResetAfter)
	}
	// The key expires when it is the same as absent: at its TAT.
	ttl, err := c.PTTL(context.Background(), prefix+"k").Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 59*time.Second || ttl > time.Minute {
		t.Errorf("got TTL %s, want just under 1m", ttl)
	}
	if res := redisAllow(t, s, "other", perMinute5); !res.Allowed || res.Remaining != perMinute5.Limit-1 {
		t.Errorf("other key: got Allowed %v Remaining %d, want allowed with %d", res.Allowed, res.Remaining, perMinute5.Limit-1)
	}
}

// TestRedisSharedBudget runs two instances, each with its own client, on
// one Redis: together they allow the limit once, not once each.
func TestRedisSharedBudget(t *testing.T) {
	c1 := newRedisClient(t)
	c2 := newRedisClient(t)
	prefix := testPrefix(t, c1)
	stores := []*ratelimit.RedisStore{ratelimit.NewRedisStore(c1, prefix), ratelimit.NewRedisStore(c2, prefix)}

	t.Run("alternating", func(t *testing.T) {
		allowed := 0
		for i := range 4 * perMinute5.Limit {
			if redisAllow(t, stores[i%2], "seq", perMinute5).Allowed {
				allowed++
			}
		}
		if allowed != perMinute5.Limit {
			t.Errorf("got %d allowed across two stores, want %d", allowed, perMinute5.Limit)
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		var allowed, failed atomic.Int64
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				res, err := stores[i%2].Allow(context.Background(), "par", perMinute5, time.Now())
				if err != nil {
					failed.Add(1)
					return
				}
				if res.Allowed {
					allowed.Add(1)
				}
			})
		}
		wg.Wait()
		if n := failed.Load(); n != 0 {
			t.Fatalf("%d calls failed", n)
		}
		if got := allowed.Load(); got != int64(perMinute5.Limit) {
			t.Errorf("got %d of 50 concurrent calls allowed across two stores, want %d", got, perMinute5.Limit)
		}
	})
}

// TestRedisNoEdgeBurst is TestMemoryNoEdgeBurst on Redis: a full burst at
// the end of one minute and another at the start of the next, 1.1 s later.
func TestRedisNoEdgeBurst(t *testing.T) {
	s, c, prefix := newRedisStore(t)
	allowed := 0
	for range perMinute5.Limit {
		if redisAllow(t, s, "k", perMinute5).Allowed {
			allowed++
		}
	}
	if allowed != perMinute5.Limit {
		t.Fatalf("end of minute: got %d allowed, want %d", allowed, perMinute5.Limit)
	}
	elapse(t, c, prefix+"k", 1100*time.Millisecond)
	second := 0
	for range perMinute5.Limit {
		if redisAllow(t, s, "k", perMinute5).Allowed {
			second++
		}
	}
	if second != 0 {
		t.Errorf("start of next minute: got %d allowed, want 0 (no 2N burst)", second)
	}
	// One interval after the burst, exactly one more.
	elapse(t, c, prefix+"k", 12*time.Second-1100*time.Millisecond)
	third := 0
	for range perMinute5.Limit {
		if redisAllow(t, s, "k", perMinute5).Allowed {
			third++
		}
	}
	if third != 1 {
		t.Errorf("one interval later: got %d allowed, want 1", third)
	}
}

// TestRedisMatchesMemory drives a RedisStore and a MemoryStore with the
// same script and compares their results. The RedisStore runs on the Redis
// clock, so time is made to pass by moving its TATs back (elapse) while the
// MemoryStore's now moves forward. Real time also passes on Redis, a few
// milliseconds at most: every step is far from a 12 s boundary, so Allowed
// and Remaining must be equal, and Redis durations may only be that much
// shorter.
func TestRedisMatchesMemory(t *testing.T) {
	rs, c, prefix := newRedisStore(t)
	ms := ratelimit.NewMemoryStore(0)
	now := time.Now()
	steps := []struct {
		advance time.Duration // before the request
		key     string
	}{
		{0, "a"}, {0, "a"}, {0, "b"}, {0, "a"}, {0, "a"}, {0, "a"}, {0, "a"},
		{0, "a"}, {5 * time.Second, "a"}, {7 * time.Second, "a"}, {0, "a"},
		{0, "b"}, {30 * time.Second, "a"}, {0, "a"}, {0, "a"}, {0, "a"},
		{6 * time.Second, "b"}, {18 * time.Second, "a"}, {0, "a"}, {0, "a"},
		{0, "a"}, {0, "a"}, {time.Minute, "a"}, {0, "b"}, {0, "a"},
	}
	const slack = time.Second
	for i, st := range steps {
		if st.advance > 0 {
			now = now.Add(st.advance)
			for _, k := range []string{"a", "b"} {
				if n, _ := c.Exists(context.Background(), prefix+k).Result(); n == 1 {
					elapse(t, c, prefix+k, st.advance)
				}
			}
		}
		want, err := ms.Allow(context.Background(), st.key, perMinute5, now)
		if err != nil {
			t.Fatal(err)
		}
		got := redisAllow(t, rs, st.key, perMinute5)
		if got.Allowed != want.Allowed || got.Remaining != want.Remaining || got.Limit != want.Limit {
			t.Errorf("step %d (%q): got Allowed %v Remaining %d Limit %d, want %v %d %d",
				i, st.key, got.Allowed, got.Remaining, got.Limit, want.Allowed, want.Remaining, want.Limit)
		}
		for _, d := range []struct {
			name      string
			got, want time.Duration
		}{{"ResetAfter", got.ResetAfter, want.ResetAfter}, {"RetryAfter", got.RetryAfter, want.RetryAfter}} {
			if d.got > d.want || d.got < d.want-slack || (d.want == 0) != (d.got == 0) {
				t.Errorf("step %d (%q): got %s %s, want %s less at most %s", i, st.key, d.name, d.got, d.want, slack)
			}
		}
	}
}

func TestRedisMalformedState(t *testing.T) {
	s, c, prefix := newRedisStore(t)
	if err := c.Set(context.Background(), prefix+"k", "not a time", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Allow(context.Background(), "k", perMinute5, time.Now()); err == nil {
		t.Error("got nil error for a malformed state, want an error")
	}
}

// downStore returns a RedisStore whose client points at a closed port.
func downStore(t *testing.T) *ratelimit.RedisStore {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return ratelimit.NewRedisStore(c, "gatehouse-test:")
}

func TestRedisDown(t *testing.T) {
	s := downStore(t)
	res, err := s.Allow(context.Background(), "k", perMinute5, time.Now())
	if err == nil {
		t.Fatalf("got %+v and nil error with Redis down, want an error", res)
	}
	if res.Allowed {
		t.Errorf("got Allowed with an error, want the zero Result")
	}
}

func TestRedisInvalidRate(t *testing.T) {
	s := downStore(t) // the rate is checked before Redis is asked
	_, err := s.Allow(context.Background(), "k", ratelimit.Rate{Limit: 0, Period: time.Minute}, time.Now())
	if !errors.Is(err, ratelimit.ErrInvalidRate) {
		t.Errorf("got error %v, want ErrInvalidRate", err)
	}
}

// TestRedisLimiterFailsClosed checks that a Limiter whose Redis is down
// answers 503 with Retry-After and does not call the handler.
func TestRedisLimiterFailsClosed(t *testing.T) {
	l, err := ratelimit.New("login", perMinute5, downStore(t))
	if err != nil {
		t.Fatal(err)
	}
	var storeErr error
	l.SetOnError(func(_ *http.Request, err error) { storeErr = err })
	called := false
	h := l.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	r := httptest.NewRequest("POST", "/v1/auth/token", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("got status %d, want %d", w.Code, http.StatusServiceUnavailable)
	}
	if got, want := w.Header().Get("Retry-After"), "12"; got != want {
		t.Errorf("got Retry-After %q, want %q", got, want)
	}
	if called {
		t.Error("handler called with the store down, want fail closed")
	}
	if storeErr == nil {
		t.Error("OnError not called")
	}
}

// TestRedisIntervals covers intervals that are not whole seconds and
// times past 2⁵³ nanoseconds, which the script keeps exact as seconds plus
// nanoseconds (Allow also checks that its decision matches gcra's).
func TestRedisIntervals(t *testing.T) {
	s, c, prefix := newRedisStore(t)
	for _, rate := range []ratelimit.Rate{
		{Limit: 7, Period: time.Minute},                         // 8.571428571 s
		{Limit: 3, Period: time.Second},                         // 333.333333 ms
		{Limit: 1, Period: ratelimit.MaxPeriod},                 // 3.2e16 ns > 2⁵³
		{Limit: 999_999, Period: ratelimit.MaxPeriod},           // 31.6224316 s
		{Limit: ratelimit.MaxLimit, Period: 1000 * time.Second}, // 1 ms
	} {
		t.Run(rate.String(), func(t *testing.T) {
			key := rate.String()
			n := rate.Limit // a whole burst, or the first few of a large one
			if n > 10 {
				n = 3
			}
			for i := range n {
				res := redisAllow(t, s, key, rate)
				if !res.Allowed {
					t.Fatalf("request %d: refused, want allowed", i+1)
				}
				// With a 1 ms interval, real time between requests
				// refills some of the budget.
				got, want := res.Remaining, rate.Limit-1-i
				if got != want && (rate.Interval() >= 100*time.Millisecond || got < want || got > rate.Limit-1) {
					t.Errorf("request %d: got Remaining %d, want %d", i+1, got, want)
				}
			}
			if rate.Limit > n {
				return
			}
			res := redisAllow(t, s, key, rate)
			iv := rate.Interval()
			if res.Allowed || res.RetryAfter > iv || res.RetryAfter < iv-100*time.Millisecond {
				t.Fatalf("got Allowed %v RetryAfter %s, want refused with just under %s", res.Allowed, res.RetryAfter, iv)
			}
			ttl, err := c.PTTL(context.Background(), prefix+key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if ttl > rate.Period || ttl < rate.Period-time.Second {
				t.Errorf("got TTL %s, want just under %s", ttl, rate.Period)
			}
			elapse(t, c, prefix+key, iv-100*time.Millisecond)
			if res := redisAllow(t, s, key, rate); res.Allowed {
				t.Errorf("100ms before one interval: allowed, want refused")
			}
			elapse(t, c, prefix+key, 100*time.Millisecond)
			if res := redisAllow(t, s, key, rate); !res.Allowed || res.Remaining != 0 {
				t.Errorf("one interval later: got Allowed %v Remaining %d, want allowed with 0", res.Allowed, res.Remaining)
			}
		})
	}
}
