package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse"
)

// addNote stores a note with a random ID.
func addNote(t *testing.T, s Store, owner *gatehouse.User, title, body string, tags ...string) *gatehouse.Note {
	t.Helper()
	n := &gatehouse.Note{ID: uuid.NewString(), OwnerID: owner.ID, Title: title, Body: body, Tags: tags}
	if err := s.CreateNote(t.Context(), n); err != nil {
		t.Fatalf("create note %q: %v", title, err)
	}
	return n
}

func share(t *testing.T, s Store, n *gatehouse.Note, with *gatehouse.User, a gatehouse.NoteAccess) {
	t.Helper()
	if _, err := s.ShareNote(t.Context(), n.ID, n.OwnerID, with.ID, a); err != nil {
		t.Fatalf("share %s with %s: %v", n.Title, with.Username, err)
	}
}

// listAll pages through every note userID may read, limit at a time, and
// calls between after each page.
func listAll(t *testing.T, s Store, userID string, q gatehouse.NoteQuery, between func(page int)) []gatehouse.Note {
	t.Helper()
	var all []gatehouse.Note
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatal("pagination does not end")
		}
		got, err := s.Notes(t.Context(), userID, q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, got...)
		if len(got) < q.Limit {
			return all
		}
		last := got[len(got)-1]
		q.After = &gatehouse.NoteCursor{CreatedAt: last.CreatedAt, ID: last.ID}
		if between != nil {
			between(page)
		}
	}
}

