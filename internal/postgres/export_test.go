package postgres

import "database/sql"

// DB exposes the pool to the tests of package postgres_test.
func (s *Store) DB() *sql.DB { return s.db }
