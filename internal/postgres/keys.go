package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse"
)

// CreateSigningKey stores a new signing key.
func (s *Store) CreateSigningKey(ctx context.Context, k *gatehouse.SigningKey) (err error) {
	defer s.done(&err)
	if err := checkText("id", k.ID, "algorithm", k.Algorithm); err != nil {
		return fmt.Errorf("create signing key: %w", err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO signing_keys
		(id, algorithm, public_key, private_key_enc, created_at, activated_at, retired_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		k.ID, k.Algorithm, k.PublicKey, k.PrivateKeyEnc, ts(k.CreatedAt), ts(k.ActivatedAt), nullTS(k.RetiredAt))
	if err != nil {
		return fmt.Errorf("insert signing key: %w", err)
	}
	return nil
}

// SigningKeys lists the keys that are not retired, newest activation first.
func (s *Store) SigningKeys(ctx context.Context) (keys []gatehouse.SigningKey, err error) {
	defer s.done(&err)
	rows, err := s.db.QueryContext(ctx, `SELECT id, algorithm, public_key, private_key_enc, created_at, activated_at, retired_at
		FROM signing_keys WHERE retired_at IS NULL ORDER BY activated_at DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("select signing keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k gatehouse.SigningKey
		var retired sql.NullTime
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.PublicKey, &k.PrivateKeyEnc, &k.CreatedAt, &k.ActivatedAt, &retired); err != nil {
			return nil, err
		}
		k.CreatedAt, k.ActivatedAt, k.RetiredAt = utc(k.CreatedAt), utc(k.ActivatedAt), nullUTC(retired)
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// RetireSigningKey stops publishing a key. Retiring twice keeps the first time.
func (s *Store) RetireSigningKey(ctx context.Context, id string, at time.Time) (err error) {
	defer s.done(&err)
	if !validText(id) {
		return nil // no such key, as for any unknown ID
	}
	_, err = s.db.ExecContext(ctx, `UPDATE signing_keys SET retired_at = $1 WHERE id = $2 AND retired_at IS NULL`, ts(at), id)
	if err != nil {
		return fmt.Errorf("retire signing key: %w", err)
	}
	return nil
}