// Notes checks creating, reading, updating, deleting and sharing notes, and
// the object-level rules (OWASP API1:2023) of every method.
func Notes(t *testing.T, newDB NewDB) {
	t.Run("create and read", func(t *testing.T) {
		s := migrated(t, newDB)
		ctx := t.Context()
		alice := mustCreateUser(t, s, newUser("alice"))
		n := addNote(t, s, alice, "Title", "<p>body</p>", "a", "b")
		if n.OwnerUsername != "alice" || n.Access != gatehouse.NoteOwner || !n.CreatedAt.Equal(testNow) || !n.UpdatedAt.Equal(n.CreatedAt) {
			t.Errorf("created note: got %+v, want owner alice, access owner, times now and equal", n)
		}
		got, err := s.NoteFor(ctx, n.ID, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := gatehouse.Note{ID: n.ID, OwnerID: alice.ID, OwnerUsername: "alice", Title: "Title", Body: "<p>body</p>",
			Tags: []string{"a", "b"}, CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, Access: gatehouse.NoteOwner, Shares: []gatehouse.Share{}}
		if fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", want) {
			t.Errorf("got %+v, want %+v", *got, want)
		}

		noTags := addNote(t, s, alice, "No tags", "")
		got, err = s.NoteFor(ctx, noTags.ID, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Tags == nil || len(got.Tags) != 0 {
			t.Errorf("tags: got %#v, want an empty, non-nil slice", got.Tags)
		}

		// Tags that JSON escapes come back as given.
		odd := addNote(t, s, alice, "Odd tags", "", `"quoted"`, `back\slash`, "<b>&", "\u2028", "tab\there", "ünï")
		got, err = s.NoteFor(ctx, odd.ID, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Tags, odd.Tags) {
			t.Errorf("tags: got %q, want %q", got.Tags, odd.Tags)
		}

		err = s.CreateNote(ctx, &gatehouse.Note{ID: uuid.NewString(), OwnerID: "id-nobody", Title: "x"})
		if !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("unknown owner: got %v, want ErrNotFound", err)
		}
		err = s.CreateNote(ctx, &gatehouse.Note{ID: n.ID, OwnerID: alice.ID, Title: "x"})
		var ce *gatehouse.ConflictError
		if !errors.As(err, &ce) || ce.Field != "id" {
			t.Errorf("taken ID: got %v, want a ConflictError on id", err)
		}
		for _, title := range []string{"", strings.Repeat("x", 201)} {
			err = s.CreateNote(ctx, &gatehouse.Note{ID: uuid.NewString(), OwnerID: alice.ID, Title: title})
			if err == nil || errors.Is(err, gatehouse.ErrConflict) || errors.Is(err, gatehouse.ErrNotFound) {
				t.Errorf("title of %d characters: got %v, want the schema's refusal", len([]rune(title)), err)
			}
		}
		// 200 characters of 4 bytes each is within the limit.
		long := addNote(t, s, alice, string(slices.Repeat([]rune("🔑"), 200)), "")
		if got, err := s.NoteFor(ctx, long.ID, alice.ID); err != nil || got.Title != long.Title {
			t.Errorf("200-character title: got %v, want it back", err)
		}
	})

	t.Run("creation times increase", func(t *testing.T) {
		// Creation times strictly increase in insertion order even when
		// the clock stands still or steps back, which the keyset cursor
		// relies on.
		s := migrated(t, newDB)
		alice := mustCreateUser(t, s, newUser("alice"))
		base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		clock := []time.Time{base, base, base.Add(-time.Hour), base.Add(time.Second)}
		var prev time.Time
		for i, c := range clock {
			s.SetClock(func() time.Time { return c })
			n := addNote(t, s, alice, fmt.Sprint("n", i), "")
			if !n.CreatedAt.After(prev) {
				t.Errorf("note %d: got created_at %v, want after %v", i, n.CreatedAt, prev)
			}
			if got, err := s.NoteFor(t.Context(), n.ID, alice.ID); err != nil || !got.CreatedAt.Equal(n.CreatedAt) {
				t.Errorf("note %d: stored created_at %v, %v; want %v", i, got.CreatedAt, err, n.CreatedAt)
			}
			prev = n.CreatedAt
		}
		if want := base.Add(time.Second); !prev.Equal(want) {
			t.Errorf("after the clock caught up: got %v, want %v", prev, want)
		}
		if want := base.Add(2 * time.Microsecond); !slices.ContainsFunc(listAll(t, s, alice.ID, gatehouse.NoteQuery{Limit: 10}, nil),
			func(n gatehouse.Note) bool { return n.CreatedAt.Equal(want) }) {
			t.Errorf("no note at %v: a stalled clock must advance by one microsecond per note", want)
		}
	})

	t.Run("object-level rules", func(t *testing.T) {
		s := migrated(t, newDB)
		ctx := t.Context()
		alice, bob, carol, dave := mustCreateUser(t, s, newUser("alice")), mustCreateUser(t, s, newUser("bob")),
			mustCreateUser(t, s, newUser("carol")), mustCreateUser(t, s, newUser("dave"))
		n := addNote(t, s, alice, "Shared", "body")
		share(t, s, n, bob, gatehouse.NoteRead)
		share(t, s, n, carol, gatehouse.NoteWrite)

		cases := []struct {
			user                      *gatehouse.User
			access                    gatehouse.NoteAccess // "" for not found
			write, manage, seesShares bool
			listed                    bool
		}{
			{alice, gatehouse.NoteOwner, true, true, true, true},
			{bob, gatehouse.NoteRead, false, false, false, true},
			{carol, gatehouse.NoteWrite, true, false, false, true},
			{dave, "", false, false, false, false},
		}
		// ok maps "allowed" to the error a method must return.
		ok := func(allowed bool) error {
			if allowed {
				return nil
			}
			return gatehouse.ErrNotFound
		}
		for _, c := range cases {
			t.Run(c.user.Username, func(t *testing.T) {
				got, err := s.NoteFor(ctx, n.ID, c.user.ID)
				if c.access == "" {
					if !errors.Is(err, gatehouse.ErrNotFound) {
						t.Errorf("NoteFor: got %v, want ErrNotFound", err)
					}
				} else if err != nil {
					t.Errorf("NoteFor: got %v, want the note", err)
				} else {
					if got.Access != c.access {
						t.Errorf("access: got %q, want %q", got.Access, c.access)
					}
					if (got.Shares != nil) != c.seesShares {
						t.Errorf("shares: got %v, want shown=%v", got.Shares, c.seesShares)
					}
				}

				list, err := s.Notes(ctx, c.user.ID, gatehouse.NoteQuery{Limit: 10})
				if err != nil {
					t.Fatal(err)
				}
				if listed := len(list) == 1 && list[0].ID == n.ID && list[0].Access == c.access; listed != c.listed {
					t.Errorf("Notes: got %+v, want listed=%v", list, c.listed)
				}
				if len(list) == 1 && (list[0].Shares != nil) != c.seesShares {
					t.Errorf("Notes: shares %v, want shown=%v", list[0].Shares, c.seesShares)
				}

				title := "changed by " + c.user.Username
				_, err = s.UpdateNote(ctx, n.ID, c.user.ID, gatehouse.NoteUpdate{Title: &title})
				if want := ok(c.write); !errors.Is(err, want) {
					t.Errorf("UpdateNote: got %v, want %v", err, want)
				}
				_, err = s.UpdateNote(ctx, n.ID, c.user.ID, gatehouse.NoteUpdate{})
				if want := ok(c.write); !errors.Is(err, want) {
					t.Errorf("empty UpdateNote: got %v, want %v", err, want)
				}
				if c.manage {
					return // the owner's delete and unshare are tested below
				}
				if _, err := s.ShareNote(ctx, n.ID, c.user.ID, dave.ID, gatehouse.NoteWrite); !errors.Is(err, gatehouse.ErrNotFound) {
					t.Errorf("ShareNote: got %v, want ErrNotFound", err)
				}
				if err := s.UnshareNote(ctx, n.ID, c.user.ID, bob.ID); !errors.Is(err, gatehouse.ErrNotFound) {
					t.Errorf("UnshareNote: got %v, want ErrNotFound", err)
				}
				if err := s.DeleteNote(ctx, n.ID, c.user.ID); !errors.Is(err, gatehouse.ErrNotFound) {
					t.Errorf("DeleteNote: got %v, want ErrNotFound", err)
				}
			})
		}

		// Nothing the others tried changed the shares or removed the note.
		got, err := s.NoteFor(ctx, n.ID, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantShares := []gatehouse.Share{{Username: "bob", Access: gatehouse.NoteRead}, {Username: "carol", Access: gatehouse.NoteWrite}}
		if !slices.Equal(got.Shares, wantShares) {
			t.Errorf("shares: got %v, want %v", got.Shares, wantShares)
		}
		if got.Title != "changed by carol" {
			t.Errorf("title: got %q, want the write share's change to stand", got.Title)
		}

		if err := s.DeleteNote(ctx, n.ID, alice.ID); err != nil {
			t.Fatalf("owner's DeleteNote: %v", err)
		}
		for _, u := range []*gatehouse.User{alice, bob, carol} {
			if _, err := s.NoteFor(ctx, n.ID, u.ID); !errors.Is(err, gatehouse.ErrNotFound) {
				t.Errorf("after delete, %s: got %v, want ErrNotFound", u.Username, err)
			}
			if list, _ := s.Notes(ctx, u.ID, gatehouse.NoteQuery{Limit: 10}); len(list) != 0 {
				t.Errorf("after delete, %s lists %d notes, want 0", u.Username, len(list))
			}
		}
		if err := s.DeleteNote(ctx, n.ID, alice.ID); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("second DeleteNote: got %v, want ErrNotFound", err)
		}
		if err := s.UnshareNote(ctx, n.ID, alice.ID, bob.ID); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("UnshareNote of a deleted note: got %v, want ErrNotFound", err)
		}
	})

	t.Run("shares", func(t *testing.T) {
		s := migrated(t, newDB)
		ctx := t.Context()
		alice, bob := mustCreateUser(t, s, newUser("alice")), mustCreateUser(t, s, newUser("bob"))
		n := addNote(t, s, alice, "N", "")

		steps := []struct {
			name    string
			do      func() (bool, error)
			created bool
			bobs    gatehouse.NoteAccess // bob's access afterwards, "" for none
		}{
			{"share read", func() (bool, error) { return s.ShareNote(ctx, n.ID, alice.ID, bob.ID, gatehouse.NoteRead) }, true, gatehouse.NoteRead},
			{"widen to write", func() (bool, error) { return s.ShareNote(ctx, n.ID, alice.ID, bob.ID, gatehouse.NoteWrite) }, false, gatehouse.NoteWrite},
			{"same again", func() (bool, error) { return s.ShareNote(ctx, n.ID, alice.ID, bob.ID, gatehouse.NoteWrite) }, false, gatehouse.NoteWrite},
			{"narrow to read", func() (bool, error) { return s.ShareNote(ctx, n.ID, alice.ID, bob.ID, gatehouse.NoteRead) }, false, gatehouse.NoteRead},
			{"unshare", func() (bool, error) { return false, s.UnshareNote(ctx, n.ID, alice.ID, bob.ID) }, false, ""},
			{"unshare again", func() (bool, error) { return false, s.UnshareNote(ctx, n.ID, alice.ID, bob.ID) }, false, ""},
			{"unshare an unknown user", func() (bool, error) { return false, s.UnshareNote(ctx, n.ID, alice.ID, "id-nobody") }, false, ""},
			{"share again", func() (bool, error) { return s.ShareNote(ctx, n.ID, alice.ID, bob.ID, gatehouse.NoteRead) }, true, gatehouse.NoteRead},
		}
		for _, st := range steps {
			created, err := st.do()
			if err != nil || created != st.created {
				t.Fatalf("%s: got %v, %v; want %v, nil", st.name, created, err, st.created)
			}
			got, err := s.NoteFor(ctx, n.ID, bob.ID)
			var access gatehouse.NoteAccess
			if err == nil {
				access = got.Access
			} else if !errors.Is(err, gatehouse.ErrNotFound) {
				t.Fatal(err)
			}
			if access != st.bobs {
				t.Errorf("%s: bob's access: got %q, want %q", st.name, access, st.bobs)
			}
		}

		refused := []struct {
			name          string
			owner, sharee string
			access        gatehouse.NoteAccess
			wantNotFound  bool
		}{
			{"with the owner", alice.ID, alice.ID, gatehouse.NoteRead, false},
			{"unknown sharee", alice.ID, "id-nobody", gatehouse.NoteRead, true},
			{"owner access", alice.ID, bob.ID, gatehouse.NoteOwner, false},
			{"empty access", alice.ID, bob.ID, "", false},
			{"unknown access", alice.ID, bob.ID, "admin", false},
		}
		for _, c := range refused {
			_, err := s.ShareNote(ctx, n.ID, c.owner, c.sharee, c.access)
			if err == nil || errors.Is(err, gatehouse.ErrNotFound) != c.wantNotFound {
				t.Errorf("%s: got %v, want an error (ErrNotFound: %v)", c.name, err, c.wantNotFound)
			}
		}
		if got, _ := s.NoteFor(ctx, n.ID, bob.ID); got == nil || got.Access != gatehouse.NoteRead {
			t.Errorf("refused shares changed bob's access: got %+v", got)
		}
		if got, err := s.NoteFor(ctx, n.ID, alice.ID); err != nil || got.Access != gatehouse.NoteOwner || len(got.Shares) != 1 {
			t.Errorf("refused shares changed alice's view: got %+v, %v", got, err)
		}

		// The owner sees the shares sorted by username (byte order), whatever
		// the order they were made in.
		for _, name := range []string{"zed", "amy", "a.b", "a_b", "a-b", "Zoe"} {
			share(t, s, n, mustCreateUser(t, s, newUser(name)), gatehouse.NoteWrite)
		}
		got, err := s.NoteFor(ctx, n.ID, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantNames := []string{"Zoe", "a-b", "a.b", "a_b", "amy", "bob", "zed"}
		if g := ids(got.Shares, func(s gatehouse.Share) string { return s.Username }); !slices.Equal(g, wantNames) {
			t.Errorf("shares: got %q, want %q", g, wantNames)
		}
	})

	t.Run("update", func(t *testing.T) {
		s := migrated(t, newDB)
		ctx := t.Context()
		alice := mustCreateUser(t, s, newUser("alice"))
		now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		s.SetClock(func() time.Time { return now })
		n := addNote(t, s, alice, "T", "B", "x")

		str := func(s string) *string { return &s }
		tags := func(s ...string) *[]string { return &s }
		cases := []struct {
			name    string
			u       gatehouse.NoteUpdate
			want    [3]string // title, body, tags
			touched bool
		}{
			{"nothing", gatehouse.NoteUpdate{}, [3]string{"T", "B", "[x]"}, false},
			{"title only", gatehouse.NoteUpdate{Title: str("T2")}, [3]string{"T2", "B", "[x]"}, true},
			{"body only", gatehouse.NoteUpdate{Body: str("")}, [3]string{"T2", "", "[x]"}, true},
			{"tags only", gatehouse.NoteUpdate{Tags: tags("y", "z")}, [3]string{"T2", "", "[y z]"}, true},
			{"clear tags", gatehouse.NoteUpdate{Tags: tags()}, [3]string{"T2", "", "[]"}, true},
			{"nil tags slice", gatehouse.NoteUpdate{Tags: new([]string)}, [3]string{"T2", "", "[]"}, true},
			{"all", gatehouse.NoteUpdate{Title: str("T3"), Body: str("B3"), Tags: tags("q")}, [3]string{"T3", "B3", "[q]"}, true},
		}
		prev := n.UpdatedAt
		for _, c := range cases {
			now = now.Add(time.Minute)
			got, err := s.UpdateNote(ctx, n.ID, alice.ID, c.u)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if g := [3]string{got.Title, got.Body, fmt.Sprint(got.Tags)}; g != c.want {
				t.Errorf("%s: got %q, want %q", c.name, g, c.want)
			}
			if touched := !got.UpdatedAt.Equal(prev); touched != c.touched {
				t.Errorf("%s: updated_at went from %v to %v, want changed=%v", c.name, prev, got.UpdatedAt, c.touched)
			}
			if c.touched && !got.UpdatedAt.Equal(now) {
				t.Errorf("%s: updated_at %v, want %v", c.name, got.UpdatedAt, now)
			}
			if !got.CreatedAt.Equal(n.CreatedAt) {
				t.Errorf("%s: created_at changed from %v to %v", c.name, n.CreatedAt, got.CreatedAt)
			}
			prev = got.UpdatedAt
		}
		// A clock that steps back does not move updated_at back.
		now = now.Add(-time.Hour)
		got, err := s.UpdateNote(ctx, n.ID, alice.ID, gatehouse.NoteUpdate{Title: str("T4")})
		if err != nil || !got.UpdatedAt.Equal(prev) {
			t.Errorf("update with the clock behind: updated_at %v, %v; want it kept at %v", got.UpdatedAt, err, prev)
		}
		if _, err := s.UpdateNote(ctx, uuid.NewString(), alice.ID, gatehouse.NoteUpdate{Title: str("x")}); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("unknown note: got %v, want ErrNotFound", err)
		}
		// A title the schema refuses changes nothing.
		if _, err := s.UpdateNote(ctx, n.ID, alice.ID, gatehouse.NoteUpdate{Title: str(""), Body: str("lost")}); err == nil {
			t.Errorf("empty title: got nil, want the schema's refusal")
		}
		if got, _ := s.NoteFor(ctx, n.ID, alice.ID); got.Body != "B3" {
			t.Errorf("after a refused update: body %q, want %q", got.Body, "B3")
		}
	})

	t.Run("injection strings are data", func(t *testing.T) {
		// SQL-injection payloads in every text field are read back
		// unchanged; as IDs and user IDs they find nothing (OWASP ASVS
		// 5.0 §1.2.4).
		s := migrated(t, newDB)
		ctx := t.Context()
		alice := mustCreateUser(t, s, newUser("alice"))
		payloads := []string{
			`'`, `"`, `' OR 1=1 --`, `" OR ""="`, `'; DROP TABLE notes; --`, `1; DELETE FROM users`,
			`' UNION SELECT username, password_hash FROM users --`, `\'; --`, `%' --`, `?1 ?2 :a @b $c $1`,
			"x') ; ATTACH DATABASE '/tmp/pwn.db' AS pwn; --", `$$; DROP TABLE notes; $$`, `E'\x27'`,
		}
		for _, p := range payloads {
			n := addNote(t, s, alice, p, p, p, "t")
			got, err := s.NoteFor(ctx, n.ID, alice.ID)
			if err != nil {
				t.Fatalf("payload %q: %v", p, err)
			}
			if got.Title != p || got.Body != p || !slices.Equal(got.Tags, []string{p, "t"}) {
				t.Errorf("payload %q: got title %q body %q tags %q, want it back unchanged", p, got.Title, got.Body, got.Tags)
			}
			if _, err := s.NoteFor(ctx, p, alice.ID); !errors.Is(err, gatehouse.ErrNotFound) {
				t.Errorf("payload %q as note ID: got %v, want ErrNotFound", p, err)
			}
			if _, err := s.NoteFor(ctx, n.ID, p); !errors.Is(err, gatehouse.ErrNotFound) {
				t.Errorf("payload %q as user ID: got %v, want ErrNotFound", p, err)
			}
			if list, err := s.Notes(ctx, p, gatehouse.NoteQuery{Limit: 10}); err != nil || len(list) != 0 {
				t.Errorf("payload %q as lister: got %d notes, %v; want none", p, len(list), err)
			}
			after := &gatehouse.NoteCursor{CreatedAt: time.Now().Add(time.Hour), ID: p}
			if _, err := s.Notes(ctx, alice.ID, gatehouse.NoteQuery{Limit: 10, After: after}); err != nil {
				t.Errorf("payload %q in a cursor: %v", p, err)
			}
			upd := p + " (edited)"
			if got, err := s.UpdateNote(ctx, n.ID, alice.ID, gatehouse.NoteUpdate{Title: &upd, Tags: &[]string{upd}}); err != nil || got.Title != upd || got.Tags[0] != upd {
				t.Errorf("payload %q in an update: got %+v, %v", p, got, err)
			}
			if _, err := s.ShareNote(ctx, n.ID, alice.ID, p, gatehouse.NoteRead); !errors.Is(err, gatehouse.ErrNotFound) {
				t.Errorf("payload %q as sharee: got %v, want ErrNotFound", p, err)
			}
		}
		list, err := s.Notes(ctx, alice.ID, gatehouse.NoteQuery{Limit: 100})
		if err != nil || len(list) != len(payloads) {
			t.Errorf("after the payloads: got %d notes, %v; want %d", len(list), err, len(payloads))
		}
		if _, err := s.UserByUsername(ctx, "alice"); err != nil {
			t.Errorf("users table after the payloads: %v", err)
		}
	})
}

