// Package storetest is the conformance suite of gatehouse.Store: one set of
// tests that every backend (internal/sqlite, internal/postgres) runs, so
// that the server behaves the same whichever database it is given.
//
// A backend's test calls Run with a function that makes an empty database:
//
//	func TestStore(t *testing.T) { storetest.Run(t, newDB) }
//
// The suite uses only the store's exported methods. Where the contract
// leaves a choice to the store (the order of IDs that RevokeUserSessions
// returns), the suite does not depend on it.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/crypto/acme/autocert"

	"github.com/gatehouse/gatehouse"
)

// Store is what the suite needs of a backend: all of gatehouse.Store, the
// audit trail, the ACME cache, migrations and an injectable clock.
type Store interface {
	gatehouse.Store
	gatehouse.AuditStore
	ACMECache() autocert.Cache
	Migrate(ctx context.Context) (applied []string, err error)
	SetClock(gatehouse.Clock)
}

// Opener opens a new store on one database. The store is not migrated; the
// opener closes it when the test ends (t.Cleanup). Every store from one
// Opener shares the database, as instances of a server do.
type Opener func(t *testing.T) Store

// NewDB makes a new, empty database that lives until the test ends, and
// returns an Opener for it.
type NewDB func(t *testing.T) Opener

// Run runs the whole suite, each test on databases of its own.
func Run(t *testing.T, newDB NewDB) {
	tests := []struct {
		name string
		test func(*testing.T, NewDB)
	}{
		{"Migrate", Migrate},
		{"MigrateConcurrent", MigrateConcurrent},
		{"Users", Users},
		{"UserConflicts", UserConflicts},
		{"Roles", Roles},
		{"HostileStrings", HostileStrings},
		{"InvalidText", InvalidText},
		{"ConcurrentWriters", ConcurrentWriters},
		{"SigningKeys", SigningKeys},
		{"Sessions", Sessions},
		{"Rotation", Rotation},
		{"RotationConcurrent", RotationConcurrent},
		{"Revocation", Revocation},
		{"CookieSessions", CookieSessions},
		{"Admin", Admin},
		{"LastAdminConcurrent", LastAdminConcurrent},
		{"Notes", Notes},
		{"NotesConcurrent", NotesConcurrent},
		{"NotesSearch", NotesSearch},
		{"NotesPagination", NotesPagination},
		{"OrderKeys", OrderKeys},
		{"ACMECache", ACMECache},
		{"Audit", Audit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, newDB) })
	}
}

// testNow is the clock of the tests: a fixed time with a microsecond part,
// which every backend must keep.
var testNow = time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)

func fixedClock() time.Time { return testNow }

// migrated opens a store on a new database, migrates it and sets its clock
// to testNow.
func migrated(t *testing.T, newDB NewDB) Store {
	t.Helper()
	s := newDB(t)(t)
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	s.SetClock(fixedClock)
	return s
}

// migratedPair opens two stores (two instances) on one new, migrated
// database.
func migratedPair(t *testing.T, newDB NewDB) (Store, Store) {
	t.Helper()
	open := newDB(t)
	a := open(t)
	if _, err := a.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	b := open(t)
	a.SetClock(fixedClock)
	b.SetClock(fixedClock)
	return a, b
}

// newUser returns a valid user whose ID, username and email derive from name.
func newUser(name string, roles ...string) *gatehouse.User {
	return &gatehouse.User{ // #nosec G101 -- a test fixture, not a credential: salt "salt", key "hash"
		ID:           "id-" + name,
		Username:     name,
		Email:        name + "@example.com",
		Age:          30,
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		Roles:        roles,
	}
}

func mustCreateUser(t *testing.T, s Store, u *gatehouse.User) *gatehouse.User {
	t.Helper()
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%q): %v", u.Username, err)
	}
	return u
}

// isRefusal reports whether err refuses a malformed call: an error that is
// none of the ones the server answers specially.
func isRefusal(err error) bool {
	return err != nil && !errors.Is(err, gatehouse.ErrNotFound) && !errors.Is(err, gatehouse.ErrConflict) &&
		!errors.Is(err, gatehouse.ErrUnavailable)
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	return out
}

func noteID(n gatehouse.Note) string              { return n.ID }
func userID(u gatehouse.User) string              { return u.ID }
func sessionID(s gatehouse.Session) string        { return s.ID }
func revokedID(r gatehouse.RevokedSession) string { return r.ID }

// hash returns a 32-byte token hash made of b.
func hash(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// sealed stands for the successor token sealed with the KEK.
func sealed(h []byte) []byte { return append([]byte("sealed:"), h...) }

func ptr[T any](v T) *T { return &v }
