package throttle

import (
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// DefaultMaxKeys is the entry cap of a MemoryStore made with a cap of zero
// or less. A full store takes about 100 bytes per entry
// (BenchmarkMemoryPerEntry), so about 13 MiB at this cap.
const DefaultMaxKeys = 1 << 17

// sampleSize is how many entries an eviction compares.
const sampleSize = 8

// MemoryStore is a Store that keeps state in the process, in sharded maps
// of fixed-size entries keyed by a 64-bit fingerprint of the key.
//
// Memory stays bounded whatever the traffic: the client chooses the
// username and, over IPv6, has addresses to spare, so a flood of new keys
// must not grow the store. It holds at most MaxKeys entries, half for
// accounts and half for pairs. When a shard is full, a new key takes the
// place of the least telling entry among a random sample of eight: first an
// entry with no attempt in flight, then the one with the fewest
// consecutive failures, then one whose back-off has passed, then the
// oldest. An eviction forgets failures, so it fails open for that key; but
// refusing new keys instead would let a flood of made-up usernames lock out
// every login, which is worse. Because a flood's entries each carry one or
// a few failures, it evicts its own entries, and the accounts under a real
// attack, with many failures, stay; an account locked at the cap is among
// the last to go. Size MaxKeys above the number of usernames that fail in
// a day to make evictions of useful entries rare.
//
// Fingerprints use a per-process random seed (hash/maphash): two keys that
// collide share one state, failing closed for both; with a secret seed a
// client cannot aim for a collision, and by chance one is about as likely
// as n²/2⁶⁵.
//
// The zero MemoryStore is ready to use with DefaultMaxKeys.
type MemoryStore struct {
	once     sync.Once
	maxKeys  int
	seed     maphash.Seed
	mask     uint64
	perShard int // entries per shard in each of the two maps
	shards   []memShard
}

type memShard struct {
	mu       sync.Mutex
	accounts map[uint64]entry
	pairs    map[uint64]entry
	_        [40]byte // one shard per cache line, against false sharing
}

// entry is a State in 32 bytes: times in Unix nanoseconds, 0 for none.
type entry struct {
	failures, pending     int32
	last, reserved, until int64
}

// NewMemoryStore returns a MemoryStore that holds at most maxKeys entries,
// or DefaultMaxKeys when maxKeys is zero or less.
func NewMemoryStore(maxKeys int) *MemoryStore {
	s := &MemoryStore{maxKeys: maxKeys}
	s.once.Do(s.init)
	return s
}

func (s *MemoryStore) init() {
	if s.maxKeys <= 0 {
		s.maxKeys = DefaultMaxKeys
	}
	// Up to 64 shards for parallel callers, but at least 32 entries per
	// map and shard, so that small caps are not split into tiny shards and
	// an eviction always has a sample to choose from.
	n := 64
	for n > 1 && s.maxKeys/(2*n) < 32 {
		n /= 2
	}
	s.seed = maphash.MakeSeed()
	s.mask = uint64(n - 1)               // #nosec G115 -- 1 <= n <= 64
	s.perShard = max(s.maxKeys/(2*n), 1) // 2·n·perShard ≤ maxKeys for caps of 2 or more
	s.shards = make([]memShard, n)
	for i := range s.shards {
		s.shards[i].accounts = make(map[uint64]entry)
		s.shards[i].pairs = make(map[uint64]entry)
	}
}

// MaxKeys returns the most entries the store holds at once.
func (s *MemoryStore) MaxKeys() int {
	s.once.Do(s.init)
	return 2 * s.perShard * len(s.shards)
}

// Len returns the number of entries held, accounts and pairs.
func (s *MemoryStore) Len() int {
	s.once.Do(s.init)
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.accounts) + len(sh.pairs)
		sh.mu.Unlock()
	}
	return n
}

// Update implements Store. An account and all its pairs live in one shard,
// so one lock makes the step atomic.
func (s *MemoryStore) Update(account, pair string, now time.Time, f func(account, pair *State)) error {
	s.once.Do(s.init)
	ha := maphash.String(s.seed, account)
	var hp uint64
	if pair != "" {
		hp = maphash.String(s.seed, pair)
	}
	sh := &s.shards[ha&s.mask]
	t := now.UnixNano()

	sh.mu.Lock()
	defer sh.mu.Unlock()
	ea, foundA := sh.accounts[ha]
	var ep entry
	var foundP bool
	if pair != "" {
		ep, foundP = sh.pairs[hp]
	}
	a, p := ea.state(), ep.state()
	f(&a, &p)
	sh.put(sh.accounts, ha, foundA, a, t, s.perShard)
	if pair != "" {
		sh.put(sh.pairs, hp, foundP, p, t, s.perShard)
	}
	return nil
}

// put saves st under h, deleting it when zero and making room when the map
// is full.
func (sh *memShard) put(m map[uint64]entry, h uint64, found bool, st State, now int64, limit int) {
	if st.isZero() {
		if found {
			delete(m, h)
		}
		return
	}
	if !found && len(m) >= limit {
		evict(m, now)
	}
	m[h] = entryOf(st)
}

// evict deletes the least telling of a random sample of entries. Map
// iteration starts at a random place, so the first entries seen are a
// random sample.
func evict(m map[uint64]entry, now int64) {
	var victim uint64
	var worst entry
	seen := 0
	for k, e := range m {
		if seen == 0 || e.lessTelling(worst, now) {
			victim, worst = k, e
		}
		if seen++; seen == sampleSize {
			break
		}
	}
	if seen > 0 {
		delete(m, victim)
	}
}

// lessTelling reports whether e says less about an attack than o, and
// should be evicted first.
func (e entry) lessTelling(o entry, now int64) bool {
	if (e.pending == 0) != (o.pending == 0) {
		return e.pending == 0 // never forget an attempt in flight first
	}
	if e.failures != o.failures {
		return e.failures < o.failures
	}
	if ep, op := e.until <= now, o.until <= now; ep != op {
		return ep // a back-off that has passed costs nothing to forget
	}
	return e.last < o.last
}

// clampInt32 returns n limited to [0, math.MaxInt32]: counts are never
// negative, and a count past 2³¹ means the same as one at it.
func clampInt32(n int) int32 {
	if n <= 0 {
		return 0
	}
	if n >= math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(n)
}

func entryOf(s State) entry {
	return entry{
		failures: clampInt32(s.Failures),
		pending:  clampInt32(s.Pending),
		last:     unixNano(s.Last),
		reserved: unixNano(s.Reserved),
		until:    unixNano(s.Until),
	}
}

func (e entry) state() State {
	return State{
		Failures: int(e.failures),
		Pending:  int(e.pending),
		Last:     fromUnixNano(e.last),
		Reserved: fromUnixNano(e.reserved),
		Until:    fromUnixNano(e.until),
	}
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
