package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Migrate checks that migrations apply in order, once, and that a second
// store on the same database finds them applied.
func Migrate(t *testing.T, newDB NewDB) {
	open := newDB(t)
	s := open(t)
	applied, err := s.Migrate(t.Context())
	if err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	if len(applied) == 0 {
		t.Fatalf("first Migrate applied %v, want at least one migration", applied)
	}
	if applied[0] != "00001_init.sql" {
		t.Errorf("first migration applied = %q, want %q", applied[0], "00001_init.sql")
	}
	for i := 1; i < len(applied); i++ {
		if applied[i-1] >= applied[i] {
			t.Errorf("applied = %v, want migrations in ascending order", applied)
		}
	}

	again, err := s.Migrate(t.Context())
	if err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if len(again) != 0 {
		t.Errorf("second Migrate applied %v, want nothing", again)
	}

	// Another connection to the same database finds it migrated.
	other := open(t)
	again, err = other.Migrate(t.Context())
	if err != nil {
		t.Fatalf("Migrate from a second store: %v", err)
	}
	if len(again) != 0 {
		t.Errorf("Migrate from a second store applied %v, want nothing", again)
	}
	if err := other.Ping(t.Context()); err != nil {
		t.Errorf("Ping: got %v, want nil", err)
	}
}

// MigrateConcurrent: two processes (a starting server and `gatehouse
// migrate`, or two servers) may migrate one database at once; all succeed,
// and the migrations are applied once.
func MigrateConcurrent(t *testing.T, newDB NewDB) {
	open := newDB(t)
	stores := []Store{open(t), open(t), open(t), open(t)}
	var wg sync.WaitGroup
	errs := make([]error, len(stores))
	applied := make([][]string, len(stores))
	for i, s := range stores {
		wg.Go(func() { applied[i], errs[i] = s.Migrate(t.Context()) })
	}
	wg.Wait()
	total := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate on store %d: got %v, want nil", i, err)
		}
		total += len(applied[i])
	}
	first, err := open(t).Migrate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 0 {
		t.Errorf("Migrate after the concurrent ones applied %v, want nothing", first)
	}
	// Each migration was applied by exactly one store.
	var all []string
	for _, a := range applied {
		all = append(all, a...)
	}
	slices.Sort(all)
	if len(slices.Compact(slices.Clone(all))) != len(all) || total == 0 {
		t.Errorf("applied across stores = %v, want each migration once", all)
	}
}

