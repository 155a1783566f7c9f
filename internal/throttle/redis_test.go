package throttle_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/throttle"
)

// testRedis connects to GATEHOUSE_TEST_REDIS_URL and returns a client and a
// fresh key prefix whose keys are deleted when the test ends. It skips the
// test when the variable is unset and fails it when Redis does not answer.
func testRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	url := os.Getenv("GATEHOUSE_TEST_REDIS_URL")
	if url == "" {
		t.Skip("GATEHOUSE_TEST_REDIS_URL is not set; skipping the Redis store tests (example: redis://127.0.0.1:6379/0)")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("GATEHOUSE_TEST_REDIS_URL: %v", err)
	}
	client := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		t.Fatalf("GATEHOUSE_TEST_REDIS_URL is set but Redis does not answer at %s: %v", opt.Addr, err)
	}
	var b [8]byte
	rand.Read(b[:])
	prefix := "gatehouse-test:" + hex.EncodeToString(b[:]) + ":throttle:"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("cleanup of %s*: %v", prefix, err)
		}
		client.Close()
	})
	return client, prefix
}

// trace runs a fixed pseudo-random sequence of logins against th and
// returns what th decided at each step.
func trace(th *throttle.Throttle, c *clock) []string {
	r := mrand.New(mrand.NewPCG(1, 2))
	users := []string{"alice", "Bob", "carol"}
	var out []string
	for i := range 600 {
		user := users[r.IntN(len(users))]
		ip := nthIP(r.IntN(3))
		var line string
		switch op := r.IntN(10); {
		case op < 6: // a wrong password
			v, wait := th.Attempt(user, ip)
			line = fmt.Sprintf("attempt %v %v", v, wait)
			if v == throttle.Allowed {
				ev := th.Failure(user, ip)
				line += fmt.Sprintf(" failure %+v", ev)
			}
		case op < 7: // the right password
			v, wait := th.Attempt(user, ip)
			line = fmt.Sprintf("attempt %v %v", v, wait)
			if v == throttle.Allowed {
				th.Success(user, ip)
				line += " success"
			}
		case op < 8: // never verified, or still in flight
			v, wait := th.Attempt(user, ip)
			line = fmt.Sprintf("attempt %v %v", v, wait)
			if v == throttle.Allowed && r.IntN(2) == 0 {
				th.Release(user, ip)
				line += " release"
			}
		case op < 9:
			d := time.Duration(r.IntN(120)) * time.Second
			c.Advance(d)
			line = fmt.Sprintf("advance %v", d)
		default:
			if r.IntN(10) == 0 {
				th.Reset(user)
				line = "reset"
			} else {
				c.Advance(time.Duration(r.IntN(1000)) * time.Millisecond)
				line = "tick"
			}
		}
		out = append(out, fmt.Sprintf("%d %s %v: %s", i, user, ip, line))
	}
	return out
}

func TestRedisStoreSameDecisionsAsMemory(t *testing.T) {
	client, prefix := testRedis(t)
	cfg := throttle.Config{PairFree: 2, AccountFree: 4, AccountCap: 12, PairMax: 30 * time.Second, AccountMax: time.Minute}

	mem, mc := newThrottle(t, cfg)
	cfg.Store = throttle.NewRedisStore(client, prefix, throttle.RedisOptions{})
	var storeErr error
	cfg.OnError = func(err error) { storeErr = err }
	red, rc := newThrottle(t, cfg)

	want, got := trace(mem, mc), trace(red, rc)
	if storeErr != nil {
		t.Fatalf("Redis store error: %v", storeErr)
	}
	throttled, locked := 0, 0
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("step %d differs:\nmemory: %s\nredis:  %s", i, want[i], got[i])
		}
		if strings.Contains(want[i], "throttled") {
			throttled++
		}
		if strings.Contains(want[i], "Locked:true") {
			locked++
		}
	}
	if throttled == 0 || locked == 0 {
		t.Errorf("the sequence throttled %d and locked %d times; want both, to test anything", throttled, locked)
	}
}

func TestRedisStoreDefaultSchedule(t *testing.T) {
	client, prefix := testRedis(t)
	th, c := newThrottle(t, throttle.Config{Store: throttle.NewRedisStore(client, prefix, throttle.RedisOptions{})})
	for i, want := range defaultSchedule() {
		ev := failWhenAllowed(t, th, c, "alice", ipA)
		if ev.Wait != want {
			t.Fatalf("failure %d: wait %v, want %v", i+1, ev.Wait, want)
		}
	}
}

