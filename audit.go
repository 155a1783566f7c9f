package gatehouse

import (
	"context"
	"time"
)

// AuditEvent is one security event in the audit trail. Events are
// append-only and chained: Hash covers PrevHash and every other field, so
// changing, removing or reordering any row breaks the chain.
type AuditEvent struct {
	Seq       int64 // assigned by the store, increasing
	Time      time.Time
	Type      string // e.g. login_success, refresh_token_reuse
	Actor     string // user ID of who acted ("" for anonymous)
	Subject   string // user ID (or session ID) acted upon
	ClientIP  string
	RequestID string
	Outcome   string            // success, failure, denied
	Detail    map[string]string // extra facts; never a secret
	PrevHash  []byte
	Hash      []byte
}

// AuditFilter selects events for the admin API.
type AuditFilter struct {
	Type     string
	UserID   string // matches Actor or Subject
	Since    time.Time
	Until    time.Time
	AfterSeq int64
	Limit    int
}

// AuditStore keeps the audit trail.
type AuditStore interface {
	// AppendAudit assigns e.Seq and e.PrevHash, then asks seal for e.Hash,
	// all in one transaction so the chain has no forks.
	AppendAudit(ctx context.Context, e *AuditEvent, seal func(*AuditEvent) []byte) error
	AuditEvents(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
	// WalkAudit calls fn for every event in Seq order, after reporting the
	// anchor: the hash the first remaining event must chain from (nil when
	// nothing was ever pruned).
	WalkAudit(ctx context.Context, fn func(anchor []byte, e *AuditEvent) error) error
	// PruneAudit deletes events older than before, keeping the chain
	// verifiable by recording the hash of the last deleted event as anchor.
	PruneAudit(ctx context.Context, before time.Time) (int, error)
}
