package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/sqlite"
)

// backupUser is a valid user named name (ID id-NAME).
func backupUser(name string) *gatehouse.User {
	return &gatehouse.User{
		ID:           "id-" + name,
		Username:     name,
		Email:        name + "@example.com",
		Age:          30,
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
	}
}

func mustCreate(t *testing.T, s *sqlite.Store, u *gatehouse.User) {
	t.Helper()
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%q): %v", u.Username, err)
	}
}

// openMigrated opens and migrates a new store at dir/gatehouse.db.
func openMigrated(t *testing.T, dir string) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(dir, "gatehouse.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(t.Context()); err != nil {
		s.Close()
		t.Fatal(err)
	}
	return s, path
}

// TestBackupDuringWrites takes a backup while writers keep committing and
// finds in it every write acknowledged before the backup started.
func TestBackupDuringWrites(t *testing.T) {
	s, _ := openMigrated(t, t.TempDir())
	defer s.Close()
	ctx := t.Context()

	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5000; i++ { // bounded even if stop never came
				select {
				case <-stop:
					return
				default:
				}
				u := backupUser(fmt.Sprintf("w%d-%d", w, i))
				if err := s.CreateUser(ctx, u); err != nil {
					errc <- err
					return
				}
				mu.Lock()
				acked = append(acked, u.ID)
				mu.Unlock()
			}
		}()
	}
	// Let some writes land, then note what was acknowledged and back up.
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 50 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	before := append([]string(nil), acked...)
	mu.Unlock()
	dest := filepath.Join(t.TempDir(), "backup.db")
	info, err := s.Backup(ctx, dest)
	close(stop)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatalf("writer: %v", err)
	}
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	t.Logf("%d writes acknowledged before the backup, %d in it, %d in all", len(before), info.Users, len(acked))
	if info.Version != sqlite.LatestVersion() {
		t.Errorf("got version %d, want %d", info.Version, sqlite.LatestVersion())
	}
	if info.Users < int64(len(before)) {
		t.Errorf("got %d users in the backup, want at least %d", info.Users, len(before))
	}
	st, err := os.Stat(dest)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("got mode %v, want 0600", st.Mode().Perm())
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(dest + suffix); err == nil {
			t.Errorf("the backup has a %s file: it should be one self-contained file", suffix)
		}
	}
	// Read the backup as the restored database would be.
	b, err := sqlite.Open(dest)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, id := range before {
		if _, err := b.UserByID(ctx, id); err != nil {
			t.Fatalf("user %s, acknowledged before the backup: %v", id, err)
		}
	}
}

func TestBackupRefusesExistingFile(t *testing.T) {
	s, _ := openMigrated(t, t.TempDir())
	defer s.Close()
	dest := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(dest, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Backup(t.Context(), dest); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("got %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(dest); string(b) != "keep me" {
		t.Errorf("the existing file was changed")
	}
}

func TestRestore(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s, path := openMigrated(t, dir)
	mustCreate(t, s, backupUser("before"))
	backup := filepath.Join(t.TempDir(), "backup.db")
	if _, err := s.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, backupUser("after"))

	// While the store is open (a running server), the restore is refused
	// and nothing changes.
	if _, err := sqlite.Restore(ctx, backup, path, time.Now(), nil); !errors.Is(err, sqlite.ErrInUse) {
		t.Fatalf("restore onto an open database: got %v, want ErrInUse", err)
	}
	if _, err := s.UserByUsername(ctx, "after"); err != nil {
		t.Fatalf("the open database was changed: %v", err)
	}
	s.Close()

	// A failing check stops the restore before anything is replaced.
	boom := errors.New("wrong key")
	if _, err := sqlite.Restore(ctx, backup, path, time.Now(), func(context.Context, *sqlite.Store) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the check's error", err)
	}
	assertUsers(t, path, "before", "after")

	now := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
	var checked int
	res, err := sqlite.Restore(ctx, backup, path, now, func(ctx context.Context, st *sqlite.Store) error {
		_, err := st.UserByUsername(ctx, "before")
		checked++
		return err
	})
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if checked != 1 {
		t.Errorf("check ran %d times, want 1", checked)
	}
	wantBak := path + ".bak-20310203T040506Z"
	if res.Replaced != wantBak {
		t.Errorf("got Replaced %q, want %q", res.Replaced, wantBak)
	}
	if res.Version != sqlite.LatestVersion() || res.Users != 1 {
		t.Errorf("got version %d and %d users, want %d and 1", res.Version, res.Users, sqlite.LatestVersion())
	}
	assertUsers(t, path, "before")
	assertUsers(t, wantBak, "before", "after")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if filepath.Ext(e.Name()) == ".tmp" {
			t.Errorf("left behind %s", e.Name())
		}
	}

	// Into an empty directory (a new machine): no .bak.
	fresh := filepath.Join(t.TempDir(), "new", "gatehouse.db")
	res, err = sqlite.Restore(ctx, backup, fresh, now, nil)
	if err != nil || res.Replaced != "" {
		t.Fatalf("restore into a new place: got %+v, %v", res, err)
	}
	assertUsers(t, fresh, "before")
}

