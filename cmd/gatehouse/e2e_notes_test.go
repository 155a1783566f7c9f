package main

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// noteUsers registers and logs in each name and returns their access
// tokens.
func noteUsers(t *testing.T, ts *testServer, names ...string) map[string]string {
	t.Helper()
	toks := map[string]string{}
	for _, n := range names {
		ts.register(t, n, goodPassword)
		toks[n] = ts.login(t, n, goodPassword)["access_token"].(string)
	}
	return toks
}

// noteCall is one request of a table.
type noteCall struct {
	method, path string
	body         any
}

// noteDo sends one request with a bearer token.
func noteDo(t *testing.T, ts *testServer, tok, method, path string, body any) *response {
	t.Helper()
	return ts.do(t, method, path, body, bearer(tok))
}

// noteJSON checks a JSON success answer and returns its body.
func noteJSON(t *testing.T, r *response, status int) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("got status %d, want %d: %.500s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("got Content-Type %q, want application/json; charset=utf-8", ct)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("got Cache-Control %q, want no-store (personal data)", cc)
	}
	return r.JSON(t)
}

// noteCreate creates a note and returns it.
func noteCreate(t *testing.T, ts *testServer, tok string, body any) map[string]any {
	t.Helper()
	return noteJSON(t, noteDo(t, ts, tok, "POST", "/v1/notes", body), http.StatusCreated)
}

// notePage fetches one page of the list.
func notePage(t *testing.T, ts *testServer, tok, query string) (items []map[string]any, next string) {
	t.Helper()
	m := noteJSON(t, noteDo(t, ts, tok, "GET", "/v1/notes"+query, nil), http.StatusOK)
	raw, ok := m["items"].([]any)
	if !ok {
		t.Fatalf("items: got %T, want a list: %v", m["items"], m)
	}
	for _, it := range raw {
		items = append(items, it.(map[string]any))
	}
	switch c := m["next_cursor"].(type) {
	case nil:
	case string:
		next = c
	default:
		t.Fatalf("next_cursor: got %T, want a string or null", m["next_cursor"])
	}
	if _, ok := m["next_cursor"]; !ok {
		t.Errorf("next_cursor missing; want it present, null on the last page")
	}
	return items, next
}

func noteIDs(items []map[string]any) []string {
	var out []string
	for _, it := range items {
		out = append(out, it["id"].(string))
	}
	return out
}

var noteServerError = regexp.MustCompile(`(status":|status=)5\d\d`)

// noteNo5xx fails the test if the server answered any request with a 5xx.
func noteNo5xx(t *testing.T, ts *testServer) {
	t.Helper()
	if m := noteServerError.FindString(ts.Log.String()); m != "" {
		t.Errorf("the server answered a 5xx (%s); log:\n%s", m, ts.Log)
	}
}