// Users checks the account round trip, lookups, password changes and the
// age constraint.
func Users(t *testing.T, newDB NewDB) {
	t.Run("round trip", func(t *testing.T) {
		tests := []struct {
			name      string
			user      *gatehouse.User
			wantRoles []string
		}{
			{"no roles", newUser("alice"), nil},
			{"one role", newUser("bob", gatehouse.RoleUser), []string{"user"}},
			{"roles come back sorted", newUser("carol", gatehouse.RoleUser, gatehouse.RoleAdmin), []string{"admin", "user"}},
			{"disabled", func() *gatehouse.User { u := newUser("dave"); u.Disabled = true; return u }(), nil},
			{"given creation time", func() *gatehouse.User {
				u := newUser("erin")
				u.CreatedAt = time.Date(2029, 5, 6, 7, 8, 9, 987654000, time.UTC)
				return u
			}(), nil},
			{"creation time before 1970", func() *gatehouse.User {
				u := newUser("old")
				u.CreatedAt = time.Date(1901, 5, 6, 7, 8, 9, 100000, time.UTC)
				return u
			}(), nil},
			{"unicode email kept as given", func() *gatehouse.User { u := newUser("frank"); u.Email = "Frank.Ünïcödé@Example.COM"; return u }(), nil},
		}
		s := migrated(t, newDB)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := t.Context()
				in := *tt.user
				mustCreateUser(t, s, tt.user)
				wantCreated := in.CreatedAt
				if wantCreated.IsZero() {
					wantCreated = testNow
				}
				if !tt.user.CreatedAt.Equal(wantCreated) || !tt.user.UpdatedAt.Equal(wantCreated) {
					t.Errorf("after CreateUser CreatedAt, UpdatedAt = %v, %v, want %v", tt.user.CreatedAt, tt.user.UpdatedAt, wantCreated)
				}
				byID, err := s.UserByID(ctx, in.ID)
				if err != nil {
					t.Fatalf("UserByID: %v", err)
				}
				byName, err := s.UserByUsername(ctx, in.Username)
				if err != nil {
					t.Fatalf("UserByUsername: %v", err)
				}
				for _, got := range []*gatehouse.User{byID, byName} {
					if got.ID != in.ID || got.Username != in.Username || got.Email != in.Email ||
						got.Age != in.Age || got.PasswordHash != in.PasswordHash || got.Disabled != in.Disabled {
						t.Errorf("read back %+v, want %+v", *got, in)
					}
					if !slices.Equal(got.Roles, tt.wantRoles) {
						t.Errorf("Roles = %q, want %q", got.Roles, tt.wantRoles)
					}
					if !got.CreatedAt.Equal(wantCreated) || !got.UpdatedAt.Equal(wantCreated) {
						t.Errorf("CreatedAt, UpdatedAt = %v, %v, want %v", got.CreatedAt, got.UpdatedAt, wantCreated)
					}
					if got.CreatedAt.Location() != time.UTC {
						t.Errorf("CreatedAt location = %v, want UTC", got.CreatedAt.Location())
					}
				}
			})
		}
	})

	t.Run("times keep microseconds, not nanoseconds", func(t *testing.T) {
		s := migrated(t, newDB)
		u := newUser("nano")
		u.CreatedAt = time.Date(2029, 5, 6, 7, 8, 9, 987654999, time.FixedZone("X", 3600))
		mustCreateUser(t, s, u)
		got, err := s.UserByID(t.Context(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := time.Date(2029, 5, 6, 6, 8, 9, 987654000, time.UTC)
		if got.CreatedAt != want {
			t.Errorf("CreatedAt = %v, want %v (truncated to the microsecond, in UTC)", got.CreatedAt, want)
		}
	})

	t.Run("atomic create", func(t *testing.T) {
		// A user whose roles cannot be stored is not stored at all: the
		// insert is one transaction.
		tests := []struct {
			name  string
			roles []string
		}{
			{"unknown role", []string{"user", "superuser"}},
			{"repeated role", []string{"user", "user"}},
		}
		s := migrated(t, newDB)
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := t.Context()
				u := newUser(fmt.Sprintf("user%d", i), tt.roles...)
				if err := s.CreateUser(ctx, u); err == nil {
					t.Fatalf("CreateUser with roles %q: got nil error, want one", tt.roles)
				}
				if _, err := s.UserByID(ctx, u.ID); !errors.Is(err, gatehouse.ErrNotFound) {
					t.Errorf("UserByID after failed CreateUser: got %v, want ErrNotFound", err)
				}
				// The username is free again.
				u.Roles = nil
				if err := s.CreateUser(ctx, u); err != nil {
					t.Errorf("CreateUser again without roles: got %v, want nil", err)
				}
			})
		}
	})

	t.Run("age constraint", func(t *testing.T) {
		// The schema refuses ages outside 13–150 even if a handler let
		// one through (defence in depth; handlers validate first).
		tests := []struct {
			age    int
			wantOK bool
		}{
			{12, false}, {13, true}, {150, true}, {151, false}, {-1, false},
		}
		s := migrated(t, newDB)
		for _, tt := range tests {
			t.Run(fmt.Sprint(tt.age), func(t *testing.T) {
				u := newUser(fmt.Sprintf("age%d", tt.age))
				u.Age = tt.age
				err := s.CreateUser(t.Context(), u)
				if (err == nil) != tt.wantOK {
					t.Errorf("CreateUser(age %d): got %v, want ok %v", tt.age, err, tt.wantOK)
				}
				if errors.Is(err, gatehouse.ErrConflict) {
					t.Errorf("CreateUser(age %d): got %v, want no conflict", tt.age, err)
				}
			})
		}
	})

	t.Run("not found", func(t *testing.T) {
		tests := []struct {
			name string
			call func(ctx context.Context, s Store) error
		}{
			{"UserByID", func(ctx context.Context, s Store) error { _, err := s.UserByID(ctx, "id-nobody"); return err }},
			{"UserByID empty", func(ctx context.Context, s Store) error { _, err := s.UserByID(ctx, ""); return err }},
			{"UserByUsername", func(ctx context.Context, s Store) error { _, err := s.UserByUsername(ctx, "nobody"); return err }},
			{"UserByUsername other case", func(ctx context.Context, s Store) error { _, err := s.UserByUsername(ctx, "Alice"); return err }},
			{"UserByUsername wildcard", func(ctx context.Context, s Store) error { _, err := s.UserByUsername(ctx, "%"); return err }},
			{"UserByUsername single-char wildcard", func(ctx context.Context, s Store) error { _, err := s.UserByUsername(ctx, "_lice"); return err }},
			{"UserByUsername injection", func(ctx context.Context, s Store) error {
				_, err := s.UserByUsername(ctx, "' OR 1=1 --")
				return err
			}},
			{"UserByID injection", func(ctx context.Context, s Store) error { _, err := s.UserByID(ctx, "x' OR '1'='1"); return err }},
			{"SetPasswordHash", func(ctx context.Context, s Store) error { return s.SetPasswordHash(ctx, "id-nobody", "h") }},
			{"SetPasswordHash injection", func(ctx context.Context, s Store) error {
				return s.SetPasswordHash(ctx, "' OR 1=1 --", "h")
			}},
		}
		s := migrated(t, newDB)
		mustCreateUser(t, s, newUser("alice"))
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := tt.call(t.Context(), s); !errors.Is(err, gatehouse.ErrNotFound) {
					t.Errorf("got %v, want ErrNotFound", err)
				}
			})
		}
		// The injection attempts changed nothing.
		got, err := s.UserByID(t.Context(), "id-alice")
		if err != nil {
			t.Fatalf("UserByID(alice): %v", err)
		}
		if got.PasswordHash != newUser("alice").PasswordHash {
			t.Errorf("alice's hash = %q, want unchanged", got.PasswordHash)
		}
	})

	t.Run("SetPasswordHash", func(t *testing.T) {
		ctx := t.Context()
		s := migrated(t, newDB)
		now := testNow
		s.SetClock(func() time.Time { return now })
		mustCreateUser(t, s, newUser("alice"))
		mustCreateUser(t, s, newUser("bob"))

		now = testNow.Add(time.Hour)
		const hash = "$argon2id$v=19$m=19456,t=2,p=1$bmV3$bmV3aGFzaA"
		if err := s.SetPasswordHash(ctx, "id-alice", hash); err != nil {
			t.Fatalf("SetPasswordHash: %v", err)
		}
		// Setting the same hash again still finds the user.
		if err := s.SetPasswordHash(ctx, "id-alice", hash); err != nil {
			t.Fatalf("SetPasswordHash again: %v", err)
		}
		alice, err := s.UserByID(ctx, "id-alice")
		if err != nil {
			t.Fatal(err)
		}
		if alice.PasswordHash != hash {
			t.Errorf("PasswordHash = %q, want %q", alice.PasswordHash, hash)
		}
		if !alice.UpdatedAt.Equal(now) {
			t.Errorf("UpdatedAt = %v, want %v", alice.UpdatedAt, now)
		}
		if !alice.CreatedAt.Equal(testNow) {
			t.Errorf("CreatedAt = %v, want %v", alice.CreatedAt, testNow)
		}
		bob, err := s.UserByID(ctx, "id-bob")
		if err != nil {
			t.Fatal(err)
		}
		if bob.PasswordHash == hash || !bob.UpdatedAt.Equal(testNow) {
			t.Errorf("bob = %+v, want unchanged by alice's update", *bob)
		}
	})
}

