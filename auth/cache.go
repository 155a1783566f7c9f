package auth

import (
	"crypto/ed25519"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// cacheShards splits the cache so that concurrent requests rarely meet on
// one lock.
const cacheShards = 16

// cache remembers verified tokens by their exact text. Only tokens that
// passed every check are stored, so a lookup by an attacker's token can only
// miss; the key of the map is the whole token, never a hash of it, so no
// collision can make one token pass for another.
type cache struct {
	seed     maphash.Seed
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[string]*cacheEntry
	_  [40]byte // keep shards on separate cache lines
}

// cacheEntry is immutable except for its reference bit.
type cacheEntry struct {
	claims *Claims           // never handed out: callers get clones
	kid    string            // the key that verified the token ...
	key    ed25519.PublicKey // ... and its bytes then
	ref    atomic.Bool       // used since the last eviction pass (second chance)
}

// shardStats holds one shard's counters on its own cache line, so that
// counting does not make cores contend.
type shardStats struct {
	hits, misses, evictions atomic.Uint64
	_                       [40]byte
}

func newCache(size int) *cache {
	if size <= 0 {
		return nil
	}
	c := &cache{seed: maphash.MakeSeed(), perShard: max(1, (size+cacheShards-1)/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*cacheEntry)
	}
	return c
}

// shard picks the shard of token with a per-process random seed, so that
// clients cannot aim tokens at one shard.
func (c *cache) shard(token string) int {
	return int(maphash.String(c.seed, token) % cacheShards)
}

func (c *cache) get(shard int, token string) *cacheEntry {
	s := &c.shards[shard]
	s.mu.RLock()
	e := s.m[token]
	s.mu.RUnlock()
	if e != nil && !e.ref.Load() {
		e.ref.Store(true) // written only when it changes, to keep the line shared
	}
	return e
}

func (c *cache) remove(shard int, token string) {
	s := &c.shards[shard]
	s.mu.Lock()
	delete(s.m, token)
	s.mu.Unlock()
}

// put stores e for token and reports how many entries it evicted.
//
// A full shard frees a quarter of its room at once, so the cost is constant
// per insertion on average. The pass is a second-chance (CLOCK) sweep in
// Go's randomized map order: entries that expired go first, then entries not
// used since the last pass; used ones lose their mark and stay. When every
// entry was used, arbitrary ones go. The cache never grows past its size, so
// a flood of valid tokens costs performance, never memory.
func (c *cache) put(shard int, token string, e *cacheEntry, cfg *verifierConfig, now time.Time) int {
	s := &c.shards[shard]
	s.mu.Lock()
	defer s.mu.Unlock()
	evicted := 0
	if _, ok := s.m[token]; !ok && len(s.m) >= c.perShard {
		want := max(1, c.perShard/4)
		for k, old := range s.m {
			if evicted >= want {
				break
			}
			if cfg.checkTimes(old.claims, now) != nil || !old.ref.Load() {
				delete(s.m, k)
				evicted++
			} else {
				old.ref.Store(false)
			}
		}
		for k := range s.m {
			if evicted >= want {
				break
			}
			delete(s.m, k)
			evicted++
		}
	}
	s.m[token] = e
	return evicted
}

func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