func TestNotesCRUD(t *testing.T) {
	ts := startServer(t, "")
	tok := noteUsers(t, ts, "alice")["alice"]

	r := noteDo(t, ts, tok, "POST", "/v1/notes", map[string]any{"title": "Groceries", "body": "<p>milk &amp; <b>eggs</b></p>", "tags": []string{"home", "todo"}})
	checkSecurityHeaders(t, r)
	n := noteJSON(t, r, http.StatusCreated)
	id, _ := n["id"].(string)
	if loc := r.Header.Get("Location"); loc != "/v1/notes/"+id {
		t.Errorf("Location: got %q, want /v1/notes/%s", loc, id)
	}
	if u, err := uuid.Parse(id); err != nil || u.Version() != 4 || u.String() != id {
		t.Errorf("id: got %q, want a canonical random (version 4) UUID", id)
	}
	want := map[string]any{"owner": "alice", "title": "Groceries", "body": "<p>milk &amp; <b>eggs</b></p>", "permission": "owner"}
	for k, v := range want {
		if n[k] != v {
			t.Errorf("%s: got %v, want %v", k, n[k], v)
		}
	}
	if !slices.Equal(toStrings(n["tags"]), []string{"home", "todo"}) {
		t.Errorf("tags: got %v, want [home todo]", n["tags"])
	}
	if s, ok := n["shares"].([]any); !ok || len(s) != 0 {
		t.Errorf("shares: got %v, want [] for the owner", n["shares"])
	}
	created, err := time.Parse(time.RFC3339Nano, n["created_at"].(string))
	if err != nil || n["updated_at"] != n["created_at"] {
		t.Errorf("times: got created_at %v updated_at %v, want equal RFC 3339 times", n["created_at"], n["updated_at"])
	}

	got := noteJSON(t, noteDo(t, ts, tok, "GET", "/v1/notes/"+id, nil), http.StatusOK)
	if fmt.Sprint(got) != fmt.Sprint(n) {
		t.Errorf("GET: got %v, want what POST returned: %v", got, n)
	}

	// Another note gets an unrelated ID: not sequential.
	other := noteCreate(t, ts, tok, map[string]any{"title": "Other"})
	if other["id"] == id || strings.HasPrefix(other["id"].(string), id[:8]) {
		t.Errorf("ids %v and %v look related", id, other["id"])
	}

	steps := []struct {
		name  string
		patch any
		check func(m map[string]any) string
	}{
		{"empty patch changes nothing", map[string]any{}, func(m map[string]any) string {
			if m["updated_at"] != n["updated_at"] || m["title"] != "Groceries" {
				return "the note changed"
			}
			return ""
		}},
		{"title only", map[string]any{"title": "Shopping"}, func(m map[string]any) string {
			if m["title"] != "Shopping" || m["body"] != n["body"] || len(toStrings(m["tags"])) != 2 {
				return "want only the title changed"
			}
			upd, _ := time.Parse(time.RFC3339Nano, m["updated_at"].(string))
			if upd.Before(created) || m["created_at"] != n["created_at"] {
				return "want updated_at ≥ created_at and created_at unchanged"
			}
			return ""
		}},
		{"null is absent", map[string]any{"title": nil, "tags": nil}, func(m map[string]any) string {
			if m["title"] != "Shopping" || len(toStrings(m["tags"])) != 2 {
				return "want nothing changed"
			}
			return ""
		}},
		{"tags cleared", map[string]any{"tags": []string{}}, func(m map[string]any) string {
			if s, ok := m["tags"].([]any); !ok || len(s) != 0 {
				return "want tags []"
			}
			return ""
		}},
		{"body sanitized", map[string]any{"body": `<p onclick="x()">new</p>`}, func(m map[string]any) string {
			if m["body"] != "<p>new</p>" {
				return "want <p>new</p>"
			}
			return ""
		}},
	}
	for _, s := range steps {
		m := noteJSON(t, noteDo(t, ts, tok, "PATCH", "/v1/notes/"+id, s.patch), http.StatusOK)
		if msg := s.check(m); msg != "" {
			t.Errorf("%s: got %v: %s", s.name, m, msg)
		}
	}

	r = noteDo(t, ts, tok, "DELETE", "/v1/notes/"+id, nil)
	if r.Status != http.StatusNoContent || len(r.Body) != 0 {
		t.Fatalf("DELETE: got %d %q, want 204 and no body", r.Status, r.Body)
	}
	problemOf(t, noteDo(t, ts, tok, "GET", "/v1/notes/"+id, nil), http.StatusNotFound)
	problemOf(t, noteDo(t, ts, tok, "DELETE", "/v1/notes/"+id, nil), http.StatusNotFound)
	items, _ := notePage(t, ts, tok, "")
	if ids := noteIDs(items); !slices.Equal(ids, []string{other["id"].(string)}) {
		t.Errorf("list after delete: got %v, want only %v", ids, other["id"])
	}
	noteNo5xx(t, ts)
}

