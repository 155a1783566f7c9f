package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/keys"
)

func runKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "rotate" && args[0] != "list") {
		fmt.Fprintln(stderr, "Usage: gatehouse keys rotate|list [flags]")
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			return nil
		}
		return usageError{"keys needs a subcommand: rotate or list"}
	}
	sub := args[0]
	var sf storeFlags
	var activateIn time.Duration
	fs := newFlagSet("keys "+sub, "keys "+sub+" [flags]", stderr)
	sf.register(fs)
	if sub == "rotate" {
		fs.DurationVar(&activateIn, "activate-in", 0, "publish the new key now but sign with it only after this delay (0 to 24h), so services that cached the JWKS learn it first; e.g. 10m in production")
	}
	if err := parseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := sf.openMigrated(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	switch sub {
	case "rotate":
		kek, err := sf.loadKEK(getenv, log)
		if err != nil {
			return err
		}
		if activateIn < 0 || activateIn > 24*time.Hour {
			return usageError{"--activate-in must be between 0 and 24h"}
		}
		ring := keys.NewRing(store, kek, nil)
		at := time.Time{}
		if activateIn > 0 {
			at = time.Now().Add(activateIn)
		}
		k, err := ring.Rotate(ctx, at)
		if err != nil {
			return err
		}
		// Key rotation is a security event: record it in the audit trail.
		trail, err := audit.New(store, kek.Derive(audit.KeyLabel), nil)
		if err != nil {
			return err
		}
		if err := trail.Append(ctx, &gatehouse.AuditEvent{Type: "key_rotated", Actor: "cli", Subject: k.ID, Outcome: "success",
			Detail: map[string]string{"activates_at": k.ActivatedAt.Format(time.RFC3339)}}); err != nil {
			return fmt.Errorf("record the rotation in the audit trail: %w", err)
		}
		fmt.Fprintf(stdout, "created signing key %s, active from %s\n", k.ID, k.ActivatedAt.Format(time.RFC3339))
		fmt.Fprintln(stdout, "running servers pick it up at their next key reload; earlier keys stay published until their tokens expire")
		return nil
	default:
		list, err := store.SigningKeys(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tACTIVATED")
		activeSeen := false
		now := time.Now()
		for _, k := range list {
			state := "published"
			if !k.ActivatedAt.After(now) && !activeSeen {
				state, activeSeen = "active", true
			} else if k.ActivatedAt.After(now) {
				state = "pending"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, state, k.CreatedAt.Format(time.RFC3339), k.ActivatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	}
}
