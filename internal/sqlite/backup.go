package sqlite

// Online backups and guarded restores of the SQLite store.
//
// A backup is taken with VACUUM INTO, which reads the whole database inside
// one read transaction: in WAL mode that is a consistent snapshot that never
// blocks the writers of running servers (they keep appending to the WAL while
// the copy is made), and every transaction committed before the backup
// started is in it. The copy is a self-contained file in rollback-journal
// mode (no -wal or -shm beside it), written under a temporary name with mode
// 0600, checked with PRAGMA integrity_check, synced, then renamed into place,
// so a half-written backup never carries the final name.
//
// A restore replaces the database file of a stopped deployment. It refuses
// while any process has the database open, when a -wal file is left from a
// crash (its transactions would be lost), and when the backup is not a
// gatehouse database at a migration version this binary knows; it keeps the
// replaced file as NAME.bak-TIMESTAMP and swaps the checked copy in with one
// atomic rename.

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var (
	// ErrInUse means a process has the database open (or left a -wal
	// file behind): a restore would pull the file from under it.
	ErrInUse = errors.New("the database is in use")
	// ErrNotGatehouse means a file is not a healthy gatehouse database.
	ErrNotGatehouse = errors.New("not a gatehouse database")
	// ErrNewerVersion means a database was migrated by a newer gatehouse
	// than this binary.
	ErrNewerVersion = errors.New("database is from a newer gatehouse version")
)

// FileInfo describes a database file: a backup or a restored database.
type FileInfo struct {
	Path    string
	Size    int64
	SHA256  string // hex
	Version int64  // the latest applied migration
	Users   int64
}

// LatestVersion is the newest migration version embedded in this binary.
func LatestVersion() int64 {
	ents, _ := fs.ReadDir(migrations, "migrations")
	var v int64
	for _, e := range ents {
		prefix, _, _ := strings.Cut(e.Name(), "_")
		if n, err := strconv.ParseInt(prefix, 10, 64); err == nil && n > v {
			v = n
		}
	}
	return v
}

// Backup writes a consistent copy of the database to dest, which must not
// exist, while the store stays in use. The copy is checked before it gets
// its final name.
func (s *Store) Backup(ctx context.Context, dest string) (*FileInfo, error) {
	if _, err := os.Lstat(dest); err == nil {
		return nil, fmt.Errorf("backup to %s: %w", dest, fs.ErrExist)
	}
	// CreateTemp makes the file with mode 0600 (the backup holds password
	// hashes and sealed keys); VACUUM INTO accepts an empty existing file
	// and keeps its permissions.
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	tmpName := tmp.Name()
	_ = tmp.Close()
	defer os.Remove(tmpName) // a no-op once renamed
	// One statement, one read transaction: the snapshot. Writers are not
	// blocked in WAL mode; a checkpoint cannot pass the snapshot's read
	// mark, so the pages it reads stay valid until it ends.
	if _, err := s.db.ExecContext(ctx, "VACUUM INTO ?", tmpName); err != nil {
		return nil, fmt.Errorf("backup: vacuum into: %w", err)
	}
	info, err := inspect(ctx, tmpName)
	if err != nil {
		return nil, fmt.Errorf("backup: the copy does not check: %w", err)
	}
	// SQLite does not sync what VACUUM INTO writes.
	if err := syncFile(tmpName); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	// Link, not rename: link fails when dest appeared meanwhile, so an
	// existing file is never replaced.
	if err := os.Link(tmpName, dest); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("backup to %s: %w", dest, fs.ErrExist)
		}
		if err := os.Rename(tmpName, dest); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
	}
	if err := syncDir(filepath.Dir(dest)); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	info.Path = dest
	return info, nil
}

// Inspect checks that the file at path is a healthy gatehouse database and
// describes it. It opens the file read-only.
func Inspect(ctx context.Context, path string) (*FileInfo, error) {
	return inspect(ctx, path)
}

// inspect runs the checks: SQLite's integrity and foreign-key checks, the
// gatehouse tables, and a migration version this binary knows.
func inspect(ctx context.Context, path string) (*FileInfo, error) {
	f, err := os.Open(path) // #nosec G304 -- the database or backup file the operator named
	if err != nil {
		return nil, err
	}
	defer f.Close()
	header := make([]byte, 16)
	if _, err := io.ReadFull(f, header); err != nil || string(header) != "SQLite format 3\x00" {
		return nil, fmt.Errorf("%s is not an SQLite database: %w", path, ErrNotGatehouse)
	}
	h := sha256.New()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	size, err := io.Copy(h, f)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return nil, fmt.Errorf("%s: integrity check: %v: %w", path, err, ErrNotGatehouse)
	}
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			_ = rows.Close()
			return nil, err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	_ = rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: integrity check: %v: %w", path, err, ErrNotGatehouse)
	}
	if len(problems) > 0 {
		if len(problems) > 3 {
			problems = append(problems[:3], "...")
		}
		return nil, fmt.Errorf("%s fails the integrity check (%s): %w", path, strings.Join(problems, "; "), ErrNotGatehouse)
	}
	var fkProblem string
	err = db.QueryRowContext(ctx, "SELECT \"table\" FROM pragma_foreign_key_check LIMIT 1").Scan(&fkProblem)
	if err == nil {
		return nil, fmt.Errorf("%s: rows of %s break foreign keys: %w", path, fkProblem, ErrNotGatehouse)
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%s: foreign key check: %v: %w", path, err, ErrNotGatehouse)
	}
	for _, table := range []string{"goose_db_version", "users", "signing_keys", "sessions"} {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", table).Scan(&n); err != nil {
			return nil, fmt.Errorf("%s: %v: %w", path, err, ErrNotGatehouse)
		}
		if n != 1 {
			return nil, fmt.Errorf("%s has no %s table: %w", path, table, ErrNotGatehouse)
		}
	}
	info := &FileInfo{Path: path, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}
	if err := db.QueryRowContext(ctx, "SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version WHERE is_applied").Scan(&info.Version); err != nil {
		return nil, fmt.Errorf("%s: migration version: %v: %w", path, err, ErrNotGatehouse)
	}
	if info.Version == 0 {
		return nil, fmt.Errorf("%s has no applied migrations: %w", path, ErrNotGatehouse)
	}
	if latest := LatestVersion(); info.Version > latest {
		return nil, fmt.Errorf("%s is at migration %d, this binary knows up to %d: %w", path, info.Version, latest, ErrNewerVersion)
	}
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&info.Users); err != nil {
		return nil, fmt.Errorf("%s: %v: %w", path, err, ErrNotGatehouse)
	}
	return info, nil
}