// TestNotesObjectLevelRules checks every note route for the owner, a read
// share, a write share and a stranger (OWASP API1:2023): strangers get 404
// on every route, exactly as for a note that does not exist or a malformed
// ID, so note IDs cannot be probed.
func TestNotesObjectLevelRules(t *testing.T) {
	ts := startServer(t, "")
	toks := noteUsers(t, ts, "alice", "bob", "carol", "dave", "erin")
	alice := toks["alice"]
	who := map[string]string{"owner": "alice", "read": "bob", "write": "carol", "stranger": "dave"}

	// newNote makes a note of alice's shared read with bob, write with carol.
	newNote := func(t *testing.T) string {
		id := noteCreate(t, ts, alice, map[string]any{"title": "secret plans", "body": "<p>x</p>"})["id"].(string)
		noteJSON(t, noteDo(t, ts, alice, "PUT", "/v1/notes/"+id+"/shares/bob", map[string]any{"permission": "read"}), http.StatusCreated)
		m := noteJSON(t, noteDo(t, ts, alice, "PUT", "/v1/notes/"+id+"/shares/carol", map[string]any{"permission": "write"}), http.StatusCreated)
		if fmt.Sprint(m["shares"]) != "[map[permission:read username:bob] map[permission:write username:carol]]" {
			t.Fatalf("shares: got %v", m["shares"])
		}
		return id
	}

	routes := []struct {
		noteCall
		want map[string]int
	}{
		{noteCall{"GET", "/v1/notes/{id}", nil}, map[string]int{"owner": 200, "read": 200, "write": 200, "stranger": 404}},
		{noteCall{"PATCH", "/v1/notes/{id}", map[string]any{"title": "changed"}}, map[string]int{"owner": 200, "read": 403, "write": 200, "stranger": 404}},
		{noteCall{"DELETE", "/v1/notes/{id}", nil}, map[string]int{"owner": 204, "read": 403, "write": 403, "stranger": 404}},
		{noteCall{"PUT", "/v1/notes/{id}/shares/erin", map[string]any{"permission": "write"}}, map[string]int{"owner": 201, "read": 403, "write": 403, "stranger": 404}},
		{noteCall{"PUT", "/v1/notes/{id}/shares/bob", map[string]any{"permission": "write"}}, map[string]int{"owner": 200, "read": 403, "write": 403, "stranger": 404}},
		{noteCall{"DELETE", "/v1/notes/{id}/shares/carol", nil}, map[string]int{"owner": 204, "read": 403, "write": 403, "stranger": 404}},
		{noteCall{"DELETE", "/v1/notes/{id}/shares/bob", nil}, map[string]int{"owner": 204, "read": 403, "write": 403, "stranger": 404}},
	}
	for _, rt := range routes {
		for _, role := range []string{"stranger", "read", "write", "owner"} {
			t.Run(fmt.Sprintf("%s %s as %s", rt.method, rt.path, role), func(t *testing.T) {
				id := newNote(t)
				before := noteDo(t, ts, alice, "GET", "/v1/notes/"+id, nil)
				r := noteDo(t, ts, toks[who[role]], rt.method, strings.ReplaceAll(rt.path, "{id}", id), rt.body)
				if want := rt.want[role]; r.Status != want {
					t.Fatalf("got %d, want %d: %s", r.Status, want, r.Body)
				}
				if r.Status >= 400 {
					problemOf(t, r, r.Status)
					if got := r.Header.Get("WWW-Authenticate"); got != "" {
						t.Errorf("WWW-Authenticate: got %q, want none (the token is valid and has the scope)", got)
					}
					after := noteDo(t, ts, alice, "GET", "/v1/notes/"+id, nil)
					if string(after.Body) != string(before.Body) {
						t.Errorf("a refused request changed the note:\nbefore %s\nafter  %s", before.Body, after.Body)
					}
				}
			})
		}
	}

	t.Run("what each one sees", func(t *testing.T) {
		id := newNote(t)
		cases := []struct {
			user, permission string
			shares           bool
		}{
			{"alice", "owner", true},
			{"bob", "read", false},
			{"carol", "write", false},
		}
		for _, c := range cases {
			m := noteJSON(t, noteDo(t, ts, toks[c.user], "GET", "/v1/notes/"+id, nil), http.StatusOK)
			_, hasShares := m["shares"]
			if m["permission"] != c.permission || hasShares != c.shares || m["owner"] != "alice" {
				t.Errorf("%s: got permission %v, owner %v, shares %v; want %s, alice, shares shown=%v", c.user, m["permission"], m["owner"], m["shares"], c.permission, c.shares)
			}
			items, _ := notePage(t, ts, toks[c.user], "?limit=100")
			i := slices.IndexFunc(items, func(it map[string]any) bool { return it["id"] == id })
			if i < 0 || items[i]["permission"] != c.permission {
				t.Errorf("%s's list: got %v, want the note with permission %s", c.user, noteIDs(items), c.permission)
			}
		}
		items, _ := notePage(t, ts, toks["dave"], "?limit=100")
		if len(items) != 0 {
			t.Errorf("dave's list: got %v, want empty", noteIDs(items))
		}
		// After unsharing, bob loses the note at once.
		if r := noteDo(t, ts, alice, "DELETE", "/v1/notes/"+id+"/shares/bob", nil); r.Status != http.StatusNoContent {
			t.Fatalf("unshare: got %d", r.Status)
		}
		problemOf(t, noteDo(t, ts, toks["bob"], "GET", "/v1/notes/"+id, nil), http.StatusNotFound)
		if items, _ := notePage(t, ts, toks["bob"], "?limit=100"); slices.Contains(noteIDs(items), id) {
			t.Errorf("bob still lists the note after unsharing")
		}
		// Narrowing carol's share to read stops her PATCH at once.
		noteJSON(t, noteDo(t, ts, alice, "PUT", "/v1/notes/"+id+"/shares/carol", map[string]any{"permission": "read"}), http.StatusOK)
		problemOf(t, noteDo(t, ts, toks["carol"], "PATCH", "/v1/notes/"+id, map[string]any{"title": "x"}), http.StatusForbidden)
	})

	t.Run("unknown and malformed IDs are 404 like a stranger's note", func(t *testing.T) {
		id := newNote(t)
		canon := func(r *response) string {
			m := problemOf(t, r, http.StatusNotFound)
			delete(m, "request_id")
			return fmt.Sprint(m)
		}
		want := canon(noteDo(t, ts, toks["dave"], "GET", "/v1/notes/"+id, nil))
		bad := []string{
			uuid.NewString(),    // well formed, no such note
			strings.ToUpper(id), // not canonical
			"{" + id + "}",      // not canonical
			"1", "0", "-1", "a", // sequential-looking guesses
			"' OR 1=1 --",             // injection
			"%27%3B DROP TABLE notes", // injection, escaped
			id[:35],                   // one short
			id + "0",                  // one long
		}
		for _, b := range bad {
			esc := strings.ReplaceAll(url.PathEscape(b), "%25", "%")
			for _, c := range []noteCall{
				{"GET", "/v1/notes/" + esc, nil},
				{"PATCH", "/v1/notes/" + esc, map[string]any{"title": "x"}},
				{"DELETE", "/v1/notes/" + esc, nil},
				{"PUT", "/v1/notes/" + esc + "/shares/bob", map[string]any{"permission": "read"}},
				{"DELETE", "/v1/notes/" + esc + "/shares/bob", nil},
			} {
				r := noteDo(t, ts, alice, c.method, c.path, c.body)
				if got := canon(r); got != want {
					t.Errorf("%s %s: got %s, want %s", c.method, c.path, got, want)
				}
			}
		}
		// A stranger gets the same on every route of a real note too.
		for _, c := range []noteCall{
			{"PATCH", "/v1/notes/" + id, map[string]any{"title": "x"}},
			{"DELETE", "/v1/notes/" + id, nil},
			{"PUT", "/v1/notes/" + id + "/shares/dave", map[string]any{"permission": "write"}},
			{"DELETE", "/v1/notes/" + id + "/shares/bob", nil},
		} {
			if got := canon(noteDo(t, ts, toks["dave"], c.method, c.path, c.body)); got != want {
				t.Errorf("stranger %s %s: got %s, want %s", c.method, c.path, got, want)
			}
		}
	})

	t.Run("share answers", func(t *testing.T) {
		id := newNote(t)
		cases := []struct {
			user   string
			body   any
			status int
			loc    string
		}{
			{"alice", map[string]any{"permission": "read"}, 422, "path.username"}, // the owner
			{"nobody", map[string]any{"permission": "read"}, 422, "path.username"},
			{"x", map[string]any{"permission": "read"}, 422, "path.username"},
			{"erin", map[string]any{"permission": "owner"}, 422, "body.permission"},
			{"erin", map[string]any{"permission": "read", "note_id": id}, 422, "body.note_id"},
			{"erin", map[string]any{}, 422, "body.permission"},
		}
		for _, c := range cases {
			p := problemOf(t, noteDo(t, ts, alice, "PUT", "/v1/notes/"+id+"/shares/"+c.user, c.body), c.status)
			if !slices.Contains(locations(p), c.loc) {
				t.Errorf("share with %s %v: got errors %v, want %s", c.user, c.body, locations(p), c.loc)
			}
		}
		r := noteDo(t, ts, alice, "DELETE", "/v1/notes/"+id+"/shares/erin", nil)
		if r.Status != http.StatusNoContent {
			t.Errorf("unshare a user without a share: got %d, want 204", r.Status)
		}
	})
	noteNo5xx(t, ts)
}

