package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/sqlite"
	"github.com/gatehouse/gatehouse/internal/storetest"
)

// newDB makes a database file in a new temporary directory; every store
// opened on it shares the file, as processes on one machine do.
func newDB(t *testing.T) storetest.Opener {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	return func(t *testing.T) storetest.Store {
		t.Helper()
		s, err := sqlite.Open(path)
		if err != nil {
			t.Fatalf("Open(%q): %v", path, err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

// TestStore runs the store suite shared with the PostgreSQL store.
func TestStore(t *testing.T) { storetest.Run(t, newDB) }

func TestOpenError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing-dir", "gatehouse.db")
	s, err := sqlite.Open(path)
	if err == nil {
		s.Close()
		t.Fatalf("Open(%q): got nil error, want one", path)
	}
}

// newUser returns a valid user whose ID, username and email derive from
// name (for the tests of this package beyond the shared suite).
func newUser(name string, roles ...string) *gatehouse.User {
	return &gatehouse.User{
		ID:           "id-" + name,
		Username:     name,
		Email:        name + "@example.com",
		Age:          30,
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		Roles:        roles,
	}
}

func mustCreateUser(t *testing.T, s gatehouse.UserStore, u *gatehouse.User) {
	t.Helper()
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%q): %v", u.Username, err)
	}
}
