package server_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// noteCall sends one request through the whole server with a bearer token.
func noteCall(tb testing.TB, e *env, tok, method, path, body string) *httptest.ResponseRecorder {
	tb.Helper()
	var req *http.Request
	if body == "" {
		req = httptest.NewRequest(method, path, nil)
	} else {
		req = httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, req)
	return w
}

// noteCreate creates a note through the API and returns its ID.
func noteCreate(tb testing.TB, e *env, tok, body string) string {
	tb.Helper()
	w := noteCall(tb, e, tok, "POST", "/v1/notes", body)
	if w.Code != http.StatusCreated {
		tb.Fatalf("create note: got %d, want 201: %s", w.Code, w.Body)
	}
	var n struct{ ID string }
	if err := json.Unmarshal(w.Body.Bytes(), &n); err != nil {
		tb.Fatal(err)
	}
	return n.ID
}

func noteErrLocations(tb testing.TB, w *httptest.ResponseRecorder) []string {
	tb.Helper()
	var p struct{ Errors []struct{ Location string } }
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		tb.Fatalf("not a problem: %s", w.Body)
	}
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Location)
	}
	return out
}

// TestNoteAccessMatrix runs every note route for the owner, a read share, a
// write share and a stranger, and for IDs that do not exist or are
// malformed. Strangers get 404 everywhere, never 403 (OWASP API1:2023).
func TestNoteAccessMatrix(t *testing.T) {
	e := newEnv(t)
	_, alice := e.user(t, "alice", gatehouse.RoleUser)
	_, bob := e.user(t, "bob", gatehouse.RoleUser)
	_, carol := e.user(t, "carol", gatehouse.RoleUser)
	_, dave := e.user(t, "dave", gatehouse.RoleUser)
	e.user(t, "erin", gatehouse.RoleUser)
	tokens := map[string]string{"owner": alice, "read": bob, "write": carol, "stranger": dave}

	// newNote makes a note shared read with bob and write with carol.
	newNote := func(t *testing.T) string {
		id := noteCreate(t, e, alice, `{"title":"matrix","body":"<p>b</p>","tags":["x"]}`)
		for name, perm := range map[string]string{"bob": "read", "carol": "write"} {
			if w := noteCall(t, e, alice, "PUT", "/v1/notes/"+id+"/shares/"+name, `{"permission":"`+perm+`"}`); w.Code != http.StatusCreated {
				t.Fatalf("share with %s: got %d, want 201: %s", name, w.Code, w.Body)
			}
		}
		return id
	}

	routes := []struct {
		method, path, body string
		want               map[string]int // by caller
	}{
		{"GET", "/v1/notes/{id}", "", map[string]int{"owner": 200, "read": 200, "write": 200, "stranger": 404}},
		{"PATCH", "/v1/notes/{id}", `{"title":"new"}`, map[string]int{"owner": 200, "read": 403, "write": 200, "stranger": 404}},
		{"PATCH", "/v1/notes/{id}", `{}`, map[string]int{"owner": 200, "read": 403, "write": 200, "stranger": 404}},
		{"PATCH", "/v1/notes/{id}", `{"owner":"dave"}`, map[string]int{"owner": 422, "read": 403, "write": 422, "stranger": 404}},
		{"DELETE", "/v1/notes/{id}", "", map[string]int{"owner": 204, "read": 403, "write": 403, "stranger": 404}},
		{"PUT", "/v1/notes/{id}/shares/erin", `{"permission":"read"}`, map[string]int{"owner": 201, "read": 403, "write": 403, "stranger": 404}},
		{"PUT", "/v1/notes/{id}/shares/bob", `{"permission":"write"}`, map[string]int{"owner": 200, "read": 403, "write": 403, "stranger": 404}},
		{"DELETE", "/v1/notes/{id}/shares/bob", "", map[string]int{"owner": 204, "read": 403, "write": 403, "stranger": 404}},
	}
	for _, rt := range routes {
		for _, who := range []string{"stranger", "read", "write", "owner"} {
			t.Run(rt.method+" "+rt.path+" "+rt.body+" as "+who, func(t *testing.T) {
				id := newNote(t)
				w := noteCall(t, e, tokens[who], rt.method, strings.ReplaceAll(rt.path, "{id}", id), rt.body)
				if want := rt.want[who]; w.Code != want {
					t.Fatalf("got %d, want %d: %s", w.Code, want, w.Body)
				}
				if w.Code == http.StatusForbidden && w.Header().Get("WWW-Authenticate") != "" {
					t.Errorf("object-level 403 has WWW-Authenticate %q, want none (the token is fine)", w.Header().Get("WWW-Authenticate"))
				}
				// The note is still there, unchanged for the refused.
				after := noteCall(t, e, alice, "GET", "/v1/notes/"+id, "")
				deleted := rt.method == "DELETE" && rt.path == "/v1/notes/{id}" && who == "owner"
				if (after.Code == http.StatusNotFound) != deleted {
					t.Errorf("after: GET got %d, want deleted=%v", after.Code, deleted)
				}
				if w.Code >= 400 && strings.Contains(after.Body.String(), `"new"`) {
					t.Errorf("a refused request changed the note: %s", after.Body)
				}
			})
		}
	}

	// A note that does not exist, one of a stranger, and a malformed ID
	// all get the same answer.
	id := newNote(t)
	detail := func(w *httptest.ResponseRecorder) string {
		var p map[string]any
		json.Unmarshal(w.Body.Bytes(), &p)
		delete(p, "request_id")
		b, _ := json.Marshal(p)
		return w.Header().Get("Content-Type") + " " + string(b)
	}
	want := detail(noteCall(t, e, dave, "GET", "/v1/notes/"+id, ""))
	for _, path := range []string{
		"/v1/notes/00000000-0000-4000-8000-000000000000",
		"/v1/notes/" + strings.ToUpper(id),
		"/v1/notes/not-a-uuid",
		"/v1/notes/1",
		"/v1/notes/' OR 1=1 --",
		"/v1/notes/" + id + "%00",
	} {
		for _, m := range []string{"GET", "PATCH", "DELETE"} {
			w := noteCall(t, e, alice, m, strings.ReplaceAll(path, " ", "%20"), `{"title":"x"}`)
			if got := detail(w); w.Code != 404 || got != want {
				t.Errorf("%s %s: got %d %s, want 404 %s", m, path, w.Code, got, want)
			}
		}
	}
}