func TestNotesListAndCursor(t *testing.T) {
	ts := startServer(t, "")
	toks := noteUsers(t, ts, "alice", "bob")
	alice, bob := toks["alice"], toks["bob"]

	var want []string // newest first
	for i := range 25 {
		var id string
		if i%5 == 4 { // every fifth is bob's, shared with alice
			id = noteCreate(t, ts, bob, map[string]any{"title": fmt.Sprint("bob's ", i)})["id"].(string)
			noteJSON(t, noteDo(t, ts, bob, "PUT", "/v1/notes/"+id+"/shares/alice", map[string]any{"permission": "read"}), http.StatusCreated)
		} else {
			id = noteCreate(t, ts, alice, map[string]any{"title": fmt.Sprint("alice's ", i)})["id"].(string)
		}
		want = append([]string{id}, want...)
	}
	noteCreate(t, ts, bob, map[string]any{"title": "bob's own, not shared"})

	t.Run("default limit is 20", func(t *testing.T) {
		items, next := notePage(t, ts, alice, "")
		if !slices.Equal(noteIDs(items), want[:20]) || next == "" {
			t.Errorf("got %d items and cursor %q, want the 20 newest and a cursor", len(items), next)
		}
	})

	// pageAll follows next_cursor to the end, calling between after each
	// page but the last.
	pageAll := func(t *testing.T, query string, between func()) []string {
		var got []string
		cursor := ""
		for range 100 {
			q := query
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			items, next := notePage(t, ts, alice, q)
			got = append(got, noteIDs(items)...)
			if next == "" {
				return got
			}
			cursor = next
			if between != nil {
				between()
			}
		}
		t.Fatal("pagination does not end")
		return nil
	}

	for _, limit := range []int{1, 7, 24, 25, 26, 100} {
		if got := pageAll(t, fmt.Sprintf("?limit=%d", limit), nil); !slices.Equal(got, want) {
			t.Errorf("limit %d: got %d ids %v, want %d %v", limit, len(got), got, len(want), want)
		}
	}

	t.Run("stable under concurrent inserts", func(t *testing.T) {
		var added []string
		got := pageAll(t, "?limit=6", func() {
			added = append(added, noteCreate(t, ts, alice, map[string]any{"title": "inserted"})["id"].(string))
			id := noteCreate(t, ts, bob, map[string]any{"title": "inserted and shared"})["id"].(string)
			noteJSON(t, noteDo(t, ts, bob, "PUT", "/v1/notes/"+id+"/shares/alice", map[string]any{"permission": "write"}), http.StatusCreated)
			added = append(added, id)
		})
		if !slices.Equal(got, want) {
			t.Errorf("got %d ids, want the %d that existed when paging began, each once, in order:\ngot  %v\nwant %v", len(got), len(want), got, want)
		}
		if len(added) == 0 {
			t.Fatal("nothing was inserted between pages")
		}
		slices.Reverse(added)
		if fresh := pageAll(t, "?limit=100", nil); !slices.Equal(fresh, append(added, want...)) {
			t.Errorf("a fresh listing: got %v, want the inserted notes first, newest first, then the rest", fresh)
		}
	})

	t.Run("bad parameters", func(t *testing.T) {
		_, next := notePage(t, ts, alice, "?limit=2")
		cases := []struct {
			query string
			loc   string
		}{
			{"?limit=0", "query.limit"},
			{"?limit=101", "query.limit"},
			{"?limit=ten", "query.limit"},
			{"?limit=5&limit=6", "query.limit"},
			{"?cursor=garbage", "query.cursor"},
			{"?cursor=" + next + "x", "query.cursor"},
			{"?cursor=" + next[:len(next)-2], "query.cursor"},
			{"?cursor=" + strings.Repeat("A", len(next)), "query.cursor"},
			{"?q=" + strings.Repeat("q", 201), "query.q"},
			{"?q=%00", "query.q"},
		}
		for _, c := range cases {
			p := problemOf(t, noteDo(t, ts, alice, "GET", "/v1/notes"+c.query, nil), http.StatusUnprocessableEntity)
			if !slices.Equal(locations(p), []string{c.loc}) {
				t.Errorf("%s: got errors %v, want [%s]", c.query, locations(p), c.loc)
			}
		}
		// A cursor from one user's list shows another user nothing of the
		// first's: it is a position, not a grant.
		items, _ := notePage(t, ts, bob, "?limit=100&cursor="+url.QueryEscape(next))
		for _, it := range items {
			if it["owner"] != "bob" && it["permission"] == "owner" {
				t.Errorf("bob with alice's cursor sees %v", it)
			}
		}
	})
	noteNo5xx(t, ts)
}

