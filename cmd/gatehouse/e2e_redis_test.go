package main

import (
	"context"
	"net/url"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestRedisSharedLimits: two instances with --redis-url share one rate
// limit: 5/minute allows exactly 5 across both.
func TestRedisSharedLimits(t *testing.T) {
	redisURL := os.Getenv("GATEHOUSE_TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("GATEHOUSE_TEST_REDIS_URL is not set; .ci/run sets it")
	}
	dir := t.TempDir()
	args := []string{noDefaultLimits, "--redis-url", redisURL, "--rate-limit", "POST /v1/auth/token=5/minute", "--issuer", "http://gatehouse.test"}
	a := startServer(t, dir, args...)
	bSrv := startServer(t, dir, args...)
	// Earlier runs from this address may have used the shared budget:
	// clear this policy's keys first.
	flushLimits(t, redisURL)
	allowed := 0
	for i := 0; i < 10; i++ {
		ts := a
		if i%2 == 1 {
			ts = bSrv
		}
		r := ts.do(t, "POST", "/v1/auth/token", url.Values{"grant_type": {"password"}, "username": {"nobody"}, "password": {"x"}}, nil)
		switch r.Status {
		case 400:
			allowed++
		case 429:
		default:
			t.Fatalf("attempt %d: got %d %s", i, r.Status, r.Body)
		}
	}
	if allowed != 5 {
		t.Errorf("allowed across two instances: got %d, want 5", allowed)
	}

	// A wrong Redis address stops the start, naming the flag.
	_, _, err := runCLI(t, "", nil, "serve", "--data-dir", t.TempDir(), "--addr", freeAddr(t), "--redis-url", "redis://127.0.0.1:1/0")
	if err == nil {
		t.Errorf("serve with an unreachable Redis: got no error")
	}
}

// flushLimits deletes the rate-limit keys gatehouse keeps in Redis.
func flushLimits(t *testing.T, rawURL string) {
	t.Helper()
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx := context.Background()
	iter := c.Scan(ctx, 0, "gatehouse:ratelimit:*", 1000).Iterator()
	for iter.Next(ctx) {
		c.Del(ctx, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("redis at %s: %v", opt.Addr, err)
	}
}
