package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// sessionTTL is the absolute lifetime of the sessions of these tests.
const sessionTTL = 30 * 24 * time.Hour

func newSession(id, userID string) *gatehouse.Session {
	return &gatehouse.Session{
		ID: id, UserID: userID,
		CreatedAt: testNow, LastUsedAt: testNow, ExpiresAt: testNow.Add(sessionTTL),
		Scope: "notes:read notes:write", ClientIP: "192.0.2.1", UserAgent: "test/1.0",
	}
}

func newToken(b byte, sessionID string) *gatehouse.RefreshToken {
	return &gatehouse.RefreshToken{
		Hash: hash(b), SessionID: sessionID,
		CreatedAt: testNow, ExpiresAt: testNow.Add(14 * 24 * time.Hour),
	}
}

// mustCreateSession stores session id of userID with the refresh token
// hash(token).
func mustCreateSession(t *testing.T, s Store, id, userID string, token byte) *gatehouse.Session {
	t.Helper()
	ss := newSession(id, userID)
	if err := s.CreateSession(t.Context(), ss, newToken(token, id)); err != nil {
		t.Fatalf("CreateSession(%s): %v", id, err)
	}
	return ss
}

func sameSession(got, want *gatehouse.Session) bool {
	return got.ID == want.ID && got.UserID == want.UserID && got.CreatedAt.Equal(want.CreatedAt) &&
		got.LastUsedAt.Equal(want.LastUsedAt) && got.ExpiresAt.Equal(want.ExpiresAt) &&
		(got.RevokedAt == nil) == (want.RevokedAt == nil) && (got.RevokedAt == nil || got.RevokedAt.Equal(*want.RevokedAt)) &&
		got.RevokeReason == want.RevokeReason && got.Scope == want.Scope && got.ClientIP == want.ClientIP &&
		got.UserAgent == want.UserAgent
}