// UserConflicts checks that a taken username, email (in any case) or ID is
// a *gatehouse.ConflictError naming the field, and stores nothing.
func UserConflicts(t *testing.T, newDB NewDB) {
	tests := []struct {
		name      string
		second    func() *gatehouse.User
		wantField string
	}{
		{"same username", func() *gatehouse.User {
			u := newUser("other")
			u.Username = "alice"
			return u
		}, "username"},
		{"same email", func() *gatehouse.User {
			u := newUser("other")
			u.Email = "alice@example.com"
			return u
		}, "email"},
		{"email differing only in case", func() *gatehouse.User {
			u := newUser("other")
			u.Email = "ALICE@Example.Com"
			return u
		}, "email"},
		{"same ID", func() *gatehouse.User {
			u := newUser("other")
			u.ID = "id-alice"
			return u
		}, "id"},
	}
	s := migrated(t, newDB)
	mustCreateUser(t, s, newUser("alice", gatehouse.RoleUser))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			u := tt.second()
			err := s.CreateUser(ctx, u)
			var ce *gatehouse.ConflictError
			if !errors.As(err, &ce) {
				t.Fatalf("CreateUser: got %v, want a *gatehouse.ConflictError", err)
			}
			if ce.Field != tt.wantField {
				t.Errorf("ConflictError.Field = %q, want %q", ce.Field, tt.wantField)
			}
			if !errors.Is(err, gatehouse.ErrConflict) {
				t.Errorf("errors.Is(%v, ErrConflict) = false, want true", err)
			}
			// Nothing of the refused user is stored.
			if u.ID != "id-alice" {
				if _, err := s.UserByID(ctx, u.ID); !errors.Is(err, gatehouse.ErrNotFound) {
					t.Errorf("UserByID(refused user): got %v, want ErrNotFound", err)
				}
			}
			if u.Username != "alice" {
				if _, err := s.UserByUsername(ctx, u.Username); !errors.Is(err, gatehouse.ErrNotFound) {
					t.Errorf("UserByUsername(refused user): got %v, want ErrNotFound", err)
				}
			}
		})
	}
	// The first user is unchanged.
	got, err := s.UserByUsername(t.Context(), "alice")
	if err != nil {
		t.Fatalf("UserByUsername(alice): %v", err)
	}
	if got.ID != "id-alice" || got.Email != "alice@example.com" || !slices.Equal(got.Roles, []string{"user"}) {
		t.Errorf("alice after conflicts = %+v, want unchanged", *got)
	}
}

