package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

var _ gatehouse.AuditStore = (*Store)(nil)

// cleanAuditEvent makes every text of e storable before it is sealed, as
// the SQLite store does: an audit event is not refused for bytes an
// attacker chose (a username that is not UTF-8), and the seal covers
// exactly what is stored. A nil Detail becomes an empty map, which is what
// reads back.
func cleanAuditEvent(e *gatehouse.AuditEvent) {
	e.Type, e.Actor, e.Subject = cleanUserAgent(e.Type), cleanUserAgent(e.Actor), cleanUserAgent(e.Subject)
	e.ClientIP, e.RequestID, e.Outcome = cleanUserAgent(e.ClientIP), cleanUserAgent(e.RequestID), cleanUserAgent(e.Outcome)
	d := make(map[string]string, len(e.Detail))
	for k, v := range e.Detail {
		d[cleanUserAgent(k)] = cleanUserAgent(v)
	}
	e.Detail = d
}

// AppendAudit inserts e at the end of the chain.
//
// Concurrency: the transaction takes the audit advisory lock before it
// reads the end of the chain, so appends run one at a time across
// instances; at READ COMMITTED the reads after the lock see every append
// committed before it was granted. The new seq is the last one + 1 (after
// a prune of everything, the anchor's), never a sequence value, so a
// rolled-back append leaves no gap.
func (s *Store) AppendAudit(ctx context.Context, e *gatehouse.AuditEvent, seal func(*gatehouse.AuditEvent) []byte) (err error) {
	defer s.done(&err)
	cleanAuditEvent(e)
	detail, err := json.Marshal(e.Detail)
	if err != nil {
		return err
	}
	e.Time = ts(e.Time)
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := lockXact(ctx, tx, s.locks.audit); err != nil {
			return err
		}
		var last int64
		var prev []byte
		err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`).Scan(&last, &prev)
		if errors.Is(err, sql.ErrNoRows) {
			// Empty: chain from the anchor, if anything was pruned.
			last, prev = 0, nil
			err = tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_anchor WHERE id = 1`).Scan(&last, &prev)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("select audit anchor: %w", err)
			}
		} else if err != nil {
			return fmt.Errorf("select last audit event: %w", err)
		}
		e.Seq, e.PrevHash = last+1, prev
		e.Hash = seal(e)
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_events
			(seq, at, type, actor, subject, client_ip, request_id, outcome, detail, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			e.Seq, e.Time, e.Type, e.Actor, e.Subject, e.ClientIP, e.RequestID, e.Outcome, string(detail), e.PrevHash, e.Hash); err != nil {
			return fmt.Errorf("insert audit event: %w", err)
		}
		return nil
	})
}

const auditColumns = `seq, at, type, actor, subject, client_ip, request_id, outcome, detail, prev_hash, hash`

func scanAudit(row scanner) (*gatehouse.AuditEvent, error) {
	var e gatehouse.AuditEvent
	var detail string
	if err := row.Scan(&e.Seq, &e.Time, &e.Type, &e.Actor, &e.Subject, &e.ClientIP, &e.RequestID, &e.Outcome, &detail, &e.PrevHash, &e.Hash); err != nil {
		return nil, fmt.Errorf("scan audit event: %w", err)
	}
	e.Time = utc(e.Time)
	if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
		// A row whose detail no longer parses was tampered with; keep
		// the raw text so verification reports the broken link.
		e.Detail = map[string]string{"_raw": detail}
	}
	return &e, nil
}

// AuditEvents returns events matching f in Seq order; a Limit of 0 or less
// returns them all.
func (s *Store) AuditEvents(ctx context.Context, f gatehouse.AuditFilter) (out []gatehouse.AuditEvent, err error) {
	defer s.done(&err)
	if !validText(f.Type) || !validText(f.UserID) {
		// No such text was ever written.
		return nil, nil
	}
	args := []any{f.AfterSeq}
	where := []string{"seq > $1"}
	add := func(clause string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(clause, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.Type != "" {
		add("type = ?", f.Type)
	}
	if f.UserID != "" {
		add("(actor = ? OR subject = ?)", f.UserID)
	}
	if !f.Since.IsZero() {
		add("at >= ?", clampTS(f.Since))
	}
	if !f.Until.IsZero() {
		add("at < ?", clampTS(f.Until))
	}
	var limit any // NULL: no limit
	if f.Limit > 0 {
		limit = int64(f.Limit)
	}
	args = append(args, limit)
	// Only the constant clauses above, with placeholders, are joined; no
	// input reaches the SQL text.
	q := `SELECT ` + auditColumns + ` FROM audit_events WHERE ` + strings.Join(where, " AND ") + // #nosec G202 -- constant clauses with placeholders only
		` ORDER BY seq LIMIT $` + strconv.Itoa(len(args))
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("select audit events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select audit events: %w", err)
	}
	return out, nil
}

// WalkAudit calls fn for every event in order. It reads in one REPEATABLE
// READ, read-only transaction, so that the anchor and every event come
// from one snapshot: a prune or an append that commits meanwhile is not
// half seen.
func (s *Store) WalkAudit(ctx context.Context, fn func(anchor []byte, e *gatehouse.AuditEvent) error) (err error) {
	defer s.done(&err)
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	var anchor []byte
	if err := tx.QueryRowContext(ctx, `SELECT hash FROM audit_anchor WHERE id = 1`).Scan(&anchor); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("select audit anchor: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_events ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("select audit events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return err
		}
		if err := fn(anchor, e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("select audit events: %w", err)
	}
	return nil
}

// PruneAudit deletes events older than before; the hash (and seq) of the
// newest deleted event becomes the anchor the remaining chain starts from.
// Only a prefix of the chain is deleted: every event up to the newest one
// older than before. It takes the audit lock, so an append never chains
// from an event that a prune is deleting.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (n int, err error) {
	defer s.done(&err)
	err = s.tx(ctx, func(tx *sql.Tx) error {
		n = 0
		if err := lockXact(ctx, tx, s.locks.audit); err != nil {
			return err
		}
		var lastSeq int64
		var lastHash []byte
		err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_events WHERE at < $1 ORDER BY seq DESC LIMIT 1`,
			clampTS(before)).Scan(&lastSeq, &lastHash)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("select audit events to prune: %w", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM audit_events WHERE seq <= $1`, lastSeq)
		if err != nil {
			return fmt.Errorf("prune audit events: %w", err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_anchor (id, hash, seq) VALUES (1, $1, $2)
			ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, seq = excluded.seq`, lastHash, lastSeq); err != nil {
			return fmt.Errorf("update audit anchor: %w", err)
		}
		n = int(k)
		return nil
	})
	return n, err
}