// Sessions checks creating sessions (atomically with their first refresh
// token), reading them back, and ActiveSessions.
func Sessions(t *testing.T, newDB NewDB) {
	t.Run("create", func(t *testing.T) {
		tests := []struct {
			name    string
			session *gatehouse.Session
			token   *gatehouse.RefreshToken
			wantErr bool
		}{
			{"first", newSession("s1", "id-alice"), newToken(1, "s1"), false},
			{"second session of the same user", newSession("s2", "id-alice"), newToken(2, "s2"), false},
			{"hostile user agent", func() *gatehouse.Session {
				s := newSession("s3", "id-alice")
				s.UserAgent = `'); DROP TABLE sessions; --`
				return s
			}(), newToken(3, "s3"), false},
			{"taken session ID", newSession("s1", "id-alice"), newToken(4, "s1"), true},
			{"unknown user", newSession("s5", "id-nobody"), newToken(5, "s5"), true},
			// The refresh token's hash is taken: the session must not be
			// kept either, so the same session ID works with a fresh token
			// below.
			{"taken token hash", newSession("s6", "id-alice"), newToken(1, "s6"), true},
			{"after rollback", newSession("s6", "id-alice"), newToken(6, "s6"), false},
			{"token for another session", newSession("s7", "id-alice"), newToken(7, "s-missing"), true},
			{"after rollback of a bad token", newSession("s7", "id-alice"), newToken(7, "s7"), false},
		}
		s := migrated(t, newDB)
		mustCreateUser(t, s, newUser("alice"))
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := s.CreateSession(t.Context(), tt.session, tt.token)
				if (err != nil) != tt.wantErr {
					t.Errorf("CreateSession: got %v, want error %v", err, tt.wantErr)
				}
				if err != nil && errors.Is(err, gatehouse.ErrUnavailable) {
					t.Errorf("CreateSession: got %v, want an error that is not ErrUnavailable", err)
				}
			})
		}
	})

	t.Run("read back", func(t *testing.T) {
		s := migrated(t, newDB)
		ctx := t.Context()
		mustCreateUser(t, s, newUser("alice"))
		want := mustCreateSession(t, s, "s1", "id-alice", 1)
		byID, err := s.SessionByID(ctx, "s1")
		if err != nil {
			t.Fatalf("SessionByID: %v", err)
		}
		byHash, err := s.SessionByRefreshHash(ctx, hash(1))
		if err != nil {
			t.Fatalf("SessionByRefreshHash: %v", err)
		}
		for _, got := range []*gatehouse.Session{byID, byHash} {
			if !sameSession(got, want) {
				t.Errorf("read back %+v, want %+v", *got, *want)
			}
			if got.CreatedAt.Location() != time.UTC || got.ExpiresAt.Location() != time.UTC {
				t.Errorf("times in %v, want UTC", got.CreatedAt.Location())
			}
		}
		for name, call := range map[string]func() error{
			"SessionByID unknown":          func() error { _, err := s.SessionByID(ctx, "s2"); return err },
			"SessionByID empty":            func() error { _, err := s.SessionByID(ctx, ""); return err },
			"SessionByRefreshHash unknown": func() error { _, err := s.SessionByRefreshHash(ctx, hash(2)); return err },
			"SessionByRefreshHash prefix":  func() error { _, err := s.SessionByRefreshHash(ctx, hash(1)[:31]); return err },
			"SessionByRefreshHash nil":     func() error { _, err := s.SessionByRefreshHash(ctx, nil); return err },
		} {
			if err := call(); !errors.Is(err, gatehouse.ErrNotFound) {
				t.Errorf("%s: got %v, want ErrNotFound", name, err)
			}
		}
	})

	t.Run("active sessions", func(t *testing.T) {
		s := migrated(t, newDB)
		ctx := t.Context()
		mustCreateUser(t, s, newUser("alice"))
		mustCreateUser(t, s, newUser("bob"))
		add := func(id, user string, created time.Time, ttl time.Duration, token byte) {
			ss := newSession(id, user)
			ss.CreatedAt, ss.LastUsedAt, ss.ExpiresAt = created, created, created.Add(ttl)
			if err := s.CreateSession(ctx, ss, newToken(token, id)); err != nil {
				t.Fatal(err)
			}
		}
		add("a-old", "id-alice", testNow.Add(-3*time.Hour), sessionTTL, 1)
		add("a-new", "id-alice", testNow.Add(-time.Hour), sessionTTL, 2)
		add("a-tie-1", "id-alice", testNow.Add(-2*time.Hour), sessionTTL, 3)
		add("a-tie-2", "id-alice", testNow.Add(-2*time.Hour), sessionTTL, 4)
		add("a-expires-now", "id-alice", testNow.Add(-time.Hour), time.Hour, 5)
		add("a-expired", "id-alice", testNow.Add(-2*time.Hour), time.Hour, 6)
		add("a-revoked", "id-alice", testNow.Add(-time.Hour), sessionTTL, 7)
		add("b-1", "id-bob", testNow.Add(-time.Hour), sessionTTL, 8)
		if err := s.RevokeSession(ctx, "a-revoked", "id-alice", "test", testNow); err != nil {
			t.Fatal(err)
		}
		got, err := s.ActiveSessions(ctx, "id-alice", testNow)
		if err != nil {
			t.Fatal(err)
		}
		// Newest first, ties by ID descending; expired (at or before now)
		// and revoked sessions left out.
		want := []string{"a-new", "a-tie-2", "a-tie-1", "a-old"}
		if g := ids(got, sessionID); !slices.Equal(g, want) {
			t.Errorf("ActiveSessions = %q, want %q", g, want)
		}
		if got, err := s.ActiveSessions(ctx, "id-nobody", testNow); err != nil || len(got) != 0 {
			t.Errorf("ActiveSessions(unknown user) = %v, %v; want none", got, err)
		}
		// Times beyond any database's range: every live session, or none.
		if got, err := s.ActiveSessions(ctx, "id-alice", time.UnixMicro(math.MinInt64)); err != nil || len(got) != 6 {
			t.Errorf("ActiveSessions at the earliest time = %d sessions, %v; want the 6 unrevoked", len(got), err)
		}
		if got, err := s.ActiveSessions(ctx, "id-alice", time.UnixMicro(math.MaxInt64)); err != nil || len(got) != 0 {
			t.Errorf("ActiveSessions at the latest time = %d sessions, %v; want none", len(got), err)
		}
	})
}

