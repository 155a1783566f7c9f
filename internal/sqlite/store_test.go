package sqlite_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/sqlite"
)

// store is what these tests need of a backend: the parts of
// gatehouse.Store they cover, plus migrations.
type store interface {
	gatehouse.UserStore
	CreateSigningKey(ctx context.Context, k *gatehouse.SigningKey) error
	SigningKeys(ctx context.Context) ([]gatehouse.SigningKey, error)
	gatehouse.SessionStore
	Ping(ctx context.Context) error
	Close() error
	Migrate(ctx context.Context) (applied []string, err error)
}

// backend makes empty, unmigrated stores of one kind. The tests below use
// only the store interface, so that a second backend (PostgreSQL) can be
// added to backends and run through the same tests.
type backend struct {
	name string
	// newDB makes a new, empty database and returns a constructor of
	// unmigrated stores on it, each with the clock now (nil: the real
	// clock). Every store from one constructor shares the database.
	newDB func(t *testing.T) (open func(t *testing.T, now gatehouse.Clock) store)
}

var backends = []backend{
	{
		name: "sqlite",
		newDB: func(t *testing.T) func(*testing.T, gatehouse.Clock) store {
			path := filepath.Join(t.TempDir(), "gatehouse.db")
			return func(t *testing.T, now gatehouse.Clock) store {
				t.Helper()
				s, err := sqlite.Open(path)
				if err != nil {
					t.Fatalf("Open(%q): %v", path, err)
				}
				t.Cleanup(func() { s.Close() })
				if now != nil {
					s.SetClock(now)
				}
				return s
			}
		},
	},
}

// testNow is the clock of the tests: a fixed time with a microsecond part,
// which every backend must keep.
var testNow = time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)

func fixedClock() time.Time { return testNow }

// forEachBackend runs test on a fresh, migrated store of every backend.
func forEachBackend(t *testing.T, test func(t *testing.T, s store)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.newDB(t)(t, fixedClock)
			if _, err := s.Migrate(t.Context()); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			test(t, s)
		})
	}
}

// newUser returns a valid user whose ID, username and email derive from name.
func newUser(name string, roles ...string) *gatehouse.User {
	return &gatehouse.User{
		ID:           "id-" + name,
		Username:     name,
		Email:        name + "@example.com",
		Age:          30,
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		Roles:        roles,
	}
}

func mustCreateUser(t *testing.T, s store, u *gatehouse.User) {
	t.Helper()
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%q): %v", u.Username, err)
	}
}

func TestMigrate(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			open := b.newDB(t)
			s := open(t, nil)
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
			other := open(t, nil)
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
		})
	}
}

