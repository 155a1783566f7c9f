package password

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"time"
)

// ErrBusy is returned by Limiter.Do when every slot is taken and the queue
// is full. The server answers it with 503 and Retry-After: refusing at once
// is what keeps a flood of logins from taking the process down.
var ErrBusy = errors.New("password: too many password hashes in progress")

// BusyError is the error Limiter.Do returns when it refuses: it matches
// ErrBusy with errors.Is and carries how long the caller should wait
// before trying again.
type BusyError struct {
	// RetryAfter estimates when a slot will be free for a caller who
	// comes back: the work already queued, plus the work of every caller
	// refused recently (each will come back), divided among the slots.
	// At least a second, at most maxRetryAfter.
	RetryAfter time.Duration
}

func (e *BusyError) Error() string        { return ErrBusy.Error() }
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// RetryAfter returns the wait a refusal asks for, in whole seconds (RFC
// 9110 §10.2.3 Retry-After takes seconds), or 1 when err carries none.
func RetryAfter(err error) int {
	var be *BusyError
	if errors.As(err, &be) && be.RetryAfter > time.Second {
		return int((be.RetryAfter + time.Second - 1) / time.Second)
	}
	return 1
}

// maxRetryAfter caps the advertised wait: past it a client should rather
// be told to come back soon and be refused again than be sent away for
// longer than an overload is likely to last.
const maxRetryAfter = 30 * time.Second

// Limiter bounds how many password hashes run at once and how many callers
// wait for one.
//
// Each argon2id hash holds Params.Memory (19 MiB by default) for its whole
// run, so memory grows with the number of hashes in progress: a burst of a
// few thousand logins, or a credential-stuffing run, would otherwise exhaust
// the server's memory (OWASP ASVS 5.0 V2.4.1: protect against overuse of
// costly resources; each call fills m KiB, RFC 9106 §3.1). With a
// Limiter the peak is concurrency × Params.Memory whatever the load.
// Callers past the queue fail fast with ErrBusy rather than pile up: the
// limit fails closed (refuses service) instead of open (runs the hash
// anyway).
//
// A Limiter is safe for concurrent use. Share one per process among every
// Hasher, since memory is a process-wide resource.
type Limiter struct {
	slots    chan struct{} // one token per running fn
	maxQueue int

	mu       sync.Mutex
	inFlight int
	queued   int
	waited   time.Duration
	rejected uint64
	// avgRun is a moving average of how long fn runs, and refused counts
	// refusals per second over the last len(refused) seconds: together
	// they size the Retry-After of the next refusal.
	avgRun  time.Duration
	refused [64]struct {
		sec int64
		n   int
	}
	lastRetry time.Duration
}

// NewLimiter returns a Limiter that runs at most concurrency functions at
// once and lets at most queue more callers wait for a slot. A concurrency of
// 0 (or less) means runtime.NumCPU(): argon2id with one lane is CPU-bound,
// so more would only add memory, not throughput. A queue of 0 (or less)
// means no waiting: callers get ErrBusy whenever every slot is taken.
func NewLimiter(concurrency, queue int) *Limiter {
	if concurrency <= 0 {
		concurrency = runtime.NumCPU()
	}
	return &Limiter{slots: make(chan struct{}, concurrency), maxQueue: max(queue, 0)}
}

// Do runs fn in the calling goroutine once a slot is free. When none is, it
// waits in the queue; when the queue is full it returns a *BusyError
// (errors.Is ErrBusy) at once
// without running fn. If ctx ends before fn starts, Do returns ctx.Err()
// without running fn; once fn has started it runs to the end, since
// argon2id cannot be interrupted. Do returns nil when fn ran.
func (l *Limiter) Do(ctx context.Context, fn func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case l.slots <- struct{}{}:
	default:
		if err := l.wait(ctx); err != nil {
			return err
		}
	}
	l.mu.Lock()
	l.inFlight++
	l.mu.Unlock()
	start := time.Now()
	// Deferred so that a panicking fn still gives its slot back.
	defer func() {
		ran := time.Since(start)
		l.mu.Lock()
		l.inFlight--
		if l.avgRun == 0 {
			l.avgRun = ran
		} else {
			l.avgRun += (ran - l.avgRun) / 8
		}
		l.mu.Unlock()
		<-l.slots
	}()
	fn()
	return nil
}

// refuse records a refusal and returns the error for it. The caller holds
// l.mu.
//
// The wait it advertises grows with demand. A client told to retry in a
// second while hundreds of others wait would come back to a full queue
// again and again, and each refusal costs the server a request; told when
// capacity is likely to be free, it comes back once. Every refusal in the
// last advertised window is counted as a client that will return (each
// retries about once per window), so the estimate is
// (queued + running + refused recently) × average run time ÷ slots.
func (l *Limiter) refuse(now time.Time) error {
	l.rejected++
	sec := now.Unix()
	b := &l.refused[sec%int64(len(l.refused))]
	if b.sec != sec {
		b.sec, b.n = sec, 0
	}
	b.n++
	window := int64(max(l.lastRetry/time.Second, 1))
	recent := 0
	for i := range window {
		if b := l.refused[(sec-i)%int64(len(l.refused))]; b.sec == sec-i {
			recent += b.n
		}
	}
	wait := time.Duration(l.queued+l.inFlight+recent) * l.avgRun / time.Duration(cap(l.slots))
	wait = min(max(wait, time.Second), maxRetryAfter)
	l.lastRetry = wait
	return &BusyError{RetryAfter: wait}
}