// rotation makes rotation requests on one session.
type rotation struct {
	grace, idleTTL time.Duration
}

func (r rotation) req(old, next byte, now time.Time) gatehouse.RotateRequest {
	return gatehouse.RotateRequest{
		OldHash:         hash(old),
		New:             &gatehouse.RefreshToken{Hash: hash(next), CreatedAt: now},
		SuccessorSealed: sealed(hash(next)),
		Now:             now,
		Grace:           r.grace,
		IdleTTL:         r.idleTTL,
	}
}

// Rotation checks the refresh-token rotation rules of RFC 9700 §4.14.2.
func Rotation(t *testing.T, newDB NewDB) {
	r := rotation{grace: 30 * time.Second, idleTTL: 14 * 24 * time.Hour}
	sec := func(n int) time.Time { return testNow.Add(time.Duration(n) * time.Second) }

	t.Run("family", func(t *testing.T) {
		s := migrated(t, newDB)
		ctx := t.Context()
		mustCreateUser(t, s, newUser("alice"))
		sess := mustCreateSession(t, s, "s1", "id-alice", 1)
		steps := []struct {
			name       string
			old, next  byte
			at         time.Time
			want       gatehouse.RotateOutcome
			wantSealed []byte // for Replayed
			stored     bool   // next is stored as a token of the session
		}{
			{"rotate the first token", 1, 2, sec(0), gatehouse.Rotated, nil, true},
			{"retry within the grace window", 1, 3, sec(1), gatehouse.Replayed, sealed(hash(2)), false},
			{"rotate the successor", 2, 4, sec(2), gatehouse.Rotated, nil, true},
			{"retry of the successor", 2, 5, sec(3), gatehouse.Replayed, sealed(hash(4)), false},
			// The first token's successor has been used: its holder is not
			// the only one with tokens of this family.
			{"first token again", 1, 6, sec(4), gatehouse.ReuseDetected, nil, false},
			{"live token after reuse", 4, 7, sec(5), gatehouse.Invalid, nil, false},
		}
		for _, st := range steps {
			req := r.req(st.old, st.next, st.at)
			res, err := s.RotateRefreshToken(ctx, req)
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if res.Outcome != st.want {
				t.Fatalf("%s: outcome %v, want %v", st.name, res.Outcome, st.want)
			}
			if res.Session == nil || res.Session.ID != sess.ID {
				t.Errorf("%s: session %+v, want %s", st.name, res.Session, sess.ID)
			}
			if !bytes.Equal(res.SuccessorSealed, st.wantSealed) {
				t.Errorf("%s: SuccessorSealed = %q, want %q", st.name, res.SuccessorSealed, st.wantSealed)
			}
			_, err = s.SessionByRefreshHash(ctx, hash(st.next))
			if stored := err == nil; stored != st.stored {
				t.Errorf("%s: successor stored = %v (%v), want %v", st.name, stored, err, st.stored)
			}
			if st.want == gatehouse.Rotated {
				if !res.Session.LastUsedAt.Equal(st.at) {
					t.Errorf("%s: LastUsedAt = %v, want %v", st.name, res.Session.LastUsedAt, st.at)
				}
				if req.New.SessionID != sess.ID || !req.New.ExpiresAt.Equal(st.at.Add(r.idleTTL)) {
					t.Errorf("%s: New = %+v, want session %s, expiry %v", st.name, *req.New, sess.ID, st.at.Add(r.idleTTL))
				}
			}
		}
		got, err := s.SessionByID(ctx, sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.RevokedAt == nil || !got.RevokedAt.Equal(sec(4)) || got.RevokeReason != "refresh token reuse" {
			t.Errorf("session after reuse: revoked %v (%q), want at %v for refresh token reuse", got.RevokedAt, got.RevokeReason, sec(4))
		}
		if !got.LastUsedAt.Equal(sec(2)) {
			t.Errorf("LastUsedAt = %v, want the last rotation, %v", got.LastUsedAt, sec(2))
		}
		revoked, err := s.RevokedSince(ctx, sec(4))
		if err != nil || !slices.Equal(ids(revoked, revokedID), []string{sess.ID}) {
			t.Errorf("RevokedSince = %v, %v; want the session", revoked, err)
		}
	})

	t.Run("outcomes", func(t *testing.T) {
		tests := []struct {
			name string
			// setup runs on a fresh session s1 (token 1, expiring with the
			// session in 30 days) and returns the request to check.
			setup       func(t *testing.T, s Store) gatehouse.RotateRequest
			want        gatehouse.RotateOutcome
			wantSession bool
			wantRevoked bool
		}{
			{"unknown token", func(t *testing.T, s Store) gatehouse.RotateRequest {
				return r.req(9, 2, sec(0))
			}, gatehouse.Invalid, false, false},
			{"retry after the grace window", func(t *testing.T, s Store) gatehouse.RotateRequest {
				mustRotate(t, s, r.req(1, 2, sec(0)), gatehouse.Rotated)
				return r.req(1, 3, sec(31))
			}, gatehouse.ReuseDetected, true, true},
			{"retry at the end of the grace window", func(t *testing.T, s Store) gatehouse.RotateRequest {
				mustRotate(t, s, r.req(1, 2, sec(0)), gatehouse.Rotated)
				return r.req(1, 3, sec(30))
			}, gatehouse.Replayed, true, false},
			{"retry with no grace window", func(t *testing.T, s Store) gatehouse.RotateRequest {
				mustRotate(t, s, rotation{grace: 0, idleTTL: r.idleTTL}.req(1, 2, sec(0)), gatehouse.Rotated)
				return rotation{grace: 0, idleTTL: r.idleTTL}.req(1, 3, sec(1))
			}, gatehouse.ReuseDetected, true, true},
			{"token at its idle expiry", func(t *testing.T, s Store) gatehouse.RotateRequest {
				mustRotate(t, s, rotation{grace: r.grace, idleTTL: time.Hour}.req(1, 2, sec(0)), gatehouse.Rotated)
				return r.req(2, 3, sec(3600))
			}, gatehouse.Invalid, true, false},
			{"token just before its idle expiry", func(t *testing.T, s Store) gatehouse.RotateRequest {
				mustRotate(t, s, rotation{grace: r.grace, idleTTL: time.Hour}.req(1, 2, sec(0)), gatehouse.Rotated)
				return r.req(2, 3, sec(3599))
			}, gatehouse.Rotated, true, false},
			{"session at its expiry", func(t *testing.T, s Store) gatehouse.RotateRequest {
				return r.req(1, 2, testNow.Add(sessionTTL))
			}, gatehouse.Invalid, true, false},
			{"revoked session", func(t *testing.T, s Store) gatehouse.RotateRequest {
				if err := s.RevokeSession(t.Context(), "s1", "", "logout", sec(0)); err != nil {
					t.Fatal(err)
				}
				return r.req(1, 2, sec(1))
			}, gatehouse.Invalid, true, true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := migrated(t, newDB)
				mustCreateUser(t, s, newUser("alice"))
				mustCreateSession(t, s, "s1", "id-alice", 1)
				req := tt.setup(t, s)
				res, err := s.RotateRefreshToken(t.Context(), req)
				if err != nil {
					t.Fatal(err)
				}
				if res.Outcome != tt.want {
					t.Errorf("outcome %v, want %v", res.Outcome, tt.want)
				}
				if (res.Session != nil) != tt.wantSession {
					t.Errorf("session %+v, want one: %v", res.Session, tt.wantSession)
				}
				got, err := s.SessionByID(t.Context(), "s1")
				if err != nil {
					t.Fatal(err)
				}
				if (got.RevokedAt != nil) != tt.wantRevoked {
					t.Errorf("session revoked at %v, want revoked: %v", got.RevokedAt, tt.wantRevoked)
				}
				_, err = s.SessionByRefreshHash(t.Context(), req.New.Hash)
				if stored := err == nil; stored != (tt.want == gatehouse.Rotated) {
					t.Errorf("successor stored = %v, want %v", stored, tt.want == gatehouse.Rotated)
				}
			})
		}
	})

	t.Run("successor expires with the session", func(t *testing.T) {
		s := migrated(t, newDB)
		mustCreateUser(t, s, newUser("alice"))
		ss := newSession("s1", "id-alice")
		ss.ExpiresAt = testNow.Add(time.Hour)
		if err := s.CreateSession(t.Context(), ss, newToken(1, "s1")); err != nil {
			t.Fatal(err)
		}
		req := r.req(1, 2, sec(0))
		mustRotate(t, s, req, gatehouse.Rotated)
		if !req.New.ExpiresAt.Equal(ss.ExpiresAt) {
			t.Errorf("successor ExpiresAt = %v, want the session's %v", req.New.ExpiresAt, ss.ExpiresAt)
		}
		// The stored expiry is the capped one: at the session's end the
		// successor is refused.
		mustRotate(t, s, r.req(2, 3, sec(3599)), gatehouse.Rotated)
		mustRotate(t, s, r.req(3, 4, sec(3600)), gatehouse.Invalid)
	})
}

