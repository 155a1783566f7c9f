package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/sqlite"
)

// newNoteStore opens a migrated store on a new SQLite file.
func newNoteStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "notes.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

// noteUser stores an account named name; its ID is "id-" + name.
func noteUser(t *testing.T, st *sqlite.Store, name string) *gatehouse.User {
	t.Helper()
	u := &gatehouse.User{ID: "id-" + name, Username: name, Email: name + "@example.com", Age: 30, PasswordHash: "x", Roles: []string{gatehouse.RoleUser}}
	if err := st.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

// addNote stores a note with a random ID.
func addNote(t *testing.T, st *sqlite.Store, owner *gatehouse.User, title, body string, tags ...string) *gatehouse.Note {
	t.Helper()
	n := &gatehouse.Note{ID: uuid.NewString(), OwnerID: owner.ID, Title: title, Body: body, Tags: tags}
	if err := st.CreateNote(context.Background(), n); err != nil {
		t.Fatalf("create note %q: %v", title, err)
	}
	return n
}

func share(t *testing.T, st *sqlite.Store, n *gatehouse.Note, with *gatehouse.User, a gatehouse.NoteAccess) {
	t.Helper()
	if _, err := st.ShareNote(context.Background(), n.ID, n.OwnerID, with.ID, a); err != nil {
		t.Fatalf("share %s with %s: %v", n.Title, with.Username, err)
	}
}

func TestNoteCreateAndRead(t *testing.T) {
	st := newNoteStore(t)
	ctx := context.Background()
	alice := noteUser(t, st, "alice")
	n := addNote(t, st, alice, "Title", "<p>body</p>", "a", "b")
	if n.OwnerUsername != "alice" || n.Access != gatehouse.NoteOwner || n.CreatedAt.IsZero() || !n.UpdatedAt.Equal(n.CreatedAt) {
		t.Errorf("created note: got %+v, want owner alice, access owner, times set and equal", n)
	}
	got, err := st.NoteFor(ctx, n.ID, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := gatehouse.Note{ID: n.ID, OwnerID: alice.ID, OwnerUsername: "alice", Title: "Title", Body: "<p>body</p>",
		Tags: []string{"a", "b"}, CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, Access: gatehouse.NoteOwner, Shares: []gatehouse.Share{}}
	if fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", want) {
		t.Errorf("got %+v, want %+v", *got, want)
	}

	noTags := addNote(t, st, alice, "No tags", "")
	got, err = st.NoteFor(ctx, noTags.ID, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Tags == nil || len(got.Tags) != 0 {
		t.Errorf("tags: got %#v, want an empty, non-nil slice", got.Tags)
	}

	err = st.CreateNote(ctx, &gatehouse.Note{ID: uuid.NewString(), OwnerID: "id-nobody", Title: "x"})
	if !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("unknown owner: got %v, want ErrNotFound", err)
	}
	err = st.CreateNote(ctx, &gatehouse.Note{ID: n.ID, OwnerID: alice.ID, Title: "x"})
	if !errors.Is(err, gatehouse.ErrConflict) {
		t.Errorf("taken ID: got %v, want ErrConflict", err)
	}
}

// TestNoteCreationTimesIncrease checks that creation times strictly
// increase in insertion order even when the clock stands still or steps
// back, which the keyset cursor relies on.
func TestNoteCreationTimesIncrease(t *testing.T) {
	st := newNoteStore(t)
	alice := noteUser(t, st, "alice")
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := []time.Time{base, base, base.Add(-time.Hour), base.Add(time.Second)}
	var prev time.Time
	for i, c := range clock {
		st.SetClock(func() time.Time { return c })
		n := addNote(t, st, alice, fmt.Sprint("n", i), "")
		if !n.CreatedAt.After(prev) {
			t.Errorf("note %d: got created_at %v, want after %v", i, n.CreatedAt, prev)
		}
		prev = n.CreatedAt
	}
	if want := base.Add(time.Second); !prev.Equal(want) {
		t.Errorf("after the clock caught up: got %v, want %v", prev, want)
	}
}

// TestNoteObjectLevelRules checks every store method for the owner, a read
// share, a write share and a stranger (OWASP API1:2023).
func TestNoteObjectLevelRules(t *testing.T) {
	st := newNoteStore(t)
	ctx := context.Background()
	alice, bob, carol, dave := noteUser(t, st, "alice"), noteUser(t, st, "bob"), noteUser(t, st, "carol"), noteUser(t, st, "dave")
	n := addNote(t, st, alice, "Shared", "body")
	share(t, st, n, bob, gatehouse.NoteRead)
	share(t, st, n, carol, gatehouse.NoteWrite)

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
			got, err := st.NoteFor(ctx, n.ID, c.user.ID)
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

			list, err := st.Notes(ctx, c.user.ID, gatehouse.NoteQuery{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if listed := len(list) == 1 && list[0].ID == n.ID && list[0].Access == c.access; listed != c.listed {
				t.Errorf("Notes: got %+v, want listed=%v", list, c.listed)
			}

			title := "changed by " + c.user.Username
			_, err = st.UpdateNote(ctx, n.ID, c.user.ID, gatehouse.NoteUpdate{Title: &title})
			if want := ok(c.write); !errors.Is(err, want) {
				t.Errorf("UpdateNote: got %v, want %v", err, want)
			}
			_, err = st.UpdateNote(ctx, n.ID, c.user.ID, gatehouse.NoteUpdate{})
			if want := ok(c.write); !errors.Is(err, want) {
				t.Errorf("empty UpdateNote: got %v, want %v", err, want)
			}
			if c.manage {
				return // the owner's delete and unshare are tested below
			}
			if _, err := st.ShareNote(ctx, n.ID, c.user.ID, dave.ID, gatehouse.NoteWrite); !errors.Is(err, gatehouse.ErrNotFound) {
				t.Errorf("ShareNote: got %v, want ErrNotFound", err)
			}
			if err := st.UnshareNote(ctx, n.ID, c.user.ID, bob.ID); !errors.Is(err, gatehouse.ErrNotFound) {
				t.Errorf("UnshareNote: got %v, want ErrNotFound", err)
			}
			if err := st.DeleteNote(ctx, n.ID, c.user.ID); !errors.Is(err, gatehouse.ErrNotFound) {
				t.Errorf("DeleteNote: got %v, want ErrNotFound", err)
			}
		})
	}

	// Nothing the others tried changed the shares or removed the note.
	got, err := st.NoteFor(ctx, n.ID, alice.ID)
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

	if err := st.DeleteNote(ctx, n.ID, alice.ID); err != nil {
		t.Fatalf("owner's DeleteNote: %v", err)
	}
	for _, u := range []*gatehouse.User{alice, bob, carol} {
		if _, err := st.NoteFor(ctx, n.ID, u.ID); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("after delete, %s: got %v, want ErrNotFound", u.Username, err)
		}
		if list, _ := st.Notes(ctx, u.ID, gatehouse.NoteQuery{Limit: 10}); len(list) != 0 {
			t.Errorf("after delete, %s lists %d notes, want 0", u.Username, len(list))
		}
	}
	if err := st.DeleteNote(ctx, n.ID, alice.ID); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("second DeleteNote: got %v, want ErrNotFound", err)
	}
}