func TestNoteShareAnswers(t *testing.T) {
	e := newEnv(t)
	_, alice := e.user(t, "alice", gatehouse.RoleUser)
	e.user(t, "bob", gatehouse.RoleUser)
	id := noteCreate(t, e, alice, `{"title":"t"}`)
	cases := []struct {
		name, method, user, body string
		status                   int
		locs                     []string
	}{
		{"unknown user", "PUT", "nobody", `{"permission":"read"}`, 422, []string{"path.username"}},
		{"owner", "PUT", "alice", `{"permission":"read"}`, 422, []string{"path.username"}},
		{"owner in other case", "PUT", "ALICE", `{"permission":"read"}`, 422, []string{"path.username"}},
		{"invalid name", "PUT", "a", `{"permission":"read"}`, 422, []string{"path.username"}},
		{"bad permission", "PUT", "bob", `{"permission":"owner"}`, 422, []string{"body.permission"}},
		{"both bad", "PUT", "nobody", `{"permission":"admin"}`, 422, []string{"path.username", "body.permission"}},
		{"missing permission", "PUT", "bob", `{}`, 422, []string{"body.permission"}},
		{"extra field", "PUT", "bob", `{"permission":"read","note_id":"x"}`, 422, []string{"body.note_id"}},
		{"new share", "PUT", "Bob", `{"permission":"read"}`, 201, nil},
		{"same share", "PUT", "bob", `{"permission":"read"}`, 200, nil},
		{"unshare unknown user", "DELETE", "nobody", "", 422, []string{"path.username"}},
		{"unshare", "DELETE", "bob", "", 204, nil},
		{"unshare again", "DELETE", "bob", "", 204, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := noteCall(t, e, alice, c.method, "/v1/notes/"+id+"/shares/"+c.user, c.body)
			if w.Code != c.status {
				t.Fatalf("got %d, want %d: %s", w.Code, c.status, w.Body)
			}
			if c.locs == nil {
				return
			}
			if got := noteErrLocations(t, w); !slices.Equal(got, c.locs) {
				t.Errorf("errors: got %v, want %v", got, c.locs)
			}
		})
	}
}