func mustRotate(t *testing.T, s Store, req gatehouse.RotateRequest, want gatehouse.RotateOutcome) *gatehouse.RotateResult {
	t.Helper()
	res, err := s.RotateRefreshToken(t.Context(), req)
	if err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}
	if res.Outcome != want {
		t.Fatalf("RotateRefreshToken: outcome %v, want %v", res.Outcome, want)
	}
	return res
}

// RotationConcurrent: 20 concurrent rotations of one refresh token, from two
// instances, yield exactly one successor; the others are told to use it
// (Replayed), and the session stays live.
func RotationConcurrent(t *testing.T, newDB NewDB) {
	a, b := migratedPair(t, newDB)
	ctx := t.Context()
	mustCreateUser(t, a, newUser("alice"))
	r := rotation{grace: 30 * time.Second, idleTTL: time.Hour}
	const rounds, callers = 5, 20
	for round := range rounds {
		sid := fmt.Sprintf("s%d", round)
		first := byte(200 + round)
		mustCreateSession(t, a, sid, "id-alice", first)
		results := make([]*gatehouse.RotateResult, callers)
		errs := make([]error, callers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range callers {
			s := []Store{a, b}[i%2]
			wg.Go(func() {
				<-start
				req := r.req(first, byte(round*callers+i), testNow) // #nosec G115 -- below rounds*callers = 100
				results[i], errs[i] = s.RotateRefreshToken(ctx, req)
			})
		}
		close(start)
		wg.Wait()
		rotated, replayed := -1, 0
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, caller %d: %v", round, i, err)
			}
			switch results[i].Outcome {
			case gatehouse.Rotated:
				if rotated >= 0 {
					t.Errorf("round %d: callers %d and %d both rotated", round, rotated, i)
				}
				rotated = i
			case gatehouse.Replayed:
				replayed++
			default:
				t.Errorf("round %d, caller %d: outcome %v, want Rotated or Replayed", round, i, results[i].Outcome)
			}
		}
		if rotated < 0 {
			t.Fatalf("round %d: nobody rotated", round)
		}
		winner := hash(byte(round*callers + rotated))
		for i, res := range results {
			if res.Outcome == gatehouse.Replayed && !bytes.Equal(res.SuccessorSealed, sealed(winner)) {
				t.Errorf("round %d, caller %d: replayed %q, want the winner's successor", round, i, res.SuccessorSealed)
			}
		}
		stored := 0
		for i := range callers {
			if _, err := a.SessionByRefreshHash(ctx, hash(byte(round*callers+i))); err == nil {
				stored++
			}
		}
		if stored != 1 {
			t.Errorf("round %d: %d successors stored, want 1", round, stored)
		}
		if got, err := a.SessionByID(ctx, sid); err != nil || got.RevokedAt != nil {
			t.Errorf("round %d: session %+v, %v; want it live", round, got, err)
		}
	}
}