func TestNotesSearchIsLiteral(t *testing.T) {
	ts := startServer(t, "")
	toks := noteUsers(t, ts, "alice", "bob")
	alice := toks["alice"]
	titles := []string{"100% sure", "1000 sure", "snake_case", "snakeXcase", `C:\temp`, "Mixed Case"}
	for _, title := range titles {
		noteCreate(t, ts, alice, map[string]any{"title": title})
	}
	noteCreate(t, ts, alice, map[string]any{"title": "in the body", "body": "<p>Tom & Jerry's 50% off</p>"})
	noteCreate(t, ts, toks["bob"], map[string]any{"title": "100% bob"})

	cases := []struct {
		q    string
		want []string
	}{
		{"%", []string{"100% sure", "in the body"}},
		{"100%", []string{"100% sure"}},
		{"0%", []string{"100% sure", "in the body"}},
		{"_", []string{"snake_case"}},
		{"e_c", []string{"snake_case"}},
		{`\`, []string{`C:\temp`}},
		{"%%", nil},
		{"sure", []string{"100% sure", "1000 sure"}},
		{"mixed case", []string{"Mixed Case"}},
		{"Tom & Jerry's", []string{"in the body"}},
		{"<p>", []string{"in the body"}},
		{"nothing", nil},
	}
	for _, c := range cases {
		items, _ := notePage(t, ts, alice, "?limit=100&q="+url.QueryEscape(c.q))
		var got []string
		for _, it := range items {
			got = append(got, it["title"].(string))
		}
		slices.Sort(got)
		if want := slices.Sorted(slices.Values(c.want)); !slices.Equal(got, want) {
			t.Errorf("q=%q: got %q, want %q", c.q, got, want)
		}
	}
	noteNo5xx(t, ts)
}

// TestNotesSQLInjection sends SQL-injection strings in every text field,
// query parameter and path segment. They are stored and searched as
// literal text and never cause a 5xx (OWASP ASVS 5.0 §1.2.4).
func TestNotesSQLInjection(t *testing.T) {
	ts := startServer(t, "")
	toks := noteUsers(t, ts, "alice", "bob")
	alice := toks["alice"]
	payloads := []string{
		`'`,
		`''`,
		`"`,
		`' OR 1=1 --`,
		`' OR '1'='1`,
		`" OR ""="`,
		`1' AND 1<2 --`,
		`'; DROP TABLE notes; --`,
		`'; DROP TABLE users; --`,
		`' UNION SELECT id, username, email FROM users --`,
		`1 UNION ALL SELECT NULL,NULL,NULL --`,
		`'); DELETE FROM note_shares; --`,
		`\'; SELECT sqlite_version(); --`,
		`%' OR title LIKE '%`,
		`' || (SELECT password_hash FROM users LIMIT 1) || '`,
	}
	var ids []string
	for _, p := range payloads {
		tag := p
		if len([]rune(tag)) > 32 {
			tag = string([]rune(tag)[:32])
		}
		n := noteCreate(t, ts, alice, map[string]any{"title": p, "body": p, "tags": []string{tag}})
		id := n["id"].(string)
		ids = append(ids, id)
		got := noteJSON(t, noteDo(t, ts, alice, "GET", "/v1/notes/"+id, nil), http.StatusOK)
		// The title and tags come back exactly; the body is HTML, so its
		// text comes back with &, <, >, " and ' as character references.
		if got["title"] != p || html.UnescapeString(got["body"].(string)) != p || !slices.Equal(toStrings(got["tags"]), []string{tag}) {
			t.Errorf("payload %q: got title %q body %q tags %v, want it back literally", p, got["title"], got["body"], got["tags"])
		}
		upd := noteJSON(t, noteDo(t, ts, alice, "PATCH", "/v1/notes/"+id, map[string]any{"title": p + p}), http.StatusOK)
		if upd["title"] != p+p {
			t.Errorf("payload %q in PATCH: got title %q", p, upd["title"])
		}
	}

	for _, p := range payloads {
		q := url.QueryEscape(p)
		// Searching for the payload finds the notes that contain it as
		// text, and nothing else.
		items, _ := notePage(t, ts, alice, "?limit=100&q="+q)
		for _, it := range items {
			title := it["title"].(string)
			if !strings.Contains(strings.ToLower(title), strings.ToLower(p)) && !strings.Contains(strings.ToLower(html.UnescapeString(it["body"].(string))), strings.ToLower(p)) {
				t.Errorf("q=%q found %q, which does not contain it", p, title)
			}
		}
		if len(items) == 0 {
			t.Errorf("q=%q found nothing, want at least the note titled with it", p)
		}
		// In the other parameters it is refused, not run.
		for _, query := range []string{"?limit=" + q, "?cursor=" + q, "?limit=5&cursor=" + q} {
			problemOf(t, noteDo(t, ts, alice, "GET", "/v1/notes"+query, nil), http.StatusUnprocessableEntity)
		}
		// As a note ID: no such note. As a username: not a user.
		path := url.PathEscape(p)
		problemOf(t, noteDo(t, ts, alice, "GET", "/v1/notes/"+path, nil), http.StatusNotFound)
		problemOf(t, noteDo(t, ts, alice, "PUT", "/v1/notes/"+ids[0]+"/shares/"+path, map[string]any{"permission": "read"}), http.StatusUnprocessableEntity)
		problemOf(t, noteDo(t, ts, alice, "DELETE", "/v1/notes/"+ids[0]+"/shares/"+path, nil), http.StatusUnprocessableEntity)
		problemOf(t, noteDo(t, ts, alice, "PUT", "/v1/notes/"+ids[0]+"/shares/bob", map[string]any{"permission": p}), http.StatusUnprocessableEntity)
	}

	// Everything is still there: every note, the accounts, the shares.
	if got, _ := notePage(t, ts, alice, "?limit=100"); len(got) != len(payloads) {
		t.Errorf("after the payloads: alice lists %d notes, want %d", len(got), len(payloads))
	}
	noteJSON(t, noteDo(t, ts, alice, "PUT", "/v1/notes/"+ids[0]+"/shares/bob", map[string]any{"permission": "read"}), http.StatusCreated)
	noteJSON(t, noteDo(t, ts, toks["bob"], "GET", "/v1/notes/"+ids[0], nil), http.StatusOK)
	ts.login(t, "bob", goodPassword)
	noteNo5xx(t, ts)
}

// TestNotesXSS checks that the HTML body is sanitized on the way in, on
// create and on update (ASVS 5.0 §1.3.1), and that plain-text fields are
// stored as given but never served in a form a browser would run.
func TestNotesXSS(t *testing.T) {
	ts := startServer(t, "")
	tok := noteUsers(t, ts, "alice")["alice"]
	cases := []struct {
		name, in string
		forbid   []string
		want     string // "" to check only forbid
	}{
		{"img onerror", `<img src=x onerror=alert(1)>`, []string{"onerror", "alert"}, `<img src="x">`},
		{"javascript link", `<a href="javascript:alert(1)">click</a>`, []string{"javascript:", "href"}, "click"},
		{"script", `<p>hi</p><script>alert(document.cookie)</script>`, []string{"<script", "alert", "cookie"}, "<p>hi</p>"},
		{"link", `<a href="https://example.com/" target="_blank">docs</a>`, []string{"target"}, ""},
		{"style and handlers", `<p style="background:url(javascript:alert(1))" onclick="steal()" onmouseover=x()>p</p>`, []string{"style", "onclick", "onmouseover"}, "<p>p</p>"},
		{"data URL", `<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">`, []string{"data:"}, ""},
		{"style element", `<style>body{display:none}</style>text`, []string{"<style", "display"}, "text"},
		{"iframe and svg", `<iframe src="https://evil.example/"></iframe><svg onload=alert(1)></svg>`, []string{"iframe", "svg", "onload"}, ""},
		{"entity-encoded scheme", `<a href="&#106;avascript:alert(1)">x</a>`, []string{"avascript", "href"}, "x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			check := func(where string, body string) {
				for _, f := range c.forbid {
					if strings.Contains(strings.ToLower(body), f) {
						t.Errorf("%s: body %q contains %q", where, body, f)
					}
				}
				if c.want != "" && body != c.want {
					t.Errorf("%s: got body %q, want %q", where, body, c.want)
				}
			}
			n := noteCreate(t, ts, tok, map[string]any{"title": "x", "body": c.in})
			id := n["id"].(string)
			check("POST", n["body"].(string))
			check("GET", noteJSON(t, noteDo(t, ts, tok, "GET", "/v1/notes/"+id, nil), http.StatusOK)["body"].(string))
			p := noteJSON(t, noteDo(t, ts, tok, "PATCH", "/v1/notes/"+id, map[string]any{"body": c.in}), http.StatusOK)
			check("PATCH", p["body"].(string))
		})
	}

	t.Run("links get rel nofollow noopener", func(t *testing.T) {
		n := noteCreate(t, ts, tok, map[string]any{"title": "x", "body": `<a href="https://example.com/" rel="opener">docs</a>`})
		m := regexp.MustCompile(`<a href="https://example.com/" rel="([^"]*)">docs</a>`).FindStringSubmatch(n["body"].(string))
		if m == nil {
			t.Fatalf("got body %q, want the link kept with a rel", n["body"])
		}
		rel := strings.Fields(m[1])
		if !slices.Contains(rel, "nofollow") || !slices.Contains(rel, "noopener") || slices.Contains(rel, "opener") {
			t.Errorf("rel: got %q, want nofollow and noopener, and not opener", m[1])
		}
	})

	t.Run("title is plain text, never served as markup", func(t *testing.T) {
		title := `<script>alert("t")</script>`
		r := noteDo(t, ts, tok, "POST", "/v1/notes", map[string]any{"title": title, "tags": []string{"<b>t</b>"}})
		n := noteJSON(t, r, http.StatusCreated)
		if n["title"] != title || toStrings(n["tags"])[0] != "<b>t</b>" {
			t.Errorf("got title %q tags %v, want them stored as given", n["title"], n["tags"])
		}
		// JSON escapes < and > so the response cannot be sniffed as HTML,
		// and nosniff and the CSP say the same.
		if strings.Contains(string(r.Body), "<script") || strings.Contains(string(r.Body), "<b>") {
			t.Errorf("raw response holds markup: %s", r.Body)
		}
		checkSecurityHeaders(t, r)
	})
	noteNo5xx(t, ts)
}

