package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse"
)

// CreateSigningKey stores a new signing key.
func (s *Store) CreateSigningKey(ctx context.Context, k *gatehouse.SigningKey) error {
	if err := checkText("id", k.ID, "algorithm", k.Algorithm); err != nil {
		return fmt.Errorf("create signing key: %w", err)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO signing_keys
		(id, algorithm, public_key, private_key_enc, created_at, activated_at, retired_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Algorithm, k.PublicKey, k.PrivateKeyEnc, micros(k.CreatedAt), micros(k.ActivatedAt), nullMicros(k.RetiredAt))
	if err != nil {
		return fmt.Errorf("insert signing key: %w", err)
	}
	return nil
}

// SigningKeys lists the keys that are not retired, newest activation first.
func (s *Store) SigningKeys(ctx context.Context) ([]gatehouse.SigningKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, algorithm, public_key, private_key_enc, created_at, activated_at, retired_at
		FROM signing_keys WHERE retired_at IS NULL ORDER BY activated_at DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("select signing keys: %w", err)
	}
	defer rows.Close()
	var keys []gatehouse.SigningKey
	for rows.Next() {
		var k gatehouse.SigningKey
		var created, activated int64
		var retired sql.NullInt64
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.PublicKey, &k.PrivateKeyEnc, &created, &activated, &retired); err != nil {
			return nil, err
		}
		k.CreatedAt, k.ActivatedAt, k.RetiredAt = fromMicros(created), fromMicros(activated), fromNullMicros(retired)
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// RetireSigningKey stops publishing a key. Retiring twice keeps the first time.
func (s *Store) RetireSigningKey(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE signing_keys SET retired_at = ? WHERE id = ? AND retired_at IS NULL`, micros(at), id)
	if err != nil {
		return fmt.Errorf("retire signing key: %w", err)
	}
	return nil
}
