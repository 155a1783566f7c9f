// Package revocation keeps the set of ended sessions in memory, so that an
// access token of an ended session is refused on its next request rather
// than at its expiry, at the cost of a map lookup per request.
//
// The set is fed twice: by this process when it ends a session (at once),
// and by polling the store for sessions ended elsewhere (by the CLI, or by
// another instance on the same database), so a revocation made anywhere is
// seen here within one poll interval. An entry is forgotten once every
// access token that could carry its session ID has expired.
package revocation

import (
	"context"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Source lists the sessions ended since a time.
type Source interface {
	RevokedSince(ctx context.Context, since time.Time) ([]gatehouse.RevokedSession, error)
}

// Set is the in-memory revocation set. Safe for concurrent use.
type Set struct {
	src    Source
	keep   time.Duration // how long an entry can matter: the access-token lifetime plus clock skew
	now    func() time.Time
	mu     sync.RWMutex
	ended  map[string]time.Time // session ID → when the entry may be dropped
	synced time.Time            // revocations up to here are known
	pub    func(id string, at time.Time)
}

// New returns a set that remembers a revocation for keep (the longest an
// access token can stay valid, clock skew included).
func New(src Source, keep time.Duration, now func() time.Time) *Set {
	if now == nil {
		now = time.Now
	}
	return &Set{src: src, keep: keep, now: now, ended: map[string]time.Time{}}
}

// Add records that session id ended at t, and passes it to the publisher,
// if one is set, for the other instances.
func (s *Set) Add(id string, at time.Time) {
	s.mu.Lock()
	s.ended[id] = at.Add(s.keep)
	pub := s.pub
	s.mu.Unlock()
	if pub != nil {
		pub(id, at)
	}
}

// SetPublisher sets a function that Add calls with every revocation made
// by this process, to announce it to other instances at once (see
// Publisher). Revocations received from them or read from the store are
// not passed on. pub runs on the caller's goroutine and must not block.
func (s *Set) SetPublisher(pub func(id string, at time.Time)) {
	s.mu.Lock()
	s.pub = pub
	s.mu.Unlock()
}

// addRemote records a revocation announced by another instance, without
// publishing it again; one already past its keep window is ignored.
func (s *Set) addRemote(id string, at time.Time) {
	until := at.Add(s.keep)
	if !until.After(s.now()) {
		return
	}
	s.mu.Lock()
	if old, ok := s.ended[id]; !ok || until.After(old) {
		s.ended[id] = until
	}
	s.mu.Unlock()
}

// Revoked reports whether session id has ended.
func (s *Set) Revoked(id string) bool {
	s.mu.RLock()
	_, ok := s.ended[id]
	s.mu.RUnlock()
	return ok
}

// Len is the number of remembered revocations.
func (s *Set) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.ended)
}

// overlap re-reads a little of the past on each poll, so that a
// revocation committed with a timestamp just before the previous poll's
// read is not missed (clocks of instances differ slightly).
const overlap = 5 * time.Second

// Sync reads revocations from the store made since the last sync (all of
// the last keep window on the first call) and forgets expired entries.
func (s *Set) Sync(ctx context.Context) error {
	now := s.now()
	s.mu.RLock()
	since := s.synced
	s.mu.RUnlock()
	if since.IsZero() {
		since = now.Add(-s.keep)
	} else {
		since = since.Add(-overlap)
	}
	list, err := s.src.RevokedSince(ctx, since)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range list {
		until := r.RevokedAt.Add(s.keep)
		if until.After(now) {
			s.ended[r.ID] = until
		}
	}
	for id, until := range s.ended {
		if !until.After(now) {
			delete(s.ended, id)
		}
	}
	s.synced = now
	return nil
}

// Run syncs every interval until ctx ends. Errors go to onErr; the set
// keeps what it knows.
func (s *Set) Run(ctx context.Context, interval time.Duration, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Sync(ctx); err != nil && ctx.Err() == nil && onErr != nil {
				onErr(err)
			}
		}
	}
}