func TestUserRoundTrip(t *testing.T) {
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
		{"unicode email kept as given", func() *gatehouse.User { u := newUser("frank"); u.Email = "Frank.Ünïcödé@Example.COM"; return u }(), nil},
	}
	forEachBackend(t, func(t *testing.T, s store) {
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
}

func TestCreateUserConflict(t *testing.T) {
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
	forEachBackend(t, func(t *testing.T, s store) {
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
	})
}

// A user whose roles cannot be stored is not stored at all: the insert is
// one transaction.
func TestCreateUserAtomic(t *testing.T) {
	tests := []struct {
		name  string
		roles []string
	}{
		{"unknown role", []string{"user", "superuser"}},
		{"repeated role", []string{"user", "user"}},
	}
	forEachBackend(t, func(t *testing.T, s store) {
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
}

// The schema refuses ages outside 13–150 even if a handler let one through
// (defence in depth; handlers validate first).
func TestCreateUserAgeConstraint(t *testing.T) {
	tests := []struct {
		age    int
		wantOK bool
	}{
		{12, false}, {13, true}, {150, true}, {151, false}, {-1, false},
	}
	forEachBackend(t, func(t *testing.T, s store) {
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
}

func TestNotFound(t *testing.T) {
	tests := []struct {
		name string
		call func(ctx context.Context, s store) error
	}{
		{"UserByID", func(ctx context.Context, s store) error { _, err := s.UserByID(ctx, "id-nobody"); return err }},
		{"UserByID empty", func(ctx context.Context, s store) error { _, err := s.UserByID(ctx, ""); return err }},
		{"UserByUsername", func(ctx context.Context, s store) error { _, err := s.UserByUsername(ctx, "nobody"); return err }},
		{"UserByUsername other case", func(ctx context.Context, s store) error { _, err := s.UserByUsername(ctx, "Alice"); return err }},
		{"UserByUsername wildcard", func(ctx context.Context, s store) error { _, err := s.UserByUsername(ctx, "%"); return err }},
		{"UserByUsername single-char wildcard", func(ctx context.Context, s store) error { _, err := s.UserByUsername(ctx, "_lice"); return err }},
		{"UserByUsername injection", func(ctx context.Context, s store) error {
			_, err := s.UserByUsername(ctx, "' OR 1=1 --")
			return err
		}},
		{"UserByID injection", func(ctx context.Context, s store) error { _, err := s.UserByID(ctx, "x' OR '1'='1"); return err }},
		{"SetPasswordHash", func(ctx context.Context, s store) error { return s.SetPasswordHash(ctx, "id-nobody", "h") }},
		{"SetPasswordHash injection", func(ctx context.Context, s store) error {
			return s.SetPasswordHash(ctx, "' OR 1=1 --", "h")
		}},
	}
	forEachBackend(t, func(t *testing.T, s store) {
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
}

func TestSetPasswordHash(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			now := testNow
			s := b.newDB(t)(t, func() time.Time { return now })
			if _, err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
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
}

func TestRolePermissions(t *testing.T) {
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
	}
	forEachBackend(t, func(t *testing.T, s store) {
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
	})
}

// The store does not validate usernames or emails (handlers do): any
// string, hostile or not, is stored and read back literally, never run as
// SQL or matched as a pattern.
func TestHostileStrings(t *testing.T) {
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
		{"NUL byte", "a\x00b"},
		{"leading NUL", "\x00alice"},
		{"newline", "a\nb\r\nc"},
		{"unicode", "ﬁ𝔘ñíçødé 🔑"},
		{"invalid UTF-8", "\xff\xfe\xfd"},
		{"very long", strings.Repeat("A'; --", 20000)},
	}
	forEachBackend(t, func(t *testing.T, s store) {
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
	})
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func TestSigningKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store) {
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

		got, err = s.SigningKeys(ctx)
		if err != nil {
			t.Fatalf("SigningKeys: %v", err)
		}
		// Newest activation first; a tie is broken by ID, descending; a
		// retired key is left out.
		wantOrder := []string{"d-future", "c-tie", "a-tie", "b-old"}
		var gotOrder []string
		for _, k := range got {
			gotOrder = append(gotOrder, k.ID)
		}
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
	})
}

func TestCreateSession(t *testing.T) {
	session := func(id, userID string) *gatehouse.Session {
		return &gatehouse.Session{
			ID: id, UserID: userID,
			CreatedAt: testNow, LastUsedAt: testNow, ExpiresAt: testNow.Add(30 * 24 * time.Hour),
			Scope: "notes:read notes:write", ClientIP: "192.0.2.1", UserAgent: "test/1.0",
		}
	}
	token := func(hash byte, sessionID string) *gatehouse.RefreshToken {
		return &gatehouse.RefreshToken{
			Hash: bytes.Repeat([]byte{hash}, 32), SessionID: sessionID,
			CreatedAt: testNow, ExpiresAt: testNow.Add(14 * 24 * time.Hour),
		}
	}
	tests := []struct {
		name    string
		session *gatehouse.Session
		token   *gatehouse.RefreshToken
		wantErr bool
	}{
		{"first", session("s1", "id-alice"), token(1, "s1"), false},
		{"second session of the same user", session("s2", "id-alice"), token(2, "s2"), false},
		{"hostile user agent", func() *gatehouse.Session {
			s := session("s3", "id-alice")
			s.UserAgent = `'); DROP TABLE sessions; --`
			return s
		}(), token(3, "s3"), false},
		{"taken session ID", session("s1", "id-alice"), token(4, "s1"), true},
		{"unknown user", session("s5", "id-nobody"), token(5, "s5"), true},
		// The refresh token's hash is taken: the session must not be kept
		// either, so the same session ID works with a fresh token below.
		{"taken token hash", session("s6", "id-alice"), token(1, "s6"), true},
		{"after rollback", session("s6", "id-alice"), token(6, "s6"), false},
		{"token for another session", session("s7", "id-alice"), token(7, "s-missing"), true},
		{"after rollback of a bad token", session("s7", "id-alice"), token(7, "s7"), false},
	}
	forEachBackend(t, func(t *testing.T, s store) {
		mustCreateUser(t, s, newUser("alice"))
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := s.CreateSession(t.Context(), tt.session, tt.token)
				if (err != nil) != tt.wantErr {
					t.Errorf("CreateSession: got %v, want error %v", err, tt.wantErr)
				}
			})
		}
	})
}

// Writers on separate connections to one database wait for each other
// instead of failing with "database is locked".
func TestConcurrentWriters(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			open := b.newDB(t)
			first := open(t, nil)
			if _, err := first.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			stores := []store{first, open(t, nil), open(t, nil)}
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
		})
	}
}

func TestOpenError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing-dir", "gatehouse.db")
	s, err := sqlite.Open(path)
	if err == nil {
		s.Close()
		t.Fatalf("Open(%q): got nil error, want one", path)
	}
}

// Two processes (a starting server and `gatehouse migrate`, or two servers)
// may migrate one database at once; both must succeed.
func TestMigrateConcurrent(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			open := b.newDB(t)
			stores := []store{open(t, nil), open(t, nil), open(t, nil), open(t, nil)}
			var wg sync.WaitGroup
			errs := make([]error, len(stores))
			for i, s := range stores {
				wg.Go(func() { _, errs[i] = s.Migrate(t.Context()) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("Migrate on store %d: got %v, want nil", i, err)
				}
			}
		})
	}
}
