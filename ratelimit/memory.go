package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// DefaultMaxKeys is the key cap of a MemoryStore made with a cap of zero or
// less, or of the zero MemoryStore.
const DefaultMaxKeys = 1 << 20

// sampleSize is how many entries an eviction looks at.
const sampleSize = 8

// MemoryStore is a Store that keeps state in the process: per key, one
// 64-bit key fingerprint and one int64 time, in sharded maps.
//
// Memory stays bounded whatever the traffic. The client picks the key (an
// IPv6 client has addresses to spare), so a flood of new keys must not grow
// the store: it never holds more than its cap of keys. When a shard is full,
// a new key first takes the place of an expired entry (whose TAT is past,
// and so is the same as no entry: nothing is lost), else of the entry with
// the earliest TAT among a random sample, the key closest to a full quota.
// Evicting a live entry gives that key a fresh burst early, so it fails
// open for that key; refusing new keys instead would let a flood lock out
// every new client, which is worse. Size the cap above the number of keys
// active within the longest period to make evictions of live keys rare.
//
// Keys are stored as 64-bit fingerprints made with a per-process random
// seed (hash/maphash), which keeps an entry small whatever the key's length.
// Two keys that collide share one budget, failing closed for both; with a
// secret seed a client cannot aim for a collision, and by chance one is
// about as likely as n²/2⁶⁵ (under 10⁻⁷ for a million keys).
//
// The zero MemoryStore is ready to use with DefaultMaxKeys. It starts no
// goroutine and needs no Close. It does not use the context.
type MemoryStore struct {
	once     sync.Once
	maxKeys  int
	seed     maphash.Seed
	mask     uint64
	perShard int
	shards   []shard
}

type shard struct {
	mu  sync.Mutex
	tat map[uint64]int64 // key fingerprint → theoretical arrival time, Unix ns
	_   [48]byte         // one shard per cache line, against false sharing
}

// NewMemoryStore returns a MemoryStore that holds at most maxKeys keys, or
// DefaultMaxKeys when maxKeys is zero or less.
func NewMemoryStore(maxKeys int) *MemoryStore {
	s := &MemoryStore{maxKeys: maxKeys}
	s.once.Do(s.init)
	return s
}

func (s *MemoryStore) init() {
	if s.maxKeys <= 0 {
		s.maxKeys = DefaultMaxKeys
	}
	// Up to 64 shards for parallel callers, but at least 64 keys per
	// shard so that small caps are not split into tiny shards.
	n := 64
	for n > 1 && s.maxKeys/n < 64 {
		n /= 2
	}
	s.seed = maphash.MakeSeed()
	s.mask = uint64(n - 1)     // #nosec G115 -- 1 <= n <= 64
	s.perShard = s.maxKeys / n // n*perShard ≤ maxKeys: the cap holds
	s.shards = make([]shard, n)
	for i := range s.shards {
		s.shards[i].tat = make(map[uint64]int64)
	}
}

// MaxKeys returns the most keys the store holds at once.
func (s *MemoryStore) MaxKeys() int {
	s.once.Do(s.init)
	return s.perShard * len(s.shards)
}

// Len returns the number of keys held, live or expired.
func (s *MemoryStore) Len() int {
	s.once.Do(s.init)
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.tat)
		sh.mu.Unlock()
	}
	return n
}

// Allow implements Store.
func (s *MemoryStore) Allow(_ context.Context, key string, rate Rate, now time.Time) (Result, error) {
	if err := rate.Validate(); err != nil {
		return Result{}, err
	}
	s.once.Do(s.init)
	h := maphash.String(s.seed, key)
	t := now.UnixNano()
	sh := &s.shards[h&s.mask]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	tat, found := sh.tat[h]
	res, next := gcra(tat, t, rate)
	if res.Allowed {
		if !found && len(sh.tat) >= s.perShard {
			sh.evict(t)
		}
		sh.tat[h] = next
	}
	return res, nil
}

// evict makes room for one entry. Map iteration starts at a random place,
// so the first entries seen are a random sample.
func (sh *shard) evict(now int64) {
	var victim uint64
	oldest := int64(1<<63 - 1)
	freed, seen := false, 0
	for k, tat := range sh.tat {
		if tat <= now { // expired: the same as absent
			delete(sh.tat, k)
			freed = true
		} else if tat < oldest {
			victim, oldest = k, tat
		}
		if seen++; seen == sampleSize {
			break
		}
	}
	if !freed {
		delete(sh.tat, victim)
	}
}