func TestRedisStoreSharedBetweenInstances(t *testing.T) {
	client, prefix := testRedis(t)
	other := redis.NewClient(client.Options())
	defer other.Close()
	c := &clock{now: t0}
	mk := func(rc redis.UniversalClient) *throttle.Throttle {
		th, err := throttle.New(throttle.Config{Now: c.Now, Store: throttle.NewRedisStore(rc, prefix, throttle.RedisOptions{})})
		if err != nil {
			t.Fatal(err)
		}
		return th
	}
	a, b := mk(client), mk(other)

	// Failures alternate between the instances and count together.
	for i := range throttle.DefaultPairFree + 1 {
		th := a
		if i%2 == 1 {
			th = b
		}
		fail(t, th, "alice", ipA)
	}
	for name, th := range map[string]*throttle.Throttle{"A": a, "B": b} {
		if v, wait := th.Attempt("alice", ipA); v != throttle.Throttled || wait != throttle.FirstDelay {
			t.Errorf("instance %s after %d shared failures: got %v %v, want throttled %v", name, throttle.DefaultPairFree+1, v, wait, throttle.FirstDelay)
		}
	}
	// Another IP is not held back by the pair.
	if v, _ := b.Attempt("alice", ipB); v != throttle.Allowed {
		t.Errorf("instance B, other IP: got %v, want allowed", v)
	}
	b.Release("alice", ipB)

	// A success on B clears the pair for A.
	c.Advance(throttle.FirstDelay)
	if v, _ := b.Attempt("alice", ipA); v != throttle.Allowed {
		t.Fatalf("instance B after the wait: got %v, want allowed", v)
	}
	b.Success("alice", ipA)
	if v, _ := a.Attempt("alice", ipA); v != throttle.Allowed {
		t.Errorf("instance A after a success on B: got %v, want allowed", v)
	}
	a.Release("alice", ipA)
}

func TestRedisStoreConcurrentAttemptsReserved(t *testing.T) {
	client, prefix := testRedis(t)
	other := redis.NewClient(client.Options())
	defer other.Close()
	c := &clock{now: t0}
	var ths []*throttle.Throttle
	var errs sync.Map
	for _, rc := range []redis.UniversalClient{client, other} {
		th, err := throttle.New(throttle.Config{PairFree: 2, Now: c.Now,
			Store:   throttle.NewRedisStore(rc, prefix, throttle.RedisOptions{Timeout: 10 * time.Second}),
			OnError: func(err error) { errs.Store(err.Error(), true) }})
		if err != nil {
			t.Fatal(err)
		}
		ths = append(ths, th)
	}
	const n = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for i := range n {
		wg.Go(func() {
			if v, _ := ths[i%2].Attempt("alice", ipA); v == throttle.Allowed {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	errs.Range(func(k, _ any) bool { t.Errorf("store error: %v", k); return true })
	if allowed != 3 {
		t.Errorf("%d concurrent attempts on two instances: %d allowed, want PairFree+1 = 3", n, allowed)
	}
}

func TestRedisStoreExpires(t *testing.T) {
	client, prefix := testRedis(t)
	th, _ := newThrottle(t, throttle.Config{Store: throttle.NewRedisStore(client, prefix, throttle.RedisOptions{TTL: time.Hour})})
	fail(t, th, "alice", ipA)
	ctx := context.Background()
	keys, err := client.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("keys after one failure: %q, want an account and a pair", keys)
	}
	for _, k := range keys {
		ttl, err := client.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 || ttl > time.Hour {
			t.Errorf("TTL of %s: %v, want in (0, 1h]", k, ttl)
		}
	}
	// A success clears the pair and the account's count: nothing is left.
	if v, _ := th.Attempt("alice", ipA); v != throttle.Allowed {
		t.Fatalf("got %v, want allowed", v)
	}
	th.Success("alice", ipA)
	if n, err := client.Exists(ctx, keys...).Result(); err != nil || n != 0 {
		t.Errorf("keys left after a success: %d (%v), want 0", n, err)
	}
}

func TestRedisStoreDownFailsClosed(t *testing.T) {
	// A port that nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	client := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer client.Close()

	store := throttle.NewRedisStore(client, "gatehouse-test:down:", throttle.RedisOptions{Timeout: time.Second})
	if err := store.Update("alice", "", t0, func(a, p *throttle.State) {}); err == nil {
		t.Fatal("Update with Redis down: got nil error")
	}
	var errs []error
	th, _ := newThrottle(t, throttle.Config{Store: store, OnError: func(err error) { errs = append(errs, err) }})
	if v, wait := th.Attempt("alice", ipA); v != throttle.Throttled || wait != throttle.FirstDelay {
		t.Errorf("Attempt with Redis down: got %v %v, want throttled %v", v, wait, throttle.FirstDelay)
	}
	if len(errs) != 1 {
		t.Errorf("OnError calls: %d, want 1 (%v)", len(errs), errs)
	}
	if err := th.Reset("alice"); err == nil {
		t.Error("Reset with Redis down: got nil error")
	}
}

func TestRedisStoreDefaultTTL(t *testing.T) {
	// Without RedisOptions.TTL, untouched back-off state is kept for
	// DefaultRedisTTL (7 days) after its back-off ends, then forgotten: a
	// flood of made-up usernames costs Redis memory for at most that long.
	client, prefix := testRedis(t)
	th, _ := newThrottle(t, throttle.Config{Store: throttle.NewRedisStore(client, prefix, throttle.RedisOptions{})})
	fail(t, th, "bob", ipA)
	ctx := context.Background()
	keys, err := client.Keys(ctx, prefix+"*").Result()
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys after one failure: %q (%v), want an account and a pair", keys, err)
	}
	for _, k := range keys {
		ttl, err := client.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		// The back-off after one failure is far below a day.
		if ttl < throttle.DefaultRedisTTL-time.Minute || ttl > throttle.DefaultRedisTTL+24*time.Hour {
			t.Errorf("TTL of %s: %v, want about %v", k, ttl, throttle.DefaultRedisTTL)
		}
	}
}