func TestNotesLimits(t *testing.T) {
	ts := startServer(t, "")
	tok := noteUsers(t, ts, "alice")["alice"]
	id := noteCreate(t, ts, tok, map[string]any{"title": "t"})["id"].(string)
	tags := func(n int) []string {
		var s []string
		for i := range n {
			s = append(s, fmt.Sprint("tag", i))
		}
		return s
	}
	cases := []struct {
		name   string
		body   any
		status int
		locs   []string
	}{
		{"title of 200", map[string]any{"title": strings.Repeat("t", 200)}, 201, nil},
		{"title of 201", map[string]any{"title": strings.Repeat("t", 201)}, 422, []string{"body.title"}},
		{"control character in title", map[string]any{"title": "a\x1bb"}, 422, []string{"body.title"}},
		{"body of 100 KiB", map[string]any{"title": "t", "body": strings.Repeat("b", 100<<10)}, 201, nil},
		{"body over 100 KiB", map[string]any{"title": "t", "body": strings.Repeat("b", 100<<10+1)}, 422, []string{"body.body"}},
		{"request over 1 MiB", `{"title":"t","body":"` + strings.Repeat("b", 1<<20) + `"}`, 413, nil},
		{"10 tags", map[string]any{"title": "t", "tags": tags(10)}, 201, nil},
		{"11 tags", map[string]any{"title": "t", "tags": tags(11)}, 422, []string{"body.tags"}},
		{"tag of 33", map[string]any{"title": "t", "tags": []string{strings.Repeat("x", 33)}}, 422, []string{"body.tags[0]"}},
		{"repeated tag", map[string]any{"title": "t", "tags": []string{"a", "b", "a"}}, 422, []string{"body.tags[2]"}},
		{"owner", map[string]any{"title": "t", "owner": "bob"}, 422, []string{"body.owner"}},
		{"id", map[string]any{"title": "t", "id": uuid.NewString()}, 422, []string{"body.id"}},
		{"created_at", map[string]any{"title": "t", "created_at": "2000-01-01T00:00:00Z"}, 422, []string{"body.created_at"}},
		{"updated_at", map[string]any{"title": "t", "updated_at": "2000-01-01T00:00:00Z"}, 422, []string{"body.updated_at"}},
		{"shares", map[string]any{"title": "t", "shares": []any{map[string]any{"username": "bob", "permission": "write"}}}, 422, []string{"body.shares"}},
		{"permission", map[string]any{"title": "t", "permission": "owner"}, 422, []string{"body.permission"}},
		{"every bad field at once", map[string]any{"title": strings.Repeat("t", 201), "tags": tags(11), "owner": "bob", "id": "x"},
			422, []string{"body.title", "body.tags", "body.owner", "body.id"}},
		{"not JSON", "title=t", 400, nil},
	}
	for _, c := range cases {
		for _, method := range []string{"POST", "PATCH"} {
			t.Run(method+" "+c.name, func(t *testing.T) {
				path, status := "/v1/notes", c.status
				if method == "PATCH" {
					path += "/" + id
					if status == 201 {
						status = 200
					}
				}
				r := noteDo(t, ts, tok, method, path, c.body)
				if r.Status != status {
					t.Fatalf("got %d, want %d: %.300s", r.Status, status, r.Body)
				}
				if status >= 400 {
					p := problemOf(t, r, status)
					for _, loc := range c.locs {
						if !slices.Contains(locations(p), loc) {
							t.Errorf("errors: got %v, want %s among them", locations(p), loc)
						}
					}
				}
			})
		}
	}
	// None of the refused writes changed the note.
	n := noteJSON(t, noteDo(t, ts, tok, "GET", "/v1/notes/"+id, nil), http.StatusOK)
	if n["owner"] != "alice" || n["id"] != id || n["created_at"] == "2000-01-01T00:00:00Z" {
		t.Errorf("after mass-assignment attempts: got %v", n)
	}
	noteNo5xx(t, ts)
}