// Roles checks RolePermissions against the seeded roles.
func Roles(t *testing.T, newDB NewDB) {
	userPerms := []string{"notes:read", "notes:write"}
	adminPerms := []string{"audit:read", "notes:read", "notes:write", "users:read", "users:write"}
	tests := []struct {
		name  string
		roles []string
		want  []string
	}{
		{"none", nil, nil},
		{"empty", []string{}, nil},
		{"user", []string{gatehouse.RoleUser}, userPerms},
		{"admin", []string{gatehouse.RoleAdmin}, adminPerms},
		{"both", []string{gatehouse.RoleUser, gatehouse.RoleAdmin}, adminPerms},
		{"both reversed", []string{gatehouse.RoleAdmin, gatehouse.RoleUser}, adminPerms},
		{"repeated", []string{gatehouse.RoleUser, gatehouse.RoleUser}, userPerms},
		{"unknown", []string{"superuser"}, nil},
		{"unknown and user", []string{"superuser", gatehouse.RoleUser}, userPerms},
		{"case matters", []string{"ADMIN"}, nil},
		{"injection", []string{"user') OR 1=1 --"}, nil},
		{"wildcard", []string{"%"}, nil},
		{"NUL and user", []string{"admin\x00", gatehouse.RoleUser}, userPerms},
		{"invalid UTF-8", []string{"\xff"}, nil},
	}
	s := migrated(t, newDB)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.RolePermissions(t.Context(), tt.roles)
			if err != nil {
				t.Fatalf("RolePermissions(%q): %v", tt.roles, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("RolePermissions(%q) = %q, want %q", tt.roles, got, tt.want)
			}
		})
	}
}

// HostileStrings: the store does not validate usernames or emails (handlers
// do): any string that is valid UTF-8 without NUL, hostile or not, is
// stored and read back literally, never run as SQL or matched as a pattern.
// (Other strings: InvalidText.)
func HostileStrings(t *testing.T, newDB NewDB) {
	hostile := []struct {
		name string
		s    string
	}{
		{"quote comment", "' OR 1=1 --"},
		{"drop table", `"; DROP TABLE users; --`},
		{"semicolon statement", "x'); DELETE FROM users; --"},
		{"percent", "%"},
		{"underscore", "_"},
		{"percent underscore", "%_%"},
		{"backslash", `\' \" \\`},
		{"placeholders", "$1 ?1 ? :name @p"},
		{"control characters", "a\x01b\x1fc\x7f"},
		{"newline", "a\nb\r\nc"},
		{"unicode", "ﬁ𝔘ñíçødé 🔑"},
		{"replacement character", "\uFFFD"},
		{"very long", strings.Repeat("A'; --", 20000)},
	}
	s := migrated(t, newDB)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("alice"))
	for i, tt := range hostile {
		t.Run(tt.name, func(t *testing.T) {
			u := newUser("h")
			u.ID = fmt.Sprintf("id-hostile-%d", i)
			u.Username = tt.s
			u.Email = tt.s
			u.PasswordHash = tt.s
			if err := s.CreateUser(ctx, u); err != nil {
				t.Fatalf("CreateUser(%q): got %v, want nil", trunc(tt.s), err)
			}
			byName, err := s.UserByUsername(ctx, tt.s)
			if err != nil {
				t.Fatalf("UserByUsername(%q): got %v, want the user", trunc(tt.s), err)
			}
			byID, err := s.UserByID(ctx, u.ID)
			if err != nil {
				t.Fatalf("UserByID: %v", err)
			}
			for _, got := range []*gatehouse.User{byName, byID} {
				if got.ID != u.ID {
					t.Errorf("ID = %q, want %q", got.ID, u.ID)
				}
				if got.Username != tt.s {
					t.Errorf("Username = %q, want %q", trunc(got.Username), trunc(tt.s))
				}
				if got.Email != tt.s {
					t.Errorf("Email = %q, want %q", trunc(got.Email), trunc(tt.s))
				}
				if got.PasswordHash != tt.s {
					t.Errorf("PasswordHash = %q, want %q", trunc(got.PasswordHash), trunc(tt.s))
				}
			}
		})
	}
	// Every row is still there and alice is untouched.
	for i, tt := range hostile {
		if _, err := s.UserByID(ctx, fmt.Sprintf("id-hostile-%d", i)); err != nil {
			t.Errorf("UserByID(hostile %s) at the end: got %v, want the user", tt.name, err)
		}
	}
	if got, err := s.UserByUsername(ctx, "alice"); err != nil || got.ID != "id-alice" {
		t.Errorf("UserByUsername(alice) at the end = %v, %v, want id-alice", got, err)
	}
}

// invalidStrings cannot be stored as PostgreSQL text: NUL bytes and byte
// sequences that are not UTF-8.
var invalidStrings = []struct{ name, s string }{
	{"NUL byte", "a\x00b"},
	{"leading NUL", "\x00alice"},
	{"only NUL", "\x00"},
	{"invalid UTF-8", "\xff\xfe\xfd"},
	{"truncated UTF-8", "caf\xc3"},
	{"lone continuation byte", "a\x80b"},
	{"overlong encoding", "\xc0\xaf"},
	{"surrogate", "\xed\xa0\x80"},
}

