package password_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
)

// waitUntil polls cond until it holds. It asserts no duration: if cond never
// holds, the test binary's -timeout ends the run.
func waitUntil(cond func() bool) {
	for !cond() {
		time.Sleep(time.Millisecond)
	}
}

// fill takes every slot of l with a function that blocks until release is
// closed, and fills its queue with callers. It returns when all of them are
// in place, and a channel that yields each caller's error once released.
func fill(t *testing.T, l *password.Limiter, slots, queue int, release <-chan struct{}) <-chan error {
	t.Helper()
	errs := make(chan error, slots+queue)
	for range slots {
		go func() { errs <- l.Do(context.Background(), func() { <-release }) }()
	}
	waitUntil(func() bool { return l.Stats().InFlight == slots })
	for range queue {
		go func() { errs <- l.Do(context.Background(), func() {}) }()
	}
	waitUntil(func() bool { return l.Stats().Queued == queue })
	return errs
}

func TestLimiterBusyWhenQueueFull(t *testing.T) {
	// Past the queue, callers must be refused at once (ErrBusy → 503) while
	// the slots are busy, rather than pile up and hold memory or sockets.
	tests := []struct {
		name               string
		concurrency, queue int
	}{
		{"one slot, no queue", 1, 0},
		{"one slot, one waiting", 1, 1},
		{"two slots, three waiting", 2, 3},
		{"negative queue means none", 1, -5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := password.NewLimiter(tc.concurrency, tc.queue)
			release := make(chan struct{})
			queue := max(tc.queue, 0)
			errs := fill(t, l, tc.concurrency, queue, release)

			ran := false
			err := l.Do(context.Background(), func() { ran = true })
			if !errors.Is(err, password.ErrBusy) {
				t.Errorf("got %v, want %v", err, password.ErrBusy)
			}
			if ran {
				t.Errorf("fn: got run, want not run")
			}
			// The refusal happened while every slot was still held.
			if got := l.Stats(); got.InFlight != tc.concurrency || got.Queued != queue || got.Rejected != 1 {
				t.Errorf("stats: got %+v, want InFlight=%d Queued=%d Rejected=1", got, tc.concurrency, queue)
			}

			close(release)
			for range tc.concurrency + queue {
				if err := <-errs; err != nil {
					t.Errorf("held or queued caller: got %v, want nil", err)
				}
			}
			if got := l.Stats(); got.InFlight != 0 || got.Queued != 0 {
				t.Errorf("stats after release: got %+v, want nothing in flight or queued", got)
			}
		})
	}
}

func TestLimiterContextEndsWhileQueued(t *testing.T) {
	tests := []struct {
		name   string
		ctx    func() (context.Context, context.CancelFunc)
		cancel bool // cancel once queued; otherwise wait for the deadline
		want   error
	}{
		{"cancelled", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, true, context.Canceled},
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), time.Now().Add(20*time.Millisecond))
		}, false, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := password.NewLimiter(1, 1)
			release := make(chan struct{})
			defer close(release)
			fill(t, l, 1, 0, release)

			ctx, cancel := tc.ctx()
			defer cancel()
			var ran atomic.Bool
			errc := make(chan error, 1)
			go func() { errc <- l.Do(ctx, func() { ran.Store(true) }) }()
			waitUntil(func() bool { return l.Stats().Queued == 1 || ctx.Err() != nil })
			if tc.cancel {
				cancel()
			}
			if err := <-errc; !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			if ran.Load() {
				t.Errorf("fn: got run, want not run after the context ended")
			}
			if got := l.Stats(); got.Queued != 0 || got.InFlight != 1 {
				t.Errorf("stats: got %+v, want Queued=0 InFlight=1", got)
			}
		})
	}
}

func TestLimiterContextAlreadyDone(t *testing.T) {
	l := password.NewLimiter(1, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	if err := l.Do(ctx, func() { ran = true }); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want %v", err, context.Canceled)
	}
	if ran {
		t.Errorf("fn: got run, want not run")
	}
}

func TestLimiterBoundsConcurrency(t *testing.T) {
	const slots, callers = 3, 40
	l := password.NewLimiter(slots, callers)
	var now, peak, done atomic.Int32
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			err := l.Do(context.Background(), func() {
				n := now.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				runtime.Gosched()
				now.Add(-1)
				done.Add(1)
			})
			if err != nil {
				t.Errorf("got %v, want nil", err)
			}
		})
	}
	wg.Wait()
	if got := peak.Load(); got > slots {
		t.Errorf("peak concurrency: got %d, want at most %d", got, slots)
	}
	if got := done.Load(); got != callers {
		t.Errorf("completed: got %d, want %d", got, callers)
	}
}

