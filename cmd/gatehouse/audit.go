package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/audit"
)

// runAudit is `gatehouse audit verify|export`.
func runAudit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "export") {
		fmt.Fprintln(stderr, "Usage: gatehouse audit verify|export [flags]")
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			return nil
		}
		return usageError{"audit needs a subcommand: verify or export"}
	}
	sub := args[0]
	var sf storeFlags
	var since string
	fs := newFlagSet("audit "+sub, "audit "+sub+" [flags]", stderr)
	sf.register(fs)
	if sub == "export" {
		fs.StringVar(&since, "since", "", "export only events at or after this RFC 3339 time")
	}
	if err := parseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	var sinceT time.Time
	if since != "" {
		t, err := time.Parse(time.RFC3339, since)
		if err != nil {
			return usageError{"--since must be an RFC 3339 time such as 2026-01-02T15:04:05Z"}
		}
		sinceT = t
	}
	store, err := sf.openMigrated(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	switch sub {
	case "verify":
		kek, err := sf.loadKEK(getenv, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError})))
		if err != nil {
			return err
		}
		l, err := audit.New(store, kek.Derive(audit.KeyLabel), nil)
		if err != nil {
			return err
		}
		res, err := l.Verify(ctx)
		if err != nil {
			return err
		}
		if res.BrokenAt != 0 {
			fmt.Fprintf(stdout, "audit chain BROKEN at event %d: %s (%d events read)\n", res.BrokenAt, res.Reason, res.Events)
			return fmt.Errorf("audit chain broken at event %d", res.BrokenAt)
		}
		fmt.Fprintf(stdout, "audit chain intact: %d events\n", res.Events)
		return nil
	default:
		enc := json.NewEncoder(stdout)
		return store.WalkAudit(ctx, func(_ []byte, e *gatehouse.AuditEvent) error {
			if !sinceT.IsZero() && e.Time.Before(sinceT) {
				return nil
			}
			return enc.Encode(map[string]any{"seq": e.Seq, "time": e.Time, "type": e.Type, "actor": e.Actor, "subject": e.Subject,
				"client_ip": e.ClientIP, "request_id": e.RequestID, "outcome": e.Outcome, "detail": e.Detail,
				"hash": fmt.Sprintf("%x", e.Hash)})
		})
	}
}

// pruneAudit deletes audit events past the retention period once a day.
func pruneAudit(ctx context.Context, store gatehouse.AuditStore, kek interface{ Derive(string) []byte }, retention time.Duration, log *slog.Logger) {
	l, err := audit.New(store, kek.Derive(audit.KeyLabel), nil)
	if err != nil {
		log.Error("audit pruning disabled", "error", err.Error())
		return
	}
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := l.Prune(ctx, retention); err != nil {
				log.Error("prune audit trail", "error", err.Error())
			} else if n > 0 {
				log.Info("pruned audit events past retention", "events", n)
			}
			t.Reset(24 * time.Hour)
		}
	}
}