// InvalidText checks the store's rule for text that is not valid UTF-8 or
// holds a NUL byte, the same on every backend: such a value is refused when
// written (an error that is neither ErrNotFound, ErrConflict nor
// ErrUnavailable, and nothing is stored); such a key finds nothing; such a
// search term is in no note.
func InvalidText(t *testing.T, newDB NewDB) {
	s := migrated(t, newDB)
	ctx := t.Context()
	alice := mustCreateUser(t, s, newUser("alice", gatehouse.RoleUser))
	mustCreateUser(t, s, newUser("bob", gatehouse.RoleUser))
	note := addNote(t, s, alice, "title", "body", "tag")
	mustCreateSession(t, s, "s-alice", alice.ID, 1)

	session := func(id string) *gatehouse.Session {
		return &gatehouse.Session{ID: id, UserID: alice.ID, CreatedAt: testNow, LastUsedAt: testNow,
			ExpiresAt: testNow.Add(time.Hour), Scope: "notes:read", ClientIP: "192.0.2.1", UserAgent: "test/1.0"}
	}
	token := func(b byte, sessionID string) *gatehouse.RefreshToken {
		return &gatehouse.RefreshToken{Hash: hash(b), SessionID: sessionID, CreatedAt: testNow, ExpiresAt: testNow.Add(time.Hour)}
	}
	writes := []struct {
		name string
		call func(bad string) error
	}{
		{"CreateUser id", func(bad string) error { u := newUser("w1"); u.ID = bad; return s.CreateUser(ctx, u) }},
		{"CreateUser username", func(bad string) error { u := newUser("w2"); u.Username = bad; return s.CreateUser(ctx, u) }},
		{"CreateUser email", func(bad string) error { u := newUser("w3"); u.Email = bad; return s.CreateUser(ctx, u) }},
		{"CreateUser password hash", func(bad string) error { u := newUser("w4"); u.PasswordHash = bad; return s.CreateUser(ctx, u) }},
		{"CreateUser role", func(bad string) error { return s.CreateUser(ctx, newUser("w5", bad)) }},
		{"SetPasswordHash", func(bad string) error { return s.SetPasswordHash(ctx, alice.ID, bad) }},
		{"SetUserRoles", func(bad string) error { return s.SetUserRoles(ctx, alice.ID, []string{gatehouse.RoleUser, bad}) }},
		{"CreateSigningKey id", func(bad string) error {
			return s.CreateSigningKey(ctx, &gatehouse.SigningKey{ID: bad, Algorithm: "EdDSA", PublicKey: []byte{1}, PrivateKeyEnc: []byte{2}, CreatedAt: testNow, ActivatedAt: testNow})
		}},
		{"CreateSigningKey algorithm", func(bad string) error {
			return s.CreateSigningKey(ctx, &gatehouse.SigningKey{ID: "k", Algorithm: bad, PublicKey: []byte{1}, PrivateKeyEnc: []byte{2}, CreatedAt: testNow, ActivatedAt: testNow})
		}},
		{"CreateSession id", func(bad string) error { return s.CreateSession(ctx, session(bad), token(0xa1, bad)) }},
		{"CreateSession scope", func(bad string) error {
			ss := session("w-scope")
			ss.Scope = bad
			return s.CreateSession(ctx, ss, token(0xa3, ss.ID))
		}},
		{"CreateSession client IP", func(bad string) error {
			ss := session("w-ip")
			ss.ClientIP = bad
			return s.CreateSession(ctx, ss, token(0xa4, ss.ID))
		}},
		{"CreateCookieSession client IP", func(bad string) error {
			ss := session("w-cookie")
			ss.ClientIP = bad
			return s.CreateCookieSession(ctx, ss, hash(0xa5))
		}},
		{"RevokeSession reason", func(bad string) error { return s.RevokeSession(ctx, "s-alice", "", bad, testNow) }},
		{"RevokeUserSessions reason", func(bad string) error {
			_, err := s.RevokeUserSessions(ctx, alice.ID, "", bad, testNow)
			return err
		}},
		{"CreateNote id", func(bad string) error {
			return s.CreateNote(ctx, &gatehouse.Note{ID: bad, OwnerID: alice.ID, Title: "t"})
		}},
		{"CreateNote title", func(bad string) error {
			return s.CreateNote(ctx, &gatehouse.Note{ID: "w-note-1", OwnerID: alice.ID, Title: bad})
		}},
		{"CreateNote body", func(bad string) error {
			return s.CreateNote(ctx, &gatehouse.Note{ID: "w-note-2", OwnerID: alice.ID, Title: "t", Body: bad})
		}},
		{"CreateNote tag", func(bad string) error {
			return s.CreateNote(ctx, &gatehouse.Note{ID: "w-note-3", OwnerID: alice.ID, Title: "t", Tags: []string{"ok", bad}})
		}},
		{"UpdateNote title", func(bad string) error {
			_, err := s.UpdateNote(ctx, note.ID, alice.ID, gatehouse.NoteUpdate{Title: &bad})
			return err
		}},
		{"UpdateNote body", func(bad string) error {
			_, err := s.UpdateNote(ctx, note.ID, alice.ID, gatehouse.NoteUpdate{Body: &bad})
			return err
		}},
		{"UpdateNote tag", func(bad string) error {
			_, err := s.UpdateNote(ctx, note.ID, alice.ID, gatehouse.NoteUpdate{Tags: &[]string{bad}})
			return err
		}},
	}
	for _, w := range writes {
		t.Run("write "+w.name, func(t *testing.T) {
			for _, bad := range invalidStrings {
				if err := w.call(bad.s); !isRefusal(err) {
					t.Errorf("%s: got %v, want a refusal (not ErrNotFound, ErrConflict or ErrUnavailable)", bad.name, err)
				}
			}
		})
	}
	// Nothing was written.
	t.Run("nothing written", func(t *testing.T) {
		got, err := s.UserByID(ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.PasswordHash != newUser("alice").PasswordHash || !slices.Equal(got.Roles, []string{"user"}) {
			t.Errorf("alice = %+v, want unchanged", *got)
		}
		if users, err := s.ListUsers(ctx, "", 100); err != nil || len(users) != 2 {
			t.Errorf("ListUsers = %d users, %v; want alice and bob only", len(users), err)
		}
		if keys, err := s.SigningKeys(ctx); err != nil || len(keys) != 0 {
			t.Errorf("SigningKeys = %d keys, %v; want none", len(keys), err)
		}
		if ss, err := s.ActiveSessions(ctx, alice.ID, testNow); err != nil || len(ss) != 1 || ss[0].ID != "s-alice" {
			t.Errorf("ActiveSessions = %v, %v; want s-alice only, not revoked", ss, err)
		}
		n, err := s.NoteFor(ctx, note.ID, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n.Title != "title" || n.Body != "body" || !slices.Equal(n.Tags, []string{"tag"}) {
			t.Errorf("note = %+v, want unchanged", *n)
		}
		if notes, err := s.Notes(ctx, alice.ID, gatehouse.NoteQuery{Limit: 100}); err != nil || len(notes) != 1 {
			t.Errorf("Notes = %d notes, %v; want 1", len(notes), err)
		}
	})

	notFound := []struct {
		name string
		call func(bad string) error
	}{
		{"UserByID", func(bad string) error { _, err := s.UserByID(ctx, bad); return err }},
		{"UserByUsername", func(bad string) error { _, err := s.UserByUsername(ctx, bad); return err }},
		{"SetPasswordHash user", func(bad string) error { return s.SetPasswordHash(ctx, bad, "h") }},
		{"SetUserRoles user", func(bad string) error { return s.SetUserRoles(ctx, bad, []string{gatehouse.RoleUser}) }},
		{"SetUserDisabled user", func(bad string) error { return s.SetUserDisabled(ctx, bad, true) }},
		{"SessionByID", func(bad string) error { _, err := s.SessionByID(ctx, bad); return err }},
		{"RevokeSession id", func(bad string) error { return s.RevokeSession(ctx, bad, "", "r", testNow) }},
		{"RevokeSession user", func(bad string) error { return s.RevokeSession(ctx, "s-alice", bad, "r", testNow) }},
		{"NoteFor note", func(bad string) error { _, err := s.NoteFor(ctx, bad, alice.ID); return err }},
		{"NoteFor user", func(bad string) error { _, err := s.NoteFor(ctx, note.ID, bad); return err }},
		{"UpdateNote note", func(bad string) error {
			_, err := s.UpdateNote(ctx, bad, alice.ID, gatehouse.NoteUpdate{Title: ptr("x")})
			return err
		}},
		{"UpdateNote user", func(bad string) error {
			_, err := s.UpdateNote(ctx, note.ID, bad, gatehouse.NoteUpdate{Title: ptr("x")})
			return err
		}},
		{"DeleteNote note", func(bad string) error { return s.DeleteNote(ctx, bad, alice.ID) }},
		{"DeleteNote owner", func(bad string) error { return s.DeleteNote(ctx, note.ID, bad) }},
		{"ShareNote note", func(bad string) error {
			_, err := s.ShareNote(ctx, bad, alice.ID, "id-bob", gatehouse.NoteRead)
			return err
		}},
		{"ShareNote owner", func(bad string) error {
			_, err := s.ShareNote(ctx, note.ID, bad, "id-bob", gatehouse.NoteRead)
			return err
		}},
		{"ShareNote sharee", func(bad string) error {
			_, err := s.ShareNote(ctx, note.ID, alice.ID, bad, gatehouse.NoteRead)
			return err
		}},
		{"UnshareNote note", func(bad string) error { return s.UnshareNote(ctx, bad, alice.ID, "id-bob") }},
		{"UnshareNote owner", func(bad string) error { return s.UnshareNote(ctx, note.ID, bad, "id-bob") }},
		{"CreateNote owner", func(bad string) error {
			return s.CreateNote(ctx, &gatehouse.Note{ID: "w-note-4", OwnerID: bad, Title: "t"})
		}},
	}
	for _, c := range notFound {
		t.Run("key "+c.name, func(t *testing.T) {
			for _, bad := range invalidStrings {
				if err := c.call(bad.s); !errors.Is(err, gatehouse.ErrNotFound) {
					t.Errorf("%s: got %v, want ErrNotFound", bad.name, err)
				}
			}
		})
	}

	empty := []struct {
		name string
		call func(bad string) (int, error)
	}{
		{"ActiveSessions", func(bad string) (int, error) { ss, err := s.ActiveSessions(ctx, bad, testNow); return len(ss), err }},
		{"RevokeUserSessions", func(bad string) (int, error) {
			ids, err := s.RevokeUserSessions(ctx, bad, "", "r", testNow)
			return len(ids), err
		}},
		{"Notes user", func(bad string) (int, error) {
			ns, err := s.Notes(ctx, bad, gatehouse.NoteQuery{Limit: 10})
			return len(ns), err
		}},
		{"Notes search", func(bad string) (int, error) {
			ns, err := s.Notes(ctx, alice.ID, gatehouse.NoteQuery{Limit: 10, Search: bad})
			return len(ns), err
		}},
		{"Notes search after a match", func(bad string) (int, error) {
			// LIKE must not stop at a NUL and match "title" alone.
			ns, err := s.Notes(ctx, alice.ID, gatehouse.NoteQuery{Limit: 10, Search: "title" + bad})
			return len(ns), err
		}},
	}
	for _, c := range empty {
		t.Run("empty "+c.name, func(t *testing.T) {
			for _, bad := range invalidStrings {
				if n, err := c.call(bad.s); err != nil || n != 0 {
					t.Errorf("%s: got %d results, %v; want none", bad.name, n, err)
				}
			}
		})
	}

	// A user agent is a header, stored cleaned rather than refused, so that
	// a client that sends Latin-1 can still log in.
	t.Run("user agent cleaned", func(t *testing.T) {
		for i, tt := range []struct{ in, want string }{
			{"a\x00b", "a\uFFFDb"},
			{"Mozilla/5.0 (caf\xe9)", "Mozilla/5.0 (caf\uFFFD)"},
			{"\xff\xfe\xfd", "\uFFFD"},
			{"ok é", "ok é"},
		} {
			refresh, cookie := session(fmt.Sprint("ua-r", i)), session(fmt.Sprint("ua-c", i))
			refresh.UserAgent, cookie.UserAgent = tt.in, tt.in
			if err := s.CreateSession(ctx, refresh, token(byte(0xb0+i), refresh.ID)); err != nil {
				t.Fatalf("CreateSession with user agent %q: %v", tt.in, err)
			}
			if err := s.CreateCookieSession(ctx, cookie, hash(byte(0xc0+i))); err != nil {
				t.Fatalf("CreateCookieSession with user agent %q: %v", tt.in, err)
			}
			for _, id := range []string{refresh.ID, cookie.ID} {
				got, err := s.SessionByID(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if got.UserAgent != tt.want {
					t.Errorf("user agent %q stored as %q, want %q", tt.in, got.UserAgent, tt.want)
				}
			}
		}
	})

	t.Run("no-ops", func(t *testing.T) {
		for _, bad := range invalidStrings {
			if err := s.UnshareNote(ctx, note.ID, alice.ID, bad.s); err != nil {
				t.Errorf("UnshareNote with sharee %s: got %v, want nil", bad.name, err)
			}
			if err := s.RetireSigningKey(ctx, bad.s, testNow); err != nil {
				t.Errorf("RetireSigningKey(%s): got %v, want nil", bad.name, err)
			}
		}
		// A keep that names no session keeps none.
		mustCreateSession(t, s, "s-alice-2", alice.ID, 2)
		live, err := s.ActiveSessions(ctx, alice.ID, testNow)
		if err != nil || len(live) < 2 {
			t.Fatalf("ActiveSessions = %v, %v; want several", live, err)
		}
		got, err := s.RevokeUserSessions(ctx, alice.ID, "s-alice\x00", "logout", testNow)
		slices.Sort(got)
		want := slices.Sorted(slices.Values(ids(live, sessionID)))
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("RevokeUserSessions with keep %q: got %q, %v; want every session, %q", "s-alice\x00", got, err, want)
		}
	})
}

// ConcurrentWriters: writers on separate stores (instances) of one database
// wait for each other instead of failing.
func ConcurrentWriters(t *testing.T, newDB NewDB) {
	open := newDB(t)
	first := open(t)
	if _, err := first.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	stores := []Store{first, open(t), open(t)}
	const perStore = 20
	var wg sync.WaitGroup
	errs := make(chan error, len(stores)*perStore)
	for i, s := range stores {
		for j := range perStore {
			wg.Go(func() {
				u := newUser(fmt.Sprintf("u%d-%d", i, j), gatehouse.RoleUser)
				if err := s.CreateUser(t.Context(), u); err != nil {
					errs <- err
					return
				}
				if err := s.SetPasswordHash(t.Context(), u.ID, "new"); err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent write: got %v, want nil", err)
	}
	for i := range stores {
		for j := range perStore {
			u, err := first.UserByID(t.Context(), fmt.Sprintf("id-u%d-%d", i, j))
			if err != nil {
				t.Fatalf("UserByID: %v", err)
			}
			if u.PasswordHash != "new" || !slices.Equal(u.Roles, []string{"user"}) {
				t.Errorf("user %s = %+v, want hash %q and role user", u.ID, *u, "new")
			}
		}
	}
}

// SigningKeys checks key storage, order and retirement.
func SigningKeys(t *testing.T, newDB NewDB) {
	s := migrated(t, newDB)
	ctx := t.Context()
	got, err := s.SigningKeys(ctx)
	if err != nil {
		t.Fatalf("SigningKeys on an empty store: %v", err)
	}
	if len(got) != 0 {
		t.Fatalf("SigningKeys on an empty store = %d keys, want 0", len(got))
	}

	retired := testNow.Add(-time.Minute)
	key := func(id string, activated time.Time) *gatehouse.SigningKey {
		return &gatehouse.SigningKey{
			ID:            id,
			Algorithm:     "EdDSA",
			PublicKey:     bytes.Repeat([]byte(id[:1]), 32),
			PrivateKeyEnc: append([]byte("sealed-"+id), 0, 0xff),
			CreatedAt:     testNow.Add(-24 * time.Hour),
			ActivatedAt:   activated,
		}
	}
	keys := []*gatehouse.SigningKey{
		key("b-old", testNow.Add(-2*time.Hour)),
		key("d-future", testNow.Add(time.Hour)),
		key("a-tie", testNow),
		key("c-tie", testNow),
		key("f-to-retire", testNow.Add(3*time.Hour)),
		func() *gatehouse.SigningKey {
			k := key("e-retired", testNow.Add(2*time.Hour))
			k.RetiredAt = &retired
			return k
		}(),
	}
	for _, k := range keys {
		if err := s.CreateSigningKey(ctx, k); err != nil {
			t.Fatalf("CreateSigningKey(%s): %v", k.ID, err)
		}
	}
	if err := s.CreateSigningKey(ctx, key("a-tie", testNow)); err == nil {
		t.Errorf("CreateSigningKey with a taken ID: got nil error, want one")
	}
	for range 2 { // retiring twice is not an error
		if err := s.RetireSigningKey(ctx, "f-to-retire", testNow); err != nil {
			t.Fatalf("RetireSigningKey: %v", err)
		}
	}
	if err := s.RetireSigningKey(ctx, "no-such-key", testNow); err != nil {
		t.Errorf("RetireSigningKey(unknown): got %v, want nil", err)
	}

	got, err = s.SigningKeys(ctx)
	if err != nil {
		t.Fatalf("SigningKeys: %v", err)
	}
	// Newest activation first; a tie is broken by ID, descending; retired
	// keys are left out.
	wantOrder := []string{"d-future", "c-tie", "a-tie", "b-old"}
	gotOrder := ids(got, func(k gatehouse.SigningKey) string { return k.ID })
	if !slices.Equal(gotOrder, wantOrder) {
		t.Fatalf("SigningKeys order = %q, want %q", gotOrder, wantOrder)
	}
	byID := map[string]*gatehouse.SigningKey{}
	for _, k := range keys {
		byID[k.ID] = k
	}
	for _, g := range got {
		w := byID[g.ID]
		if g.Algorithm != w.Algorithm || !bytes.Equal(g.PublicKey, w.PublicKey) || !bytes.Equal(g.PrivateKeyEnc, w.PrivateKeyEnc) {
			t.Errorf("key %s = %+v, want %+v", g.ID, g, *w)
		}
		if !g.CreatedAt.Equal(w.CreatedAt) || !g.ActivatedAt.Equal(w.ActivatedAt) {
			t.Errorf("key %s times = %v, %v, want %v, %v", g.ID, g.CreatedAt, g.ActivatedAt, w.CreatedAt, w.ActivatedAt)
		}
		if g.RetiredAt != nil {
			t.Errorf("key %s RetiredAt = %v, want nil", g.ID, *g.RetiredAt)
		}
	}
}
