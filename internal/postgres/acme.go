package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"golang.org/x/crypto/acme/autocert"
)

// ACMECache returns the store's table of ACME state (account key,
// certificates, challenge answers) as an autocert.Cache, so that every
// instance that shares the database shares one ACME account and one
// certificate per name, and can answer a challenge another instance
// started, instead of each hitting the CA's rate limits.
//
// Values are stored as given. They hold private keys: wrap the cache with
// transport.SealedCache so that they are encrypted before they get here.
// Errors from an unreachable database wrap gatehouse.ErrUnavailable.
func (s *Store) ACMECache() autocert.Cache { return acmeCache{s} }

type acmeCache struct{ s *Store }

// maxACMEName bounds cache keys; autocert's are domain names (at most 253
// characters) with a short suffix such as "+rsa" or "+http-01".
const maxACMEName = 255

func checkACMEName(name string) error {
	if name == "" || len(name) > maxACMEName {
		return fmt.Errorf("acme cache: key of %d bytes: must be 1 to %d", len(name), maxACMEName)
	}
	for i := 0; i < len(name); i++ {
		// autocert.Cache keys are printable ASCII.
		if c := name[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("acme cache: key %q is not printable ASCII", name)
		}
	}
	return nil
}

// Get returns the value stored under name, or autocert.ErrCacheMiss itself
// (not wrapped: autocert compares with ==).
func (c acmeCache) Get(ctx context.Context, name string) (data []byte, err error) {
	defer c.s.done(&err)
	if err := checkACMEName(name); err != nil {
		return nil, err
	}
	err = c.s.db.QueryRowContext(ctx, `SELECT data FROM acme_cache WHERE name = $1`, name).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, autocert.ErrCacheMiss
	}
	if err != nil {
		return nil, fmt.Errorf("select acme cache entry: %w", err)
	}
	return data, nil
}

// Put stores data under name, replacing any earlier value. Concurrent puts
// from several instances do not fail: the upsert is one statement, and the
// last one wins.
func (c acmeCache) Put(ctx context.Context, name string, data []byte) (err error) {
	defer c.s.done(&err)
	if err := checkACMEName(name); err != nil {
		return err
	}
	if data == nil {
		data = []byte{} // NOT NULL: an empty value is still a value
	}
	_, err = c.s.db.ExecContext(ctx, `INSERT INTO acme_cache (name, data, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`,
		name, data, ts(c.s.now()))
	if err != nil {
		return fmt.Errorf("upsert acme cache entry: %w", err)
	}
	return nil
}

// Delete removes name; deleting a missing name is not an error.
func (c acmeCache) Delete(ctx context.Context, name string) (err error) {
	defer c.s.done(&err)
	if err := checkACMEName(name); err != nil {
		return err
	}
	if _, err := c.s.db.ExecContext(ctx, `DELETE FROM acme_cache WHERE name = $1`, name); err != nil {
		return fmt.Errorf("delete acme cache entry: %w", err)
	}
	return nil
}