func TestNoteShares(t *testing.T) {
	st := newNoteStore(t)
	ctx := context.Background()
	alice, bob := noteUser(t, st, "alice"), noteUser(t, st, "bob")
	n := addNote(t, st, alice, "N", "")

	steps := []struct {
		name    string
		do      func() (bool, error)
		created bool
		bobs    gatehouse.NoteAccess // bob's access afterwards, "" for none
	}{
		{"share read", func() (bool, error) { return st.ShareNote(ctx, n.ID, alice.ID, bob.ID, gatehouse.NoteRead) }, true, gatehouse.NoteRead},
		{"widen to write", func() (bool, error) { return st.ShareNote(ctx, n.ID, alice.ID, bob.ID, gatehouse.NoteWrite) }, false, gatehouse.NoteWrite},
		{"same again", func() (bool, error) { return st.ShareNote(ctx, n.ID, alice.ID, bob.ID, gatehouse.NoteWrite) }, false, gatehouse.NoteWrite},
		{"unshare", func() (bool, error) { return false, st.UnshareNote(ctx, n.ID, alice.ID, bob.ID) }, false, ""},
		{"unshare again", func() (bool, error) { return false, st.UnshareNote(ctx, n.ID, alice.ID, bob.ID) }, false, ""},
		{"share again", func() (bool, error) { return st.ShareNote(ctx, n.ID, alice.ID, bob.ID, gatehouse.NoteRead) }, true, gatehouse.NoteRead},
	}
	for _, s := range steps {
		created, err := s.do()
		if err != nil || created != s.created {
			t.Fatalf("%s: got %v, %v; want %v, nil", s.name, created, err, s.created)
		}
		got, err := st.NoteFor(ctx, n.ID, bob.ID)
		var access gatehouse.NoteAccess
		if err == nil {
			access = got.Access
		} else if !errors.Is(err, gatehouse.ErrNotFound) {
			t.Fatal(err)
		}
		if access != s.bobs {
			t.Errorf("%s: bob's access: got %q, want %q", s.name, access, s.bobs)
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
		_, err := st.ShareNote(ctx, n.ID, c.owner, c.sharee, c.access)
		if err == nil || errors.Is(err, gatehouse.ErrNotFound) != c.wantNotFound {
			t.Errorf("%s: got %v, want an error (ErrNotFound: %v)", c.name, err, c.wantNotFound)
		}
	}
	if got, _ := st.NoteFor(ctx, n.ID, bob.ID); got == nil || got.Access != gatehouse.NoteRead {
		t.Errorf("refused shares changed bob's access: got %+v", got)
	}

	// The owner sees the shares sorted by username, whatever the order
	// they were made in.
	zed, amy := noteUser(t, st, "zed"), noteUser(t, st, "amy")
	share(t, st, n, zed, gatehouse.NoteWrite)
	share(t, st, n, amy, gatehouse.NoteRead)
	got, err := st.NoteFor(ctx, n.ID, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []gatehouse.Share{{Username: "amy", Access: gatehouse.NoteRead}, {Username: "bob", Access: gatehouse.NoteRead}, {Username: "zed", Access: gatehouse.NoteWrite}}
	if !slices.Equal(got.Shares, want) {
		t.Errorf("shares: got %v, want %v", got.Shares, want)
	}
}

// TestNoteConcurrentCreates creates notes from several goroutines at once:
// every note gets its own creation time, and paging lists each exactly
// once.
func TestNoteConcurrentCreates(t *testing.T) {
	st := newNoteStore(t)
	alice := noteUser(t, st, "alice")
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				n := &gatehouse.Note{ID: uuid.NewString(), OwnerID: alice.ID, Title: fmt.Sprint(w, "-", i)}
				errs <- st.CreateNote(context.Background(), n)
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
	all := listAll(t, st, alice.ID, gatehouse.NoteQuery{Limit: 7}, nil)
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
}

func TestNoteUpdate(t *testing.T) {
	st := newNoteStore(t)
	ctx := context.Background()
	alice := noteUser(t, st, "alice")
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	st.SetClock(func() time.Time { return now })
	n := addNote(t, st, alice, "T", "B", "x")

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
		got, err := st.UpdateNote(ctx, n.ID, alice.ID, c.u)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if g := [3]string{got.Title, got.Body, fmt.Sprint(got.Tags)}; g != c.want {
			t.Errorf("%s: got %q, want %q", c.name, g, c.want)
		}
		if touched := !got.UpdatedAt.Equal(prev); touched != c.touched {
			t.Errorf("%s: updated_at went from %v to %v, want changed=%v", c.name, prev, got.UpdatedAt, c.touched)
		}
		if !got.CreatedAt.Equal(n.CreatedAt) {
			t.Errorf("%s: created_at changed from %v to %v", c.name, n.CreatedAt, got.CreatedAt)
		}
		prev = got.UpdatedAt
	}
	if _, err := st.UpdateNote(ctx, uuid.NewString(), alice.ID, gatehouse.NoteUpdate{Title: str("x")}); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("unknown note: got %v, want ErrNotFound", err)
	}
}

