package sqlite

import (
	"context"
	"database/sql"
)

// Prepared statements for the hot reads.
//
// A query on a *sql.DB makes the driver prepare the statement, run it and
// finalize it: SQLite parses and plans the SQL text on every call. On the
// reads that every authenticated request makes (the caller's account and
// roles, a note) that was most of the store's cost: a third of the CPU time
// of GET /v1/users/me went to sqlite3Prepare (docs/PERFORMANCE.md). A
// *sql.Stmt is prepared once per pooled connection and then only reset and
// rebound, which skips the parser and the planner.
//
// The cache is keyed by the query text, so only constant texts (or texts
// concatenated from constants) may go through it: a text built from input
// would grow it without bound, besides being SQL built from input. The
// statements use bound parameters like every other query of the store.

// prepared is s.db with its statements prepared once and kept. It serves
// the querier and noteQuerier interfaces.
type prepared struct{ s *Store }

// stmt returns the kept statement for query, preparing it on first use.
func (s *Store) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(query, st); loaded {
		_ = st.Close() // another goroutine prepared it first
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// closeStmts closes the kept statements (before the database).
func (s *Store) closeStmts() {
	s.stmts.Range(func(k, v any) bool {
		_ = v.(*sql.Stmt).Close()
		s.stmts.Delete(k)
		return true
	})
}

func (p prepared) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := p.s.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (p prepared) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := p.s.stmt(ctx, query)
	if err != nil {
		// The unprepared query fails the same way, and *sql.Row can only
		// carry an error that database/sql made.
		return p.s.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}