// assertUsers checks that the database at path holds exactly these users.
func assertUsers(t *testing.T, path string, want ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM users").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Errorf("%s: got %d users, want %d", filepath.Base(path), n, len(want))
	}
	for _, u := range want {
		var one int
		if err := db.QueryRow("SELECT 1 FROM users WHERE username = ?", u).Scan(&one); err != nil {
			t.Errorf("%s: user %s: %v", filepath.Base(path), u, err)
		}
	}
}

func TestRestoreRefusals(t *testing.T) {
	ctx := t.Context()
	good := func(t *testing.T) string {
		s, _ := openMigrated(t, t.TempDir())
		defer s.Close()
		p := filepath.Join(t.TempDir(), "backup.db")
		if _, err := s.Backup(ctx, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	withSQL := func(stmts ...string) func(t *testing.T) string {
		return func(t *testing.T) string {
			p := good(t)
			db, err := sql.Open("sqlite", "file:"+p)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, q := range stmts {
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			return p
		}
	}
	cases := []struct {
		name   string
		backup func(t *testing.T) string
		setup  func(t *testing.T, dest string)
		want   error
	}{
		{"not sqlite", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "x.db")
			os.WriteFile(p, []byte("hello, world: definitely not a database file"), 0o600)
			return p
		}, nil, sqlite.ErrNotGatehouse},
		{"another sqlite database", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "x.db")
			db, _ := sql.Open("sqlite", "file:"+p)
			defer db.Close()
			if _, err := db.Exec("CREATE TABLE t (x)"); err != nil {
				t.Fatal(err)
			}
			return p
		}, nil, sqlite.ErrNotGatehouse},
		{"newer migration", withSQL("INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, 1)"), nil, sqlite.ErrNewerVersion},
		{"no migrations", withSQL("DELETE FROM goose_db_version"), nil, sqlite.ErrNotGatehouse},
		{"broken foreign key", withSQL("PRAGMA foreign_keys = OFF", "INSERT INTO user_roles (user_id, role) VALUES ('nobody', 'user')"), nil, sqlite.ErrNotGatehouse},
		{"left-over WAL", good, func(t *testing.T, dest string) {
			os.WriteFile(dest+"-wal", []byte("x"), 0o600)
		}, sqlite.ErrInUse},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			backup := c.backup(t)
			s, dest := openMigrated(t, t.TempDir())
			mustCreate(t, s, backupUser("current"))
			s.Close()
			if c.setup != nil {
				c.setup(t, dest)
			}
			_, err := sqlite.Restore(ctx, backup, dest, time.Now(), nil)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			os.Remove(dest + "-wal")
			assertUsers(t, dest, "current")
			matches, _ := filepath.Glob(dest + ".bak-*")
			if len(matches) > 0 {
				t.Errorf("a refused restore kept %v", matches)
			}
		})
	}
}