// NotesConcurrent: notes created from several goroutines and two instances
// at once each get their own creation time, and paging lists each exactly
// once; concurrent shares of one note with one user report one new share.
func NotesConcurrent(t *testing.T, newDB NewDB) {
	a, b := migratedPair(t, newDB)
	ctx := t.Context()
	alice := mustCreateUser(t, a, newUser("alice"))
	bob := mustCreateUser(t, a, newUser("bob"))

	t.Run("creates", func(t *testing.T) {
		const workers, each = 8, 10
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			s := []Store{a, b}[w%2]
			wg.Go(func() {
				for i := range each {
					n := &gatehouse.Note{ID: uuid.NewString(), OwnerID: alice.ID, Title: fmt.Sprint(w, "-", i)}
					errs <- s.CreateNote(context.Background(), n)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		all := listAll(t, a, alice.ID, gatehouse.NoteQuery{Limit: 7}, nil)
		if len(all) != workers*each {
			t.Fatalf("got %d notes, want %d", len(all), workers*each)
		}
		seenID, seenTime := map[string]bool{}, map[time.Time]bool{}
		for i, n := range all {
			if seenID[n.ID] || seenTime[n.CreatedAt] {
				t.Errorf("note %d (%s at %v) repeats an ID or a creation time", i, n.ID, n.CreatedAt)
			}
			seenID[n.ID], seenTime[n.CreatedAt] = true, true
			if i > 0 && !n.CreatedAt.Before(all[i-1].CreatedAt) {
				t.Errorf("note %d: created %v, not before the previous %v", i, n.CreatedAt, all[i-1].CreatedAt)
			}
		}
	})

	t.Run("shares", func(t *testing.T) {
		for round := range 5 {
			n := addNote(t, a, alice, fmt.Sprint("shared ", round), "")
			const callers = 10
			created := make([]bool, callers)
			errs := make([]error, callers)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range callers {
				s := []Store{a, b}[i%2]
				access := []gatehouse.NoteAccess{gatehouse.NoteRead, gatehouse.NoteWrite}[i%2]
				wg.Go(func() {
					<-start
					created[i], errs[i] = s.ShareNote(ctx, n.ID, alice.ID, bob.ID, access)
				})
			}
			close(start)
			wg.Wait()
			news := 0
			for i := range callers {
				if errs[i] != nil {
					t.Fatalf("round %d, caller %d: %v", round, i, errs[i])
				}
				if created[i] {
					news++
				}
			}
			if news != 1 {
				t.Errorf("round %d: %d callers were told the share is new, want 1", round, news)
			}
		}
	})
}

// NotesSearch checks that a search term is literal text (no wildcards, no
// SQL), ignores ASCII case only, and finds text in sanitized HTML bodies.
func NotesSearch(t *testing.T, newDB NewDB) {
	s := migrated(t, newDB)
	alice, bob := mustCreateUser(t, s, newUser("alice")), mustCreateUser(t, s, newUser("bob"))
	titles := []string{"100% done", "1000 done", "a_b", "axb", `back\slash`, "plain", "O'Brien", "Crème brûlée", "ÉCOLE"}
	for _, title := range titles {
		addNote(t, s, alice, title, "")
	}
	// Bodies are stored sanitized: text characters &, <, >, " and ' as
	// character references. A search for the text finds them.
	addNote(t, s, alice, "html body", "<p>Tom &amp; Jerry &lt;3 &#34;quoted&#34; &#39;single&#39;</p>")
	addNote(t, s, bob, "100% bob's", "") // not alice's
	shared := addNote(t, s, bob, "shared with alice", "<p>needle</p>")
	share(t, s, shared, alice, gatehouse.NoteRead)

	cases := []struct {
		q    string
		want []string
	}{
		{"", append(slices.Clone(titles), "html body", "shared with alice")},
		{"%", []string{"100% done"}},
		{"100%", []string{"100% done"}},
		{"_", []string{"a_b"}},
		{"a_b", []string{"a_b"}},
		{`\`, []string{`back\slash`}},
		{`\s`, []string{`back\slash`}},
		{`\%`, nil},
		{"PLAIN", []string{"plain"}},
		{"pLaIn", []string{"plain"}},
		{"done", []string{"100% done", "1000 done"}},
		{"'", []string{"O'Brien", "html body"}},
		{"O'Brien", []string{"O'Brien"}},
		{"Tom & Jerry", []string{"html body"}},
		{"<3", []string{"html body"}},
		{`"quoted"`, []string{"html body"}},
		{"'single'", []string{"html body"}},
		{"<p>", []string{"html body", "shared with alice"}},
		{"&amp;", []string{"html body"}},
		{"NEEDLE", []string{"shared with alice"}},
		// ASCII letters fold, others do not, as SQLite's LIKE does.
		{"crème", []string{"Crème brûlée"}},
		{"BRÛLÉE", nil},
		{"école", nil},
		{"ÉCOLE", []string{"ÉCOLE"}},
		{"Écol", []string{"ÉCOLE"}},
		{"nothing like it", nil},
		{"' OR 1=1 --", nil},
		{"%' OR '1'='1", nil},
		{"') UNION SELECT id, owner_id, title, body, tags, created_at, updated_at, 'owner', NULL FROM notes --", nil},
		{"'; DROP TABLE notes; --", nil},
	}
	for _, c := range cases {
		got, err := s.Notes(t.Context(), alice.ID, gatehouse.NoteQuery{Search: c.q, Limit: 100})
		if err != nil {
			t.Fatalf("q=%q: %v", c.q, err)
		}
		titles := ids(got, func(n gatehouse.Note) string { return n.Title })
		slices.Sort(titles)
		want := slices.Sorted(slices.Values(c.want))
		if !slices.Equal(titles, want) {
			t.Errorf("q=%q: got %q, want %q", c.q, titles, want)
		}
	}
	// Paging a search keeps to the matches.
	got := listAll(t, s, alice.ID, gatehouse.NoteQuery{Search: "o", Limit: 2}, nil)
	titlesO := ids(got, func(n gatehouse.Note) string { return n.Title })
	slices.Sort(titlesO)
	if want := []string{"100% done", "1000 done", "O'Brien", "ÉCOLE", "html body"}; !slices.Equal(titlesO, slices.Sorted(slices.Values(want))) {
		t.Errorf("paged search for %q: got %q, want %q", "o", titlesO, want)
	}
	// The table survived the payloads.
	if got, err := s.Notes(t.Context(), alice.ID, gatehouse.NoteQuery{Limit: 100}); err != nil || len(got) != len(titles)+2 {
		t.Errorf("after the searches: got %d notes, %v; want %d", len(got), err, len(titles)+2)
	}
}

// NotesPagination checks keyset paging: every page size lists every note
// once, in order, and notes added between pages come before the cursor.
func NotesPagination(t *testing.T, newDB NewDB) {
	s := migrated(t, newDB)
	alice, bob, eve := mustCreateUser(t, s, newUser("alice")), mustCreateUser(t, s, newUser("bob")), mustCreateUser(t, s, newUser("eve"))
	// Every note gets the same clock reading, so the order rests on the
	// store's strictly increasing times and the ID tie-break.
	var want []string // newest first
	for i := range 23 {
		switch i % 3 {
		case 0:
			want = append(want, addNote(t, s, alice, fmt.Sprint("own ", i), "").ID)
		case 1:
			n := addNote(t, s, bob, fmt.Sprint("shared ", i), "")
			share(t, s, n, alice, gatehouse.NoteRead)
			want = append(want, n.ID)
		case 2:
			addNote(t, s, eve, fmt.Sprint("eve's ", i), "") // never listed for alice
		}
	}
	slices.Reverse(want)

	for _, limit := range []int{1, 2, 5, 15, 16, 100} {
		got := ids(listAll(t, s, alice.ID, gatehouse.NoteQuery{Limit: limit}, nil), noteID)
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: got %d notes %v, want %d %v", limit, len(got), got, len(want), want)
		}
	}
	for _, limit := range []int{0, -1} {
		if got, err := s.Notes(t.Context(), alice.ID, gatehouse.NoteQuery{Limit: limit}); err != nil || len(got) != 0 {
			t.Errorf("limit %d: got %d notes, %v; want none", limit, len(got), err)
		}
	}

	// Notes added between pages, owned or newly shared, come before the
	// cursor and never show up in later pages; no note is skipped or
	// repeated.
	var added []string
	got := listAll(t, s, alice.ID, gatehouse.NoteQuery{Limit: 4}, func(page int) {
		added = append(added, addNote(t, s, alice, fmt.Sprint("new ", page), "").ID)
		n := addNote(t, s, bob, fmt.Sprint("new shared ", page), "")
		share(t, s, n, alice, gatehouse.NoteWrite)
		added = append(added, n.ID)
	})
	if !slices.Equal(ids(got, noteID), want) {
		t.Errorf("with inserts between pages: got %v, want %v", ids(got, noteID), want)
	}
	// A fresh listing shows them first.
	fresh := ids(listAll(t, s, alice.ID, gatehouse.NoteQuery{Limit: 100}, nil), noteID)
	slices.Reverse(added)
	if !slices.Equal(fresh, append(added, want...)) {
		t.Errorf("fresh listing: got %v, want the added notes, newest first, then the rest", fresh)
	}

	// Cursors at the ends of time: before everything, nothing is older;
	// after everything, everything is.
	for _, c := range []struct {
		at   time.Time
		want int
	}{
		{time.UnixMicro(math.MinInt64), 0},
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), 0},
		{time.UnixMicro(math.MaxInt64), len(fresh)},
	} {
		got, err := s.Notes(t.Context(), alice.ID, gatehouse.NoteQuery{Limit: 100, After: &gatehouse.NoteCursor{CreatedAt: c.at, ID: "x"}})
		if err != nil || len(got) != c.want {
			t.Errorf("cursor at %v: got %d notes, %v; want %d", c.at, len(got), err, c.want)
		}
	}
}

// OrderKeys checks that ID order and cursor positions are byte order, for
// any key a caller passes, including text no row can hold: the positions
// are the same on every backend.
func OrderKeys(t *testing.T, newDB NewDB) {
	s := migrated(t, newDB)
	ctx := t.Context()
	userIDs := []string{"id-", "id-A", "id-a", "id-a.b", "id-a_b", "id-z", "id-~", "id-\u007f", "id-é", "id-ÿ", "id-Ā",
		"id-中", "id-\uffff", "id-\U00010000", "id-\U0010FFFF", "id-\u0001", "id-a\u0001"}
	for i, id := range userIDs {
		u := newUser(fmt.Sprint("order", i))
		u.ID = id
		mustCreateUser(t, s, u)
	}
	sorted := slices.Sorted(slices.Values(userIDs))
	keys := []string{"", "id", "id-", "id-a", "id-a\x00", "id-a\x00b", "id-\x00", "id-\x80", "id-\xc3", "id-\xc3\x28",
		"id-\xc3\xa9\xa9", "id-\xe4\xb8", "id-\xed\xa0\x80", "id-\xef\xbf\xbf\xff", "id-\xf4\x8f\xbf\xbf\x00",
		"id-\xf4\x90\x80\x80", "id-\xff", "id-\xf8", "\xff", "\xff\xff", "\x00", "id-é\x00", "id-\U0010FFFF\xff", "ie\xff"}
	t.Run("users after", func(t *testing.T) {
		for _, key := range keys {
			var want []string
			for _, id := range sorted {
				if id > key {
					want = append(want, id)
				}
			}
			got, err := s.ListUsers(ctx, key, 100)
			if err != nil {
				t.Errorf("ListUsers(%q): %v", key, err)
				continue
			}
			if g := ids(got, userID); !slices.Equal(g, want) {
				t.Errorf("ListUsers(%q) = %q, want %q", key, g, want)
			}
		}
	})

	t.Run("note cursors", func(t *testing.T) {
		alice := mustCreateUser(t, s, newUser("alice"))
		// Notes with the IDs above, one per creation time.
		var notes []*gatehouse.Note
		for i, id := range userIDs {
			n := &gatehouse.Note{ID: id, OwnerID: alice.ID, Title: fmt.Sprint("n", i)}
			if err := s.CreateNote(ctx, n); err != nil {
				t.Fatal(err)
			}
			notes = append(notes, n)
		}
		for _, n := range []*gatehouse.Note{notes[3], notes[8], notes[14]} {
			for _, key := range keys {
				// Strictly before (CreatedAt, key) in newest-first order.
				var want []string
				for i := len(notes) - 1; i >= 0; i-- {
					m := notes[i]
					if m.CreatedAt.Before(n.CreatedAt) || m.CreatedAt.Equal(n.CreatedAt) && m.ID < key {
						want = append(want, m.ID)
					}
				}
				got, err := s.Notes(ctx, alice.ID, gatehouse.NoteQuery{Limit: 100, After: &gatehouse.NoteCursor{CreatedAt: n.CreatedAt, ID: key}})
				if err != nil {
					t.Errorf("cursor (%s, %q): %v", n.ID, key, err)
					continue
				}
				if g := ids(got, noteID); !slices.Equal(g, want) {
					t.Errorf("cursor (%s, %q) = %q, want %q", n.ID, key, g, want)
				}
			}
		}
	})
}