// RestoreResult says what a restore did.
type RestoreResult struct {
	FileInfo        // the restored database, at its final path
	Replaced string // where the previous database was kept, or "" when there was none
}

// Restore replaces the database at dest with a copy of the backup at from.
// check, when not nil, is given the staged copy, opened as a Store, before
// anything is replaced (the caller checks, say, that its key-encryption key
// opens the signing keys); an error from it stops the restore. now names the
// kept file: dest.bak-YYYYMMDDTHHMMSSZ.
//
// Safety: every process must have closed the database. Restore takes an
// exclusive lock that SQLite itself respects (see lockForRestore) and fails
// with ErrInUse when it cannot, and refuses when dest-wal exists, since
// that log holds transactions not yet in the file. The backup must pass
// Inspect. Nothing is changed until every check has passed; dest is then
// swapped with one atomic rename, after the previous file has been linked
// to its .bak name, so at no moment is there no database at dest.
func Restore(ctx context.Context, from, dest string, now time.Time, check func(context.Context, *Store) error) (*RestoreResult, error) {
	if fi, err := os.Stat(from); err != nil {
		return nil, err
	} else if di, err := os.Stat(dest); err == nil && os.SameFile(fi, di) {
		return nil, fmt.Errorf("%s is the database itself", from)
	}
	if _, err := Inspect(ctx, from); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		return nil, err
	}
	unlock, err := lockForRestore(dest)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// An empty log holds nothing (read-only openers leave one behind);
	// any other log may hold committed transactions that are not yet in
	// the file, and the .bak would lose them.
	if st, err := os.Stat(dest + "-wal"); err == nil && st.Size() == 0 {
		_ = os.Remove(dest + "-wal")
	} else if err == nil {
		return nil, fmt.Errorf("%s-wal exists (%d bytes): a process has the database open, or one ended without closing it and the log holds transactions not yet in the file; stop every gatehouse on this store, then run `gatehouse migrate` once to fold the log in: %w", dest, st.Size(), ErrInUse)
	}

	// Stage a copy beside dest (same file system: the rename is atomic).
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".restore-*.tmp")
	if err != nil {
		return nil, err
	}
	tmpName := tmp.Name()
	defer func() {
		_ = os.Remove(tmpName)
		_ = os.Remove(tmpName + "-wal")
		_ = os.Remove(tmpName + "-shm")
	}()
	src, err := os.Open(from) // #nosec G304 -- the backup file the operator named (restore --from)
	if err != nil {
		_ = tmp.Close()
		return nil, err
	}
	_, err = io.Copy(tmp, src)
	_ = src.Close()
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("copy the backup: %w", err)
	}
	// Check the staged copy itself (the file that goes into place), then
	// hand it to the caller's check.
	if _, err := inspect(ctx, tmpName); err != nil {
		return nil, err
	}
	if check != nil {
		st, err := Open(tmpName)
		if err != nil {
			return nil, err
		}
		err = check(ctx, st)
		// Closing the last connection checkpoints and removes the
		// copy's -wal and -shm.
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(tmpName + "-wal"); err == nil {
			return nil, fmt.Errorf("the staged copy %s-wal was not folded in", tmpName)
		}
		if err := syncFile(tmpName); err != nil {
			return nil, err
		}
	}
	info, err := inspect(ctx, tmpName)
	if err != nil {
		return nil, err
	}

	res := &RestoreResult{}
	if _, err := os.Lstat(dest); err == nil {
		keepOwner(tmpName, dest)
		bak := dest + ".bak-" + now.UTC().Format("20060102T150405Z")
		if err := os.Link(dest, bak); err != nil {
			return nil, fmt.Errorf("keep the current database as %s: %w", bak, err)
		}
		res.Replaced = bak
	}
	if err := os.Rename(tmpName, dest); err != nil {
		if res.Replaced != "" {
			_ = os.Remove(res.Replaced)
		}
		return nil, fmt.Errorf("put the restored database in place: %w", err)
	}
	// A -shm without a -wal is stale (nobody has the file open: we hold
	// the lock); the next opener would rebuild it anyway.
	_ = os.Remove(dest + "-shm")
	if err := syncDir(filepath.Dir(dest)); err != nil {
		return nil, err
	}
	info.Path = dest
	res.FileInfo = *info
	return res, nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0) // #nosec G304 -- a file this package just wrote
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes a rename or link in dir durable. Some systems cannot sync
// a directory; that is not an error there.
func syncDir(dir string) error {
	d, err := os.Open(dir) // #nosec G304 -- the directory of a file this package just wrote
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}