// listAll pages through every note userID may read, limit at a time, and
// calls between after each page.
func listAll(t *testing.T, st *sqlite.Store, userID string, q gatehouse.NoteQuery, between func(page int)) []gatehouse.Note {
	t.Helper()
	var all []gatehouse.Note
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatal("pagination does not end")
		}
		got, err := st.Notes(context.Background(), userID, q)
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

func ids(notes []gatehouse.Note) []string {
	out := make([]string, len(notes))
	for i, n := range notes {
		out[i] = n.ID
	}
	return out
}

func TestNotesPagination(t *testing.T) {
	st := newNoteStore(t)
	alice, bob, eve := noteUser(t, st, "alice"), noteUser(t, st, "bob"), noteUser(t, st, "eve")
	// Every note gets the same clock reading, so the order rests on the
	// store's strictly increasing times and the ID tie-break.
	fixed := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	st.SetClock(func() time.Time { return fixed })
	var want []string // newest first
	for i := range 23 {
		switch i % 3 {
		case 0:
			want = append(want, addNote(t, st, alice, fmt.Sprint("own ", i), "").ID)
		case 1:
			n := addNote(t, st, bob, fmt.Sprint("shared ", i), "")
			share(t, st, n, alice, gatehouse.NoteRead)
			want = append(want, n.ID)
		case 2:
			addNote(t, st, eve, fmt.Sprint("eve's ", i), "") // never listed for alice
		}
	}
	slices.Reverse(want)

	for _, limit := range []int{1, 2, 5, 15, 16, 100} {
		got := ids(listAll(t, st, alice.ID, gatehouse.NoteQuery{Limit: limit}, nil))
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: got %d notes %v, want %d %v", limit, len(got), got, len(want), want)
		}
	}

	// Notes added between pages, owned or newly shared, come before the
	// cursor and never show up in later pages; no note is skipped or
	// repeated.
	var added []string
	got := listAll(t, st, alice.ID, gatehouse.NoteQuery{Limit: 4}, func(page int) {
		added = append(added, addNote(t, st, alice, fmt.Sprint("new ", page), "").ID)
		n := addNote(t, st, bob, fmt.Sprint("new shared ", page), "")
		share(t, st, n, alice, gatehouse.NoteWrite)
		added = append(added, n.ID)
	})
	if !slices.Equal(ids(got), want) {
		t.Errorf("with inserts between pages: got %v, want %v", ids(got), want)
	}
	// A fresh listing shows them first.
	fresh := ids(listAll(t, st, alice.ID, gatehouse.NoteQuery{Limit: 100}, nil))
	slices.Reverse(added)
	if !slices.Equal(fresh, append(added, want...)) {
		t.Errorf("fresh listing: got %v, want the added notes, newest first, then the rest", fresh)
	}
}