// Revocation checks RevokeSession, RevokeUserSessions and RevokedSince.
func Revocation(t *testing.T, newDB NewDB) {
	s := migrated(t, newDB)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("alice"))
	mustCreateUser(t, s, newUser("bob"))
	for i, id := range []string{"a1", "a2", "a3", "a4"} {
		mustCreateSession(t, s, id, "id-alice", byte(1+i))
	}
	mustCreateSession(t, s, "b1", "id-bob", 10)
	at := func(n int) time.Time { return testNow.Add(time.Duration(n) * time.Minute) }

	// Another user's session is not found, and stays live.
	if err := s.RevokeSession(ctx, "b1", "id-alice", "x", at(1)); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("RevokeSession of another user's session: got %v, want ErrNotFound", err)
	}
	if err := s.RevokeSession(ctx, "nope", "id-alice", "x", at(1)); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("RevokeSession of an unknown session: got %v, want ErrNotFound", err)
	}
	if err := s.RevokeSession(ctx, "a1", "id-alice", "logout", at(1)); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	// Revoking again keeps the first time and reason.
	if err := s.RevokeSession(ctx, "a1", "", "admin", at(2)); err != nil {
		t.Fatalf("RevokeSession again: %v", err)
	}
	got, err := s.SessionByID(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if got.RevokedAt == nil || !got.RevokedAt.Equal(at(1)) || got.RevokeReason != "logout" {
		t.Errorf("a1 revoked at %v for %q, want %v for logout", got.RevokedAt, got.RevokeReason, at(1))
	}
	// userID "" skips the owner check.
	if err := s.RevokeSession(ctx, "b1", "", "admin", at(2)); err != nil {
		t.Fatalf("RevokeSession without owner: %v", err)
	}

	ended, err := s.RevokeUserSessions(ctx, "id-alice", "a3", "password changed", at(3))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ended)
	if !slices.Equal(ended, []string{"a2", "a4"}) {
		t.Errorf("RevokeUserSessions ended %q, want a2 and a4 (a1 was already revoked, a3 kept)", ended)
	}
	again, err := s.RevokeUserSessions(ctx, "id-alice", "a3", "again", at(4))
	if err != nil || len(again) != 0 {
		t.Errorf("RevokeUserSessions again: %q, %v; want nothing", again, err)
	}
	if got, err := s.RevokeUserSessions(ctx, "id-nobody", "", "x", at(4)); err != nil || len(got) != 0 {
		t.Errorf("RevokeUserSessions(unknown user): %q, %v; want nothing", got, err)
	}
	if live, err := s.ActiveSessions(ctx, "id-alice", at(5)); err != nil || !slices.Equal(ids(live, sessionID), []string{"a3"}) {
		t.Errorf("ActiveSessions after RevokeUserSessions = %v, %v; want a3", live, err)
	}
	// A revoked session's token no longer rotates.
	r := rotation{grace: 30 * time.Second, idleTTL: time.Hour}
	mustRotate(t, s, r.req(2, 20, at(5)), gatehouse.Invalid)

	tests := []struct {
		since time.Time
		want  []string
	}{
		{at(0), []string{"a1", "b1", "a2", "a4"}},
		{at(1), []string{"a1", "b1", "a2", "a4"}},
		{at(1).Add(time.Microsecond), []string{"b1", "a2", "a4"}},
		{at(3), []string{"a2", "a4"}},
		{at(4), nil},
		{time.UnixMicro(math.MinInt64), []string{"a1", "b1", "a2", "a4"}},
		{time.UnixMicro(math.MaxInt64), nil},
	}
	for _, tt := range tests {
		got, err := s.RevokedSince(ctx, tt.since)
		if err != nil {
			t.Fatalf("RevokedSince(%v): %v", tt.since, err)
		}
		// Oldest revocation first, ties by ID.
		if g := ids(got, revokedID); !slices.Equal(g, tt.want) {
			t.Errorf("RevokedSince(%v) = %q, want %q", tt.since, g, tt.want)
		}
		for _, r := range got {
			if r.RevokedAt.Location() != time.UTC || r.UserID == "" {
				t.Errorf("RevokedSince entry %+v, want a user and a UTC time", r)
			}
		}
	}
}