func TestNoteValidation(t *testing.T) {
	e := newEnv(t)
	_, alice := e.user(t, "alice", gatehouse.RoleUser)
	id := noteCreate(t, e, alice, `{"title":"t"}`)
	big := strings.Repeat("a", 100<<10)
	tags := func(n int) string {
		var s []string
		for i := range n {
			s = append(s, `"t`+string(rune('a'+i))+`"`)
		}
		return "[" + strings.Join(s, ",") + "]"
	}
	cases := []struct {
		name   string
		body   string
		status int
		loc    string // "" for a success
	}{
		{"minimal", `{"title":"t"}`, 201, ""},
		{"200 characters", `{"title":"` + strings.Repeat("é", 200) + `"}`, 201, ""},
		{"body of exactly 100 KiB", `{"title":"t","body":"` + big + `"}`, 201, ""},
		{"10 tags", `{"title":"t","tags":` + tags(10) + `}`, 201, ""},
		{"no title", `{"body":"b"}`, 422, "body.title"},
		{"null title", `{"title":null}`, 422, "body.title"},
		{"empty title", `{"title":""}`, 422, "body.title"},
		{"blank title", `{"title":"   "}`, 422, "body.title"},
		{"201 characters", `{"title":"` + strings.Repeat("a", 201) + `"}`, 422, "body.title"},
		{"newline in title", `{"title":"a\nb"}`, 422, "body.title"},
		{"NUL in title", `{"title":"a\u0000b"}`, 422, "body.title"},
		{"C1 control in title", `{"title":"a\u0085b"}`, 422, "body.title"},
		{"body over 100 KiB", `{"title":"t","body":"` + big + `a"}`, 422, "body.body"},
		{"body over 100 KiB in bytes", `{"title":"t","body":"` + strings.Repeat("é", 60<<10) + `"}`, 422, "body.body"},
		{"11 tags", `{"title":"t","tags":` + tags(11) + `}`, 422, "body.tags"},
		{"repeated tag", `{"title":"t","tags":["a","a"]}`, 422, "body.tags[1]"},
		{"empty tag", `{"title":"t","tags":[""]}`, 422, "body.tags[0]"},
		{"blank tag", `{"title":"t","tags":["x"," "]}`, 422, "body.tags[1]"},
		{"long tag", `{"title":"t","tags":["` + strings.Repeat("a", 33) + `"]}`, 422, "body.tags[0]"},
		{"tab in tag", `{"title":"t","tags":["a\tb"]}`, 422, "body.tags[0]"},
		{"tags not a list", `{"title":"t","tags":"a"}`, 422, "body.tags"},
		{"owner", `{"title":"t","owner":"bob"}`, 422, "body.owner"},
		{"id", `{"title":"t","id":"00000000-0000-4000-8000-000000000000"}`, 422, "body.id"},
		{"created_at", `{"title":"t","created_at":"2020-01-01T00:00:00Z"}`, 422, "body.created_at"},
		{"updated_at", `{"title":"t","updated_at":"2020-01-01T00:00:00Z"}`, 422, "body.updated_at"},
		{"shares", `{"title":"t","shares":[{"username":"bob","permission":"write"}]}`, 422, "body.shares"},
		{"permission", `{"title":"t","permission":"owner"}`, 422, "body.permission"},
		{"Title in other case", `{"title":"t","Title":"x"}`, 422, "body.Title"},
		{"duplicate key", `{"title":"t","title":"u"}`, 422, "body.title"},
	}
	for _, c := range cases {
		for _, method := range []string{"POST", "PATCH"} {
			t.Run(method+" "+c.name, func(t *testing.T) {
				status, path := c.status, "/v1/notes"
				if method == "PATCH" {
					path += "/" + id
					switch {
					case status == 201:
						status = 200
					case c.name == "no title", c.name == "null title":
						status = 200 // every field is optional in a PATCH, and null is absent
					}
				}
				w := noteCall(t, e, alice, method, path, c.body)
				if w.Code != status {
					t.Fatalf("got %d, want %d: %.300s", w.Code, status, w.Body)
				}
				if c.loc != "" && status == 422 {
					if locs := noteErrLocations(t, w); !slices.Contains(locs, c.loc) {
						t.Errorf("errors: got %v, want %s", locs, c.loc)
					}
				}
			})
		}
	}
}

