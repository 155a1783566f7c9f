package throttle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisTTL is how long a RedisStore keeps a state that nothing
// touches, on top of any back-off still running.
const DefaultRedisTTL = 7 * 24 * time.Hour

// DefaultRedisTimeout bounds one Update of a RedisStore, retries included.
const DefaultRedisTimeout = 2 * time.Second

// redisRetries is how many times Update runs a transaction that another
// instance's Update on the same keys made fail, before giving up (and the
// Throttle failing closed).
const redisRetries = 32

// RedisStore is a Store that keeps state in Redis, so that every instance
// of a server behind a load balancer draws on one count per account and
// per (account, IP) pair: failures on one instance throttle the others.
//
// # Atomicity
//
// Update is an optimistic transaction, as Store suggests: WATCH the account
// and pair keys, read them, run f, then write both in MULTI/EXEC. When
// another Update changed either key in between, EXEC fails and Update runs
// again on fresh states (f may run more than once; only the last run is
// saved). So the read-modify-write is the same as MemoryStore's under its
// shard lock. The two keys share a hash tag (a digest of the account), so
// they live in one slot under Redis Cluster.
//
// # Keys and expiry
//
// Keys are the prefix, then "a:{h}" for an account and "p:{h}:" followed by
// a digest of the pair for a pair, h being a digest of the account: the
// client chooses usernames, so digests keep the keys short and free of
// hash-tag braces. A State is a short decimal string. Every write sets a
// TTL of the time until the state's back-off ends plus TTL (default
// DefaultRedisTTL), and a state that f leaves zero is deleted; Update
// writes even an unchanged state, so any attempt on an account, refused or
// not, keeps its state alive. An account locked at the cap and then left
// alone for TTL is forgotten, as an eviction or a restart of a MemoryStore
// would forget it; a flood of made-up usernames costs Redis memory for at
// most TTL (size maxmemory for it, with a volatile eviction policy).
//
// # Clock and errors
//
// The Throttle's clock decides back-offs, as with MemoryStore; the times
// are stored in Unix nanoseconds, so instances should keep their clocks in
// sync (NTP). Update returns an error when Redis cannot be reached, answers
// with an error, holds a malformed state, or keeps conflicting, and the
// Throttle then fails closed. Each Update is bounded by Timeout and by the
// client's own timeouts.
type RedisStore struct {
	client  redis.UniversalClient
	prefix  string
	ttl     time.Duration
	timeout time.Duration
}

// RedisOptions configures a RedisStore. Zero fields take the defaults.
type RedisOptions struct {
	// TTL is how long an untouched state is kept after its back-off ends
	// (default DefaultRedisTTL).
	TTL time.Duration
	// Timeout bounds one Update (default DefaultRedisTimeout).
	Timeout time.Duration
}

// NewRedisStore returns a RedisStore that keeps its keys in client under
// prefix, such as "gatehouse:throttle:". The caller owns client and closes
// it.
func NewRedisStore(client redis.UniversalClient, prefix string, opt RedisOptions) *RedisStore {
	if opt.TTL <= 0 {
		opt.TTL = DefaultRedisTTL
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultRedisTimeout
	}
	return &RedisStore{client: client, prefix: prefix, ttl: opt.TTL, timeout: opt.Timeout}
}

// keys returns the Redis keys of account and pair ("" for no pair).
func (s *RedisStore) keys(account, pair string) (ka, kp string) {
	h := digest(account)
	ka = s.prefix + "a:{" + h + "}"
	if pair != "" {
		kp = s.prefix + "p:{" + h + "}:" + digest(pair)
	}
	return ka, kp
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

// Update implements Store.
func (s *RedisStore) Update(account, pair string, now time.Time, f func(account, pair *State)) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	ka, kp := s.keys(account, pair)
	watch := []string{ka}
	if kp != "" {
		watch = append(watch, kp)
	}
	txf := func(tx *redis.Tx) error {
		vals, err := tx.MGet(ctx, watch...).Result()
		if err != nil {
			return err
		}
		a, err := decodeState(vals[0])
		if err != nil {
			return fmt.Errorf("%s: %w", ka, err)
		}
		var p State
		if kp != "" {
			if p, err = decodeState(vals[1]); err != nil {
				return fmt.Errorf("%s: %w", kp, err)
			}
		}
		f(&a, &p)
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			s.put(ctx, pipe, ka, a, now)
			if kp != "" {
				s.put(ctx, pipe, kp, p, now)
			}
			return nil
		})
		return err
	}
	var err error
	for i := range redisRetries {
		if err = s.client.Watch(ctx, txf, watch...); !errors.Is(err, redis.TxFailedErr) {
			break
		}
		// Another instance updated the same account: back off a little,
		// with jitter from the attempt number and the clock, and retry.
		d := time.Duration(1+i%4) * time.Millisecond
		d += time.Duration(time.Now().UnixNano() % int64(time.Millisecond))
		select {
		case <-ctx.Done():
			return fmt.Errorf("throttle: redis: %w", ctx.Err())
		case <-time.After(d):
		}
	}
	if err != nil {
		return fmt.Errorf("throttle: redis: %w", err)
	}
	return nil
}

// put queues the write of st under key: a delete when zero, else a SET
// with the TTL.
func (s *RedisStore) put(ctx context.Context, pipe redis.Pipeliner, key string, st State, now time.Time) {
	if st.isZero() {
		pipe.Del(ctx, key)
		return
	}
	ttl := s.ttl + max(st.Until.Sub(now), 0)
	pipe.Set(ctx, key, encodeState(st), ttl)
}

// encodeState writes st as five decimal integers separated by spaces:
// failures, pending, then last, reserved and until in Unix nanoseconds (0
// for none).
func encodeState(st State) string {
	var b []byte
	b = strconv.AppendInt(b, int64(st.Failures), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(st.Pending), 10)
	for _, t := range []time.Time{st.Last, st.Reserved, st.Until} {
		b = append(b, ' ')
		b = strconv.AppendInt(b, unixNano(t), 10)
	}
	return string(b)
}

var errMalformed = errors.New("malformed throttle state")

// decodeState reads what encodeState wrote; nil (an absent key) is the
// zero State.
func decodeState(v any) (State, error) {
	if v == nil {
		return State{}, nil
	}
	str, ok := v.(string)
	if !ok {
		return State{}, errMalformed
	}
	f := strings.Split(str, " ")
	if len(f) != 5 {
		return State{}, errMalformed
	}
	var n [5]int64
	for i := range f {
		x, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil || x < 0 {
			return State{}, errMalformed
		}
		n[i] = x
	}
	if n[0] > math.MaxInt32 || n[1] > math.MaxInt32 {
		return State{}, errMalformed
	}
	return State{
		Failures: int(n[0]),
		Pending:  int(n[1]),
		Last:     fromUnixNano(n[2]),
		Reserved: fromUnixNano(n[3]),
		Until:    fromUnixNano(n[4]),
	}, nil
}
