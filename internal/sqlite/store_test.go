package sqlite_test

import (
	"path/filepath"
	"testing"

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