// TestNotesScope checks function-level authorization: the routes need the
// notes:read or notes:write scope (RFC 6750 §3.1).
func TestNotesScope(t *testing.T) {
	ts := startServer(t, "")
	noteUsers(t, ts, "alice")
	full := ts.login(t, "alice", goodPassword)["access_token"].(string)
	id := noteCreate(t, ts, full, map[string]any{"title": "t"})["id"].(string)
	readOnly := ts.login(t, "alice", goodPassword, "scope", "notes:read")["access_token"].(string)

	for _, path := range []string{"/v1/notes", "/v1/notes/" + id} {
		noteJSON(t, noteDo(t, ts, readOnly, "GET", path, nil), http.StatusOK)
	}
	writes := []noteCall{
		{"POST", "/v1/notes", map[string]any{"title": "t"}},
		{"PATCH", "/v1/notes/" + id, map[string]any{"title": "u"}},
		{"DELETE", "/v1/notes/" + id, nil},
		{"PUT", "/v1/notes/" + id + "/shares/someone", map[string]any{"permission": "read"}},
		{"DELETE", "/v1/notes/" + id + "/shares/someone", nil},
	}
	for _, w := range writes {
		r := noteDo(t, ts, readOnly, w.method, w.path, w.body)
		problemOf(t, r, http.StatusForbidden)
		h := r.Header.Get("WWW-Authenticate")
		if !strings.HasPrefix(h, `Bearer realm="gatehouse"`) || !strings.Contains(h, `error="insufficient_scope"`) || !strings.Contains(h, `scope="notes:write"`) {
			t.Errorf("%s %s: got WWW-Authenticate %q, want insufficient_scope and scope=\"notes:write\"", w.method, w.path, h)
		}
	}
	reads := []noteCall{{"GET", "/v1/notes", nil}, {"GET", "/v1/notes/" + id, nil}}
	for _, w := range append(reads, writes...) {
		r := ts.do(t, w.method, w.path, w.body, nil)
		problemOf(t, r, http.StatusUnauthorized)
		if got := r.Header.Get("WWW-Authenticate"); got != `Bearer realm="gatehouse"` {
			t.Errorf("%s %s without a token: got WWW-Authenticate %q", w.method, w.path, got)
		}
	}
	// The note is untouched.
	if n := noteJSON(t, noteDo(t, ts, full, "GET", "/v1/notes/"+id, nil), http.StatusOK); n["title"] != "t" {
		t.Errorf("title: got %v, want t", n["title"])
	}
	noteNo5xx(t, ts)
}