func TestNotesSearchIsLiteral(t *testing.T) {
	st := newNoteStore(t)
	alice, bob := noteUser(t, st, "alice"), noteUser(t, st, "bob")
	titles := []string{"100% done", "1000 done", "a_b", "axb", `back\slash`, "plain", "O'Brien"}
	for _, title := range titles {
		addNote(t, st, alice, title, "")
	}
	// Bodies are stored sanitized: text characters &, <, >, " and ' as
	// character references. A search for the text finds them.
	addNote(t, st, alice, "html body", "<p>Tom &amp; Jerry &lt;3 &#34;quoted&#34; &#39;single&#39;</p>")
	addNote(t, st, bob, "100% bob's", "") // not alice's

	cases := []struct {
		q    string
		want []string
	}{
		{"", append(slices.Clone(titles), "html body")},
		{"%", []string{"100% done"}},
		{"100%", []string{"100% done"}},
		{"_", []string{"a_b"}},
		{"a_b", []string{"a_b"}},
		{`\`, []string{`back\slash`}},
		{`\s`, []string{`back\slash`}},
		{"PLAIN", []string{"plain"}},
		{"done", []string{"100% done", "1000 done"}},
		{"'", []string{"O'Brien", "html body"}},
		{"O'Brien", []string{"O'Brien"}},
		{"Tom & Jerry", []string{"html body"}},
		{"<3", []string{"html body"}},
		{`"quoted"`, []string{"html body"}},
		{"'single'", []string{"html body"}},
		{"<p>", []string{"html body"}},
		{"&amp;", []string{"html body"}},
		{"nothing like it", nil},
		{"' OR 1=1 --", nil},
		{"%' OR '1'='1", nil},
		{"') UNION SELECT id, owner_id, title, body, tags, created_at, updated_at, 'owner', NULL FROM notes --", nil},
		{"'; DROP TABLE notes; --", nil},
	}
	for _, c := range cases {
		got, err := st.Notes(context.Background(), alice.ID, gatehouse.NoteQuery{Search: c.q, Limit: 100})
		if err != nil {
			t.Fatalf("q=%q: %v", c.q, err)
		}
		var titles []string
		for _, n := range got {
			titles = append(titles, n.Title)
		}
		slices.Sort(titles)
		want := slices.Sorted(slices.Values(c.want))
		if !slices.Equal(titles, want) {
			t.Errorf("q=%q: got %q, want %q", c.q, titles, want)
		}
	}
	// The table survived the payloads.
	if got, err := st.Notes(context.Background(), alice.ID, gatehouse.NoteQuery{Limit: 100}); err != nil || len(got) != 8 {
		t.Errorf("after the searches: got %d notes, %v; want 8", len(got), err)
	}
}

// TestNoteInjectionStringsAreData stores SQL-injection payloads in every
// text field and reads them back unchanged; as IDs and user IDs they find
// nothing (OWASP ASVS 5.0 §1.2.4).
func TestNoteInjectionStringsAreData(t *testing.T) {
	st := newNoteStore(t)
	ctx := context.Background()
	alice := noteUser(t, st, "alice")
	payloads := []string{
		`'`, `"`, `' OR 1=1 --`, `" OR ""="`, `'; DROP TABLE notes; --`, `1; DELETE FROM users`,
		`' UNION SELECT username, password_hash FROM users --`, `\'; --`, `%' --`, `?1 ?2 :a @b $c`,
		"x') ; ATTACH DATABASE '/tmp/pwn.db' AS pwn; --",
	}
	for _, p := range payloads {
		n := addNote(t, st, alice, p, p, p, "t")
		got, err := st.NoteFor(ctx, n.ID, alice.ID)
		if err != nil {
			t.Fatalf("payload %q: %v", p, err)
		}
		if got.Title != p || got.Body != p || !slices.Equal(got.Tags, []string{p, "t"}) {
			t.Errorf("payload %q: got title %q body %q tags %q, want it back unchanged", p, got.Title, got.Body, got.Tags)
		}
		if _, err := st.NoteFor(ctx, p, alice.ID); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("payload %q as note ID: got %v, want ErrNotFound", p, err)
		}
		if _, err := st.NoteFor(ctx, n.ID, p); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("payload %q as user ID: got %v, want ErrNotFound", p, err)
		}
		if list, err := st.Notes(ctx, p, gatehouse.NoteQuery{Limit: 10}); err != nil || len(list) != 0 {
			t.Errorf("payload %q as lister: got %d notes, %v; want none", p, len(list), err)
		}
		after := &gatehouse.NoteCursor{CreatedAt: time.Now().Add(time.Hour), ID: p}
		if _, err := st.Notes(ctx, alice.ID, gatehouse.NoteQuery{Limit: 10, After: after}); err != nil {
			t.Errorf("payload %q in a cursor: %v", p, err)
		}
		upd := p + " (edited)"
		if got, err := st.UpdateNote(ctx, n.ID, alice.ID, gatehouse.NoteUpdate{Title: &upd, Tags: &[]string{upd}}); err != nil || got.Title != upd || got.Tags[0] != upd {
			t.Errorf("payload %q in an update: got %+v, %v", p, got, err)
		}
		if _, err := st.ShareNote(ctx, n.ID, alice.ID, p, gatehouse.NoteRead); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("payload %q as sharee: got %v, want ErrNotFound", p, err)
		}
	}
	list, err := st.Notes(ctx, alice.ID, gatehouse.NoteQuery{Limit: 100})
	if err != nil || len(list) != len(payloads) {
		t.Errorf("after the payloads: got %d notes, %v; want %d", len(list), err, len(payloads))
	}
	if _, err := st.UserByUsername(ctx, "alice"); err != nil {
		t.Errorf("users table after the payloads: %v", err)
	}
}
