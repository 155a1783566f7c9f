package postgres_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/postgres"
	"github.com/gatehouse/gatehouse/internal/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/storetest"
)

// newDB makes a schema of its own on the server of GATEHOUSE_TEST_POSTGRES_URL
// (skipping when it is not set, failing when it does not answer); every
// store opened on it shares the schema, as instances of a server do.
func newDB(t *testing.T) storetest.Opener {
	url := pgtest.NewSchema(t)
	return func(t *testing.T) storetest.Store {
		t.Helper()
		s, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

// TestStore runs the store suite shared with the SQLite store.
func TestStore(t *testing.T) {
	pgtest.URL(t) // skip (or fail) once, not in every test of the suite
	storetest.Run(t, newDB)
}