func TestNoteListQuery(t *testing.T) {
	e := newEnv(t)
	_, alice := e.user(t, "alice", gatehouse.RoleUser)
	for range 3 {
		noteCreate(t, e, alice, `{"title":"t"}`)
	}
	w := noteCall(t, e, alice, "GET", "/v1/notes?limit=2", "")
	var page struct {
		Items      []map[string]any
		NextCursor *string `json:"next_cursor"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil || w.Code != 200 || len(page.Items) != 2 || page.NextCursor == nil {
		t.Fatalf("first page: got %d %s, want 200 with 2 items and a cursor", w.Code, w.Body)
	}
	good := *page.NextCursor
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	reencode := func(f func([]byte)) string {
		b := slices.Clone(raw)
		f(b)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	cases := []struct {
		query  string
		status int
		locs   []string
	}{
		{"", 200, nil},
		{"?limit=1", 200, nil},
		{"?limit=100", 200, nil},
		{"?limit=0", 422, []string{"query.limit"}},
		{"?limit=101", 422, []string{"query.limit"}},
		{"?limit=-1", 422, []string{"query.limit"}},
		{"?limit=1.5", 422, []string{"query.limit"}},
		{"?limit=20%20OR%201=1", 422, []string{"query.limit"}},
		{"?limit=1&limit=2", 422, []string{"query.limit"}},
		{"?cursor=" + good, 200, nil},
		{"?cursor=x", 422, []string{"query.cursor"}},
		{"?cursor=" + good + "A", 422, []string{"query.cursor"}},
		{"?cursor=" + good[:len(good)-1], 422, []string{"query.cursor"}},
		{"?cursor=" + url.QueryEscape(base64.StdEncoding.EncodeToString(raw)), 422, []string{"query.cursor"}},
		{"?cursor=" + reencode(func(b []byte) { b[0] = 2 }), 422, []string{"query.cursor"}},
		{"?cursor=" + reencode(func(b []byte) { b[1] = 0x80 }), 422, []string{"query.cursor"}},
		{"?cursor=%27%20OR%201=1%20--", 422, []string{"query.cursor"}},
		{"?q=" + strings.Repeat("a", 200), 200, nil},
		{"?q=" + strings.Repeat("a", 201), 422, []string{"query.q"}},
		{"?q=a%0Ab", 422, []string{"query.q"}},
		{"?q=%27%20UNION%20SELECT%201--", 200, nil},
		{"?q=a&q=b", 422, []string{"query.q"}},
		{"?q=%0A&limit=0&cursor=!", 422, []string{"query.q", "query.limit", "query.cursor"}},
		{"?q=%zz", 422, []string{"query"}},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			w := noteCall(t, e, alice, "GET", "/v1/notes"+c.query, "")
			if w.Code != c.status {
				t.Fatalf("got %d, want %d: %s", w.Code, c.status, w.Body)
			}
			if c.locs == nil {
				return
			}
			if got := noteErrLocations(t, w); !slices.Equal(got, c.locs) {
				t.Errorf("errors: got %v, want %v", got, c.locs)
			}
		})
	}
}

// BenchmarkNoteGet runs GET /v1/notes/{id} through the whole middleware
// chain, as BenchmarkUsersMe does, plus the object-level check: request ID,
// access log, security headers, recovery, routing, token verification from
// the cache, the notes:read scope, the store read that joins the caller's
// share, the owner's share list, and JSON.
func BenchmarkNoteGet(b *testing.B) {
	e := newEnv(b)
	_, alice := e.user(b, "alice", gatehouse.RoleUser)
	e.user(b, "bob", gatehouse.RoleUser)
	id := noteCreate(b, e, alice, `{"title":"Benchmark","body":"<p>A <b>short</b> note with a <a href=\"https://example.com/\">link</a>.</p>","tags":["bench","go"]}`)
	if w := noteCall(b, e, alice, "PUT", "/v1/notes/"+id+"/shares/bob", `{"permission":"read"}`); w.Code != http.StatusCreated {
		b.Fatalf("share: got %d, want 201", w.Code)
	}
	req := httptest.NewRequest("GET", "/v1/notes/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+alice)
	b.ReportAllocs()
	cpu := startCPU(b)
	for b.Loop() {
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("got %d, want 200: %s", w.Code, w.Body)
		}
	}
	cpu.stop()
}