func TestLimiterDefaultConcurrency(t *testing.T) {
	// 0 means runtime.NumCPU(): that many run, the next is refused.
	n := runtime.NumCPU()
	l := password.NewLimiter(0, 0)
	release := make(chan struct{})
	defer close(release)
	fill(t, l, n, 0, release)
	if err := l.Do(context.Background(), func() {}); !errors.Is(err, password.ErrBusy) {
		t.Errorf("call %d: got %v, want %v", n+1, err, password.ErrBusy)
	}
}

func TestLimiterPanicReleasesSlot(t *testing.T) {
	l := password.NewLimiter(1, 0)
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("panic: got none, want it passed on to the caller")
			}
		}()
		_ = l.Do(context.Background(), func() { panic("boom") })
	}()
	if err := l.Do(context.Background(), func() {}); err != nil {
		t.Errorf("after panic: got %v, want nil (slot given back)", err)
	}
	if got := l.Stats().InFlight; got != 0 {
		t.Errorf("in flight: got %d, want 0", got)
	}
}

func TestLimiterStatsTotalWait(t *testing.T) {
	l := password.NewLimiter(1, 1)
	release := make(chan struct{})
	errs := fill(t, l, 1, 1, release)
	close(release)
	for range 2 {
		<-errs
	}
	if got := l.Stats().TotalWait; got <= 0 {
		t.Errorf("total wait: got %v, want more than 0 after a caller queued", got)
	}
}

func TestHasher(t *testing.T) {
	h := &password.Hasher{Params: fast, Limiter: password.NewLimiter(2, 4)}
	ctx := context.Background()
	enc, err := h.Hash(ctx, "violet tractor under 9 moons")
	if err != nil {
		t.Fatalf("Hash: got %v, want nil", err)
	}
	tests := []struct {
		name   string
		pw     string
		wantOK bool
	}{
		{"right", "violet tractor under 9 moons", true},
		{"wrong", "violet tractor under 8 moons", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(ctx, enc, tc.pw)
			if err != nil || ok != tc.wantOK || rehash {
				t.Errorf("got ok=%v rehash=%v err=%v, want ok=%v rehash=false err=nil", ok, rehash, err, tc.wantOK)
			}
		})
	}
	if err := h.VerifyDummy(ctx, "anything"); err != nil {
		t.Errorf("VerifyDummy: got %v, want nil", err)
	}
	t.Run("rehash to stronger params", func(t *testing.T) {
		stronger := &password.Hasher{Params: password.Params{Memory: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, Limiter: h.Limiter}
		ok, rehash, err := stronger.Verify(ctx, enc, "violet tractor under 9 moons")
		if err != nil || !ok || !rehash {
			t.Errorf("got ok=%v rehash=%v err=%v, want true true nil", ok, rehash, err)
		}
	})
}

func TestHasherRefusedByLimiter(t *testing.T) {
	l := password.NewLimiter(1, 0)
	release := make(chan struct{})
	defer close(release)
	fill(t, l, 1, 0, release)
	h := &password.Hasher{Params: fast, Limiter: l}
	ctx := context.Background()

	if enc, err := h.Hash(ctx, "violet tractor under 9 moons"); !errors.Is(err, password.ErrBusy) || enc != "" {
		t.Errorf("Hash: got %q, %v, want \"\", %v", enc, err, password.ErrBusy)
	}
	// A refused Verify must read as "no match", never as a success.
	if ok, _, err := h.Verify(ctx, password.DummyHash(fast), "x"); !errors.Is(err, password.ErrBusy) || ok {
		t.Errorf("Verify: got ok=%v err=%v, want ok=false err=%v", ok, err, password.ErrBusy)
	}
	if err := h.VerifyDummy(ctx, "x"); !errors.Is(err, password.ErrBusy) {
		t.Errorf("VerifyDummy: got %v, want %v", err, password.ErrBusy)
	}
}

func TestHasherZeroValue(t *testing.T) {
	// The zero Hasher uses DefaultParams and a shared bounded limiter.
	var h password.Hasher
	enc, err := h.Hash(context.Background(), "violet tractor under 9 moons")
	if err != nil {
		t.Fatalf("Hash: got %v, want nil", err)
	}
	if !phcRE.MatchString(enc) || !strings.Contains(enc, "$m=19456,t=2,p=1$") {
		t.Errorf("got %q, want a hash with the default parameters", enc)
	}
}

