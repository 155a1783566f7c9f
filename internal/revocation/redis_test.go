package revocation_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/revocation"
)

// noSource is a store with no revocations.
type noSource struct{}

func (noSource) RevokedSince(context.Context, time.Time) ([]gatehouse.RevokedSession, error) {
	return nil, nil
}

// testRedis connects to GATEHOUSE_TEST_REDIS_URL; it skips the test when
// the variable is unset and fails it when Redis does not answer.
func testRedis(t *testing.T) *redis.Client {
	t.Helper()
	url := os.Getenv("GATEHOUSE_TEST_REDIS_URL")
	if url == "" {
		t.Skip("GATEHOUSE_TEST_REDIS_URL is not set; skipping the Redis pub/sub tests (example: redis://127.0.0.1:6379/0)")
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
	t.Cleanup(func() { client.Close() }) // pub/sub leaves no keys
	return client
}

// randomID is a session ID no other test run uses.
func randomID(t *testing.T) string {
	var b [12]byte
	rand.Read(b[:])
	return "test-" + hex.EncodeToString(b[:])
}

// errs collects errors from a background goroutine.
type errs struct {
	mu   sync.Mutex
	list []error
}

func (e *errs) add(err error) { e.mu.Lock(); e.list = append(e.list, err); e.mu.Unlock() }
func (e *errs) len() int      { e.mu.Lock(); defer e.mu.Unlock(); return len(e.list) }
func (e *errs) all() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.list...)
}

// seenWithin reports whether set holds id before d has passed.
func seenWithin(set *revocation.Set, id string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if set.Revoked(id) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRedisRevocationsReachOtherInstance(t *testing.T) {
	client := testRedis(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	var pubErrs, subErrs errs
	a := revocation.New(noSource{}, time.Hour, nil)
	b := revocation.New(noSource{}, time.Hour, nil)
	a.SetPublisher(revocation.Publisher(ctx, client, time.Second, pubErrs.add))
	// B publishes too, to show that what it receives is not sent back.
	var republished []string
	var mu sync.Mutex
	b.SetPublisher(func(id string, _ time.Time) { mu.Lock(); republished = append(republished, id); mu.Unlock() })
	otherClient := redis.NewClient(client.Options())
	defer otherClient.Close()
	wg.Go(func() { b.Subscribe(ctx, otherClient, subErrs.add) })

	// Pub/sub reaches only subscribers already connected: wait until B
	// receives a probe before timing the real revocation.
	ready := false
	for deadline := time.Now().Add(5 * time.Second); !ready && time.Now().Before(deadline); {
		probe := randomID(t)
		a.Add(probe, time.Now())
		ready = seenWithin(b, probe, 100*time.Millisecond)
	}
	if !ready {
		t.Fatal("B never received a probe revocation: the subscription did not start")
	}

	id := randomID(t)
	start := time.Now()
	a.Add(id, time.Now())
	if !a.Revoked(id) {
		t.Fatal("A does not hold its own revocation")
	}
	if !seenWithin(b, id, time.Second) {
		t.Fatalf("B did not see A's revocation within 1 s")
	}
	t.Logf("propagated in %v", time.Since(start))

	// A revocation too old to matter is ignored.
	old := randomID(t)
	a.Add(old, time.Now().Add(-2*time.Hour))
	next := randomID(t)
	a.Add(next, time.Now())
	if !seenWithin(b, next, time.Second) {
		t.Fatal("B did not see the next revocation within 1 s")
	}
	if b.Revoked(old) {
		t.Error("B holds a revocation older than its keep window")
	}

	mu.Lock()
	if len(republished) != 0 {
		t.Errorf("B passed received revocations to its publisher: %q", republished)
	}
	mu.Unlock()
	if pubErrs.len() != 0 || subErrs.len() != 0 {
		t.Errorf("errors: publish %v, subscribe %v", pubErrs.all(), subErrs.all())
	}
}

func TestRedisDownAddStillWorks(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	client := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer client.Close()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var pubErrs, subErrs errs
	set := revocation.New(noSource{}, time.Hour, nil)
	set.SetPublisher(revocation.Publisher(ctx, client, 200*time.Millisecond, pubErrs.add))
	wg.Go(func() { set.Subscribe(ctx, client, subErrs.add) })

	id := randomID(t)
	start := time.Now()
	set.Add(id, time.Now())
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("Add with Redis down took %v; it must not wait for Redis", d)
	}
	if !set.Revoked(id) {
		t.Fatal("Add with Redis down: the revocation is not held locally")
	}
	for deadline := time.Now().Add(5 * time.Second); pubErrs.len() == 0 || subErrs.len() == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("errors with Redis down: publish %d, subscribe %d; want both reported", pubErrs.len(), subErrs.len())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := revocation.Publish(ctx, client, id, time.Now()); err == nil {
		t.Error("Publish with Redis down: got nil error")
	}
	// The store poll still works without Redis.
	if err := set.Sync(ctx); err != nil {
		t.Errorf("Sync: %v", err)
	}
	if !set.Revoked(id) {
		t.Error("the revocation is lost after a sync")
	}
}