// CookieSessions checks browser sessions, found by their cookie's hash.
func CookieSessions(t *testing.T, newDB NewDB) {
	s := migrated(t, newDB)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("alice"))
	c1 := newSession("c1", "id-alice")
	if err := s.CreateCookieSession(ctx, c1, hash(1)); err != nil {
		t.Fatalf("CreateCookieSession: %v", err)
	}
	got, err := s.SessionByCookieHash(ctx, hash(1))
	if err != nil {
		t.Fatalf("SessionByCookieHash: %v", err)
	}
	if !sameSession(got, c1) {
		t.Errorf("read back %+v, want %+v", *got, *c1)
	}
	if err := s.CreateCookieSession(ctx, newSession("c2", "id-alice"), hash(1)); err == nil || errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("CreateCookieSession with a taken cookie hash: got %v, want an error", err)
	}
	if _, err := s.SessionByID(ctx, "c2"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("refused cookie session: got %v, want ErrNotFound", err)
	}
	if err := s.CreateCookieSession(ctx, newSession("c1", "id-alice"), hash(2)); err == nil {
		t.Errorf("CreateCookieSession with a taken ID: got nil, want an error")
	}
	if err := s.CreateCookieSession(ctx, newSession("c3", "id-nobody"), hash(3)); err == nil {
		t.Errorf("CreateCookieSession for an unknown user: got nil, want an error")
	}
	// Sessions without a cookie do not collide with each other.
	mustCreateSession(t, s, "r1", "id-alice", 10)
	mustCreateSession(t, s, "r2", "id-alice", 11)

	for name, h := range map[string][]byte{"unknown": hash(2), "nil": nil, "refresh hash": hash(10)} {
		if _, err := s.SessionByCookieHash(ctx, h); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("SessionByCookieHash(%s): got %v, want ErrNotFound", name, err)
		}
	}
	if _, err := s.SessionByRefreshHash(ctx, hash(1)); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("SessionByRefreshHash(cookie hash): got %v, want ErrNotFound", err)
	}
	live, err := s.ActiveSessions(ctx, "id-alice", testNow)
	if err != nil || !slices.Contains(ids(live, sessionID), "c1") {
		t.Errorf("ActiveSessions = %v, %v; want c1 among them", live, err)
	}
	if err := s.RevokeSession(ctx, "c1", "id-alice", "logout", testNow); err != nil {
		t.Fatal(err)
	}
	got, err = s.SessionByCookieHash(ctx, hash(1))
	if err != nil || got.RevokedAt == nil {
		t.Errorf("SessionByCookieHash after logout = %+v, %v; want the revoked session", got, err)
	}
}
