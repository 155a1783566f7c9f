package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStore is a Store that keeps state in Redis, so that several
// instances of a server share one budget per key: a client cannot multiply
// its limit by the number of instances behind the load balancer.
//
// Each key is one Redis string, the prefix followed by the Limiter's key,
// holding the key's TAT in Unix nanoseconds as a decimal integer. A Lua
// script runs the steps described on Store atomically on the Redis server
// (EVALSHA, falling back to EVAL when the script is not cached), so
// concurrent requests from any number of instances never both take the
// last unit of a budget. Every allowed request sets the key's TTL to the
// time until its TAT, after which the key is the same as an absent one:
// Redis memory holds only keys that are still limited.
//
// # Clock
//
// RedisStore ignores the now passed to Allow and uses the Redis server's
// clock (TIME, read inside the script). Instances whose clocks disagree
// would otherwise disagree on every TAT: an instance running ahead would
// refill budgets early, failing open, and one running behind would refuse
// requests that are allowed. With one clock per key the instances agree
// exactly, as the Store contract allows. Under Redis Cluster each key lives
// on one primary, so each key still has one clock; a failover to a replica
// whose clock is skewed shifts the budgets of the keys it serves by the
// skew, once.
//
// # Errors
//
// Allow returns an error when Redis cannot be reached or answers with an
// error; the Limiter then fails closed (503) or open as configured. Bound
// the wait with the client's timeouts (redis.Options ReadTimeout,
// WriteTimeout, DialTimeout) or the request context: Allow passes the
// context to every command.
type RedisStore struct {
	client redis.UniversalClient
	prefix string
}

// NewRedisStore returns a RedisStore that keeps its keys in client under
// prefix, such as "gatehouse:ratelimit:". Use one prefix per application
// so that other data in the same database cannot collide with limit
// state. The caller owns client and closes it.
func NewRedisStore(client redis.UniversalClient, prefix string) *RedisStore {
	return &RedisStore{client: client, prefix: prefix}
}

// gcraScript runs the steps of Store on the Redis clock. Lua numbers are
// doubles, exact only up to 2⁵³, which Unix nanoseconds exceed; so times
// and durations are kept as whole seconds plus nanoseconds, each exact.
//
// KEYS[1] is the key. ARGV is T and B, each as seconds then nanoseconds.
// It returns the Redis time (seconds and microseconds, as TIME gives them),
// the TAT it read ("" when absent) and 1 when it allowed the request,
// so that the caller computes the Result with the same gcra function as
// MemoryStore, from the same inputs the script decided on.
var gcraScript = redis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local now = redis.call('TIME')
local ns, nn = tonumber(now[1]), tonumber(now[2]) * 1000
local ts, tn = ns, nn
local v = redis.call('GET', KEYS[1])
if v then
  local s, n = nil, nil
  if #v >= 10 and not string.find(v, '[^0-9]') then
    s, n = tonumber(string.sub(v, 1, -10)), tonumber(string.sub(v, -9))
  end
  if not s or not n then
    return redis.error_reply('ratelimit: malformed state in ' .. KEYS[1])
  end
  if s > ns or (s == ns and n > nn) then ts, tn = s, n end
else
  v = ''
end
local xs, xn = ts + tonumber(ARGV[1]), tn + tonumber(ARGV[2])
if xn >= 1000000000 then xs, xn = xs + 1, xn - 1000000000 end
local ds, dn = xs - ns, xn - nn
if dn < 0 then ds, dn = ds - 1, dn + 1000000000 end
local bs, bn = tonumber(ARGV[3]), tonumber(ARGV[4])
if ds > bs or (ds == bs and dn > bn) then
  return {now[1], now[2], v, 0}
end
local ttl = ds * 1000 + math.ceil(dn / 1000000)
redis.call('SET', KEYS[1], string.format('%d%09d', xs, xn), 'PX', ttl)
return {now[1], now[2], v, 1}
`)

// Allow implements Store. It ignores now and uses the Redis clock (see
// RedisStore).
func (s *RedisStore) Allow(ctx context.Context, key string, rate Rate, _ time.Time) (Result, error) {
	if err := rate.Validate(); err != nil {
		return Result{}, err
	}
	const sec = int64(time.Second)
	t := int64(rate.Interval())
	b := t * int64(rate.Limit)
	reply, err := gcraScript.Run(ctx, s.client, []string{s.prefix + key},
		t/sec, t%sec, b/sec, b%sec).Slice()
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	now, tat, allowed, err := parseReply(reply)
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	res, _ := gcra(tat, now, rate)
	if res.Allowed != allowed {
		// Cannot happen unless the script and gcra disagree; refuse to
		// guess which one is right.
		return Result{}, errors.New("ratelimit: redis: script and gcra disagree")
	}
	return res, nil
}

// parseReply reads the script's reply: the Redis time in Unix nanoseconds,
// the TAT read (0 when absent) and the decision.
func parseReply(reply []any) (now, tat int64, allowed bool, err error) {
	if len(reply) != 4 {
		return 0, 0, false, fmt.Errorf("unexpected script reply %v", reply)
	}
	var n [3]int64
	for i := range n {
		str, ok := reply[i].(string)
		if !ok {
			return 0, 0, false, fmt.Errorf("unexpected script reply %v", reply)
		}
		if i == 2 && str == "" {
			continue // absent key
		}
		if n[i], err = strconv.ParseInt(str, 10, 64); err != nil {
			return 0, 0, false, fmt.Errorf("unexpected script reply %v", reply)
		}
	}
	flag, ok := reply[3].(int64)
	if !ok {
		return 0, 0, false, fmt.Errorf("unexpected script reply %v", reply)
	}
	return n[0]*int64(time.Second) + n[1]*int64(time.Microsecond), n[2], flag == 1, nil
}
