package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/sqlite"
)

// errPostgresBackup answers backup and restore for a PostgreSQL store.
var errPostgresBackup = usageError{"--database-url: backup and restore handle the SQLite store only; back up PostgreSQL with pg_dump --format=custom and restore with pg_restore (docs/OPERATIONS.md), and keep the key-encryption key with the deployment, apart from the dump"}

// runBackup is `gatehouse backup --out FILE`: a consistent copy of the
// SQLite database taken while servers keep running (see
// internal/sqlite/backup.go). The key-encryption key is deliberately not
// in it.
func runBackup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var sf storeFlags
	flags := newFlagSet("backup", "backup --out FILE [flags]", stderr)
	sf.register(flags)
	out := flags.String("out", "", "file to write the backup to; must not exist (written with mode 0600)")
	if err := parseFlags(flags, args, getenv); err != nil {
		return err
	}
	if *out == "" {
		return usageError{"--out is required: the file to write the backup to"}
	}
	if isPostgresURL(sf.databaseURL) {
		return errPostgresBackup
	}
	path, err := sf.sqlitePath()
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); err != nil {
		return usageError{fmt.Sprintf("no database at %s: check --data-dir or --database-url", path)}
	}
	if _, err := os.Lstat(*out); err == nil {
		return usageError{fmt.Sprintf("--out %s exists: choose a new file name (backups are never overwritten)", *out)}
	}
	store, err := sqlite.Open(path)
	if err != nil {
		return err
	}
	defer store.Close()
	info, err := store.Backup(ctx, *out)
	if errors.Is(err, fs.ErrExist) {
		return usageError{fmt.Sprintf("--out %s exists: choose a new file name (backups are never overwritten)", *out)}
	} else if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup of %s written to %s\n", path, info.Path)
	fmt.Fprintf(stdout, "  %d bytes, sha256 %s\n", info.Size, info.SHA256)
	fmt.Fprintf(stdout, "  migration version %d, %d users, integrity check ok\n", info.Version, info.Users)
	fmt.Fprintln(stdout, "The signing keys in it are sealed with the key-encryption key, which is not in the backup: keep that key apart from the backups, and at hand for a restore.")
	if sf.secretKeyFile == "" && getenv("GATEHOUSE_SECRET_KEY") == "" {
		dev := filepath.Join(sf.dataDir, keys.DevKEKFile)
		if _, err := os.Stat(dev); err == nil {
			fmt.Fprintf(stdout, "This store uses the development key-encryption key %s: a restore on another machine needs that file too.\n", dev)
		}
	}
	return nil
}

// runRestore is `gatehouse restore --from FILE`: it replaces the SQLite
// database of a stopped deployment with a backup, after checking that no
// process has the database open, that the backup is a healthy gatehouse
// database at a migration this binary knows, and that the configured
// key-encryption key opens its signing keys. The replaced file is kept.
func runRestore(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var sf storeFlags
	flags := newFlagSet("restore", "restore --from FILE [flags]", stderr)
	sf.register(flags)
	from := flags.String("from", "", "backup file made by `gatehouse backup` to restore")
	if err := parseFlags(flags, args, getenv); err != nil {
		return err
	}
	if *from == "" {
		return usageError{"--from is required: the backup file to restore"}
	}
	if isPostgresURL(sf.databaseURL) {
		return errPostgresBackup
	}
	path, err := sf.sqlitePath()
	if err != nil {
		return err
	}
	if _, err := os.Stat(*from); err != nil {
		return usageError{fmt.Sprintf("--from: %v", err)}
	}
	kek, err := sf.existingKEK(getenv)
	if err != nil {
		return err
	}
	// A database whose signing keys the servers cannot open is a server
	// that refuses to start: find out now, while the old file is in place.
	checkKeys := func(ctx context.Context, st *sqlite.Store) error {
		list, err := st.SigningKeys(ctx)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			return nil
		}
		if kek == nil {
			return usageError{fmt.Sprintf("--secret-key-file: the backup holds %d sealed signing keys and no key-encryption key is configured to check them with: give --secret-key-file or GATEHOUSE_SECRET_KEY (the key in use when the backup was made), or put the development key at %s", len(list), filepath.Join(sf.dataDir, keys.DevKEKFile))}
		}
		// Servers open the private half of the active key (the newest
		// already activated) and, when their time comes, of pending ones;
		// older keys are only published, so after a change of KEK they may
		// still be sealed with the previous one.
		now := time.Now()
		for i, k := range list { // newest first
			if !k.ActivatedAt.After(now) && i > 0 && !list[i-1].ActivatedAt.After(now) {
				break
			}
			if _, err := kek.Open(k.ID, k.PrivateKeyEnc); err != nil {
				return usageError{fmt.Sprintf("--secret-key-file: the configured key-encryption key (%s) does not open signing key %s in the backup: restore with the key that was in use when the backup was made", kekName(kek), k.ID)}
			}
		}
		return nil
	}
	res, err := sqlite.Restore(ctx, *from, path, time.Now(), checkKeys)
	switch {
	case errors.Is(err, sqlite.ErrInUse):
		return fmt.Errorf("not restoring: %w", err)
	case errors.Is(err, sqlite.ErrNotGatehouse), errors.Is(err, sqlite.ErrNewerVersion):
		return usageError{"--from: " + err.Error()}
	case err != nil:
		return err
	}
	fmt.Fprintf(stdout, "restored %s into %s\n", *from, res.Path)
	fmt.Fprintf(stdout, "  migration version %d, %d users, integrity check ok\n", res.Version, res.Users)
	if res.Replaced != "" {
		fmt.Fprintf(stdout, "  the previous database is kept as %s\n", res.Replaced)
	}
	if latest := sqlite.LatestVersion(); res.Version < latest {
		fmt.Fprintf(stdout, "The backup is at migration %d; servers apply migrations up to %d when they start (or run `gatehouse migrate`).\n", res.Version, latest)
	}
	fmt.Fprintln(stdout, "Sessions are as they were at the backup: sessions ended since then are live again; end them again where that matters (docs/OPERATIONS.md, \"Restore\").")
	return nil
}

// existingKEK loads the configured key-encryption key without ever
// generating one: nil when none is configured and no development key
// exists in the data directory.
func (sf *storeFlags) existingKEK(getenv func(string) string) (*keys.KEK, error) {
	env := getenv("GATEHOUSE_SECRET_KEY")
	if sf.secretKeyFile == "" && env == "" {
		if _, err := os.Stat(filepath.Join(sf.dataDir, keys.DevKEKFile)); err != nil {
			return nil, nil
		}
	}
	kek, _, err := keys.LoadKEK(sf.secretKeyFile, env, sf.dataDir)
	return kek, err
}

func kekName(k *keys.KEK) string {
	switch k.Source {
	case "file":
		return "--secret-key-file " + k.Path
	case "env":
		return "GATEHOUSE_SECRET_KEY"
	}
	return "development key " + k.Path
}