func TestLimiterRetryAfterGrowsWithDemand(t *testing.T) {
	// A refusal's Retry-After estimates when capacity will be free: the
	// work running, queued and refused recently (those clients come back)
	// at the measured time per run, divided among the slots. Telling
	// hundreds of refused clients "1 second" would have them return to a
	// full queue again and again.
	l := password.NewLimiter(1, 2)
	const run = 300 * time.Millisecond
	if err := l.Do(context.Background(), func() { time.Sleep(run) }); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	errs := fill(t, l, 1, 2, release)
	defer func() {
		close(release)
		for range 3 {
			<-errs
		}
	}()

	prev := 0
	for i := 1; i <= 20; i++ {
		err := l.Do(context.Background(), func() {})
		var be *password.BusyError
		if !errors.As(err, &be) || !errors.Is(err, password.ErrBusy) {
			t.Fatalf("refusal %d: got %v, want a *BusyError matching ErrBusy", i, err)
		}
		got := password.RetryAfter(err)
		// Running and queued (3) plus the refusals so far, each at least
		// run long, on one slot; capped at 30 s.
		want := min(int((time.Duration(3+i)*run+time.Second-1)/time.Second), 30)
		if got < want || got > 30 || got < prev {
			t.Fatalf("refusal %d: Retry-After got %d s, want %d..30 and not less than before (%d)", i, got, want, prev)
		}
		prev = got
	}
	if got := l.Stats().Rejected; got != 20 {
		t.Errorf("Rejected: got %d, want 20", got)
	}
}

func TestLimiterBusy(t *testing.T) {
	// Busy lets a caller refuse before doing work a refusal would waste;
	// it refuses exactly when Do would, and counts the refusal.
	l := password.NewLimiter(1, 1)
	if err := l.Busy(); err != nil {
		t.Fatalf("idle: got %v, want nil", err)
	}
	release := make(chan struct{})
	errs := fill(t, l, 1, 0, release)
	if err := l.Busy(); err != nil {
		t.Errorf("slot taken, queue free: got %v, want nil", err)
	}
	queued := make(chan error, 1)
	go func() { queued <- l.Do(context.Background(), func() {}) }()
	waitUntil(func() bool { return l.Stats().Queued == 1 })
	if err := l.Busy(); !errors.Is(err, password.ErrBusy) {
		t.Errorf("slot taken, queue full: got %v, want ErrBusy", err)
	}
	if got := l.Stats().Rejected; got != 1 {
		t.Errorf("Rejected: got %d, want 1", got)
	}
	close(release)
	for _, c := range []<-chan error{errs, queued} {
		if err := <-c; err != nil {
			t.Errorf("held or queued caller: got %v, want nil", err)
		}
	}
}

func TestRetryAfterWithoutEstimate(t *testing.T) {
	for _, err := range []error{nil, password.ErrBusy, errors.New("other"), &password.BusyError{}} {
		if got := password.RetryAfter(err); got != 1 {
			t.Errorf("RetryAfter(%v): got %d, want 1", err, got)
		}
	}
	if got := password.RetryAfter(&password.BusyError{RetryAfter: 2500 * time.Millisecond}); got != 3 {
		t.Errorf("RetryAfter(2.5 s): got %d, want 3 (rounded up)", got)
	}
}

func TestLimiterRefuseCountsDemand(t *testing.T) {
	// A refusal made for another reason (a client's attempts in flight)
	// still counts as a client who will come back for a hash.
	l := password.NewLimiter(1, 0)
	if err := l.Do(context.Background(), func() { time.Sleep(600 * time.Millisecond) }); err != nil {
		t.Fatal(err)
	}
	var last int
	for range 5 {
		err := l.Refuse()
		if !errors.Is(err, password.ErrBusy) {
			t.Fatalf("got %v, want ErrBusy", err)
		}
		last = password.RetryAfter(err)
	}
	// Five refusals of at least 0.6 s of work each on one slot: at least 3 s.
	if last < 3 {
		t.Errorf("Retry-After after 5 refusals: got %d s, want at least 3", last)
	}
	if got := l.Stats().Rejected; got != 5 {
		t.Errorf("Rejected: got %d, want 5", got)
	}
}