// Busy returns the error Do would refuse with if called now, when every
// slot is taken and the queue is full, and nil otherwise. It lets a caller
// refuse before doing work that a refusal would waste (parsing a request,
// a database read); the refusal counts like one from Do. The answer may be
// stale by the time Do runs, which then decides.
func (l *Limiter) Busy() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.slots) < cap(l.slots) || l.queued < l.maxQueue {
		return nil
	}
	return l.refuse(time.Now())
}

// Refuse records a refusal that the caller makes for a reason of its own
// (say, too many of one client's attempts in flight) and returns the
// *BusyError to answer with. The refused client will come back for a
// hash, so it counts in the demand that sizes every Retry-After.
func (l *Limiter) Refuse() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refuse(time.Now())
}

// wait queues for a slot. On nil return the caller holds one.
func (l *Limiter) wait(ctx context.Context) error {
	l.mu.Lock()
	if l.queued >= l.maxQueue {
		err := l.refuse(time.Now())
		l.mu.Unlock()
		return err
	}
	l.queued++
	l.mu.Unlock()

	start := time.Now()
	var err error
	select {
	case l.slots <- struct{}{}:
		// When ctx ended at the same moment, select may still pick the
		// slot; give it back rather than do 19 MiB of work for a client
		// that is gone.
		if err = ctx.Err(); err != nil {
			<-l.slots
		}
	case <-ctx.Done():
		err = ctx.Err()
	}

	l.mu.Lock()
	l.queued--
	l.waited += time.Since(start)
	l.mu.Unlock()
	return err
}

// Stats is a snapshot of a Limiter, for metrics.
type Stats struct {
	InFlight  int           // functions running now
	Queued    int           // callers waiting for a slot now
	TotalWait time.Duration // time all callers have spent queued, since creation
	Rejected  uint64        // refusals (Do, Busy and Refuse), since creation
}

// Stats returns the current counts.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{InFlight: l.inFlight, Queued: l.queued, TotalWait: l.waited, Rejected: l.rejected}
}

// defaultLimiter serves every Hasher whose Limiter is nil, so that the zero
// Hasher is bounded too. Its queue lets each CPU's slot have 16 callers
// waiting, about a second of work at the default parameters.
var defaultLimiter = sync.OnceValue(func() *Limiter {
	return NewLimiter(0, 16*runtime.NumCPU())
})

// Hasher hashes and verifies passwords through a Limiter. Its zero value is
// ready to use: zero Params mean DefaultParams and a nil Limiter means one
// shared process-wide limiter with runtime.NumCPU() slots.
type Hasher struct {
	Params
	Limiter *Limiter
}

func (h *Hasher) params() Params {
	if h.Params == (Params{}) {
		return DefaultParams
	}
	return h.Params
}

func (h *Hasher) limiter() *Limiter {
	if h.Limiter == nil {
		return defaultLimiter()
	}
	return h.Limiter
}

// Hash is Hash(password, h.Params) run through the limiter. It returns
// ErrBusy or ctx.Err() when the limiter refuses.
func (h *Hasher) Hash(ctx context.Context, password string) (encoded string, err error) {
	if lerr := h.limiter().Do(ctx, func() { encoded, err = Hash(password, h.params()) }); lerr != nil {
		return "", lerr
	}
	return encoded, err
}

// Busy is the limiter's Busy: a *BusyError when a hash asked for now would
// be refused, nil otherwise.
func (h *Hasher) Busy() error { return h.limiter().Busy() }

// Refuse is the limiter's Refuse.
func (h *Hasher) Refuse() error { return h.limiter().Refuse() }

// Verify is Verify(encoded, password, h.Params) run through the limiter. It
// returns ErrBusy or ctx.Err() when the limiter refuses; ok is then false.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (ok, needsRehash bool, err error) {
	if lerr := h.limiter().Do(ctx, func() { ok, needsRehash, err = Verify(encoded, password, h.params()) }); lerr != nil {
		return false, false, lerr
	}
	return ok, needsRehash, err
}

// VerifyDummy does the work of Verify against DummyHash(h.Params) and
// discards the result. Login calls it when the username is unknown, so that
// such a request takes the same time, and the same place in the limiter's
// queue, as one for a real user (OWASP ASVS 5.0 V6.3.8). It returns only
// the limiter's ErrBusy or ctx.Err(), so the caller answers an unknown user
// exactly as it answers a wrong password, including when busy.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	p := h.params()
	return h.limiter().Do(ctx, func() { _, _, _ = Verify(DummyHash(p), password, p) })
}
