package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/docsui"
)

// actors of the authorization matrix, in column order.
var actors = []string{"anonymous", "owner", "stranger", "reader", "writer", "admin"}

// matrixRow is one route: the request to send and the status each actor
// must get. Path placeholders: {note} (owned by "owner", shared read with
// "reader" and write with "writer"), {session} (a session of "owner"),
// {target} (a plain user the admin routes act on), {new} (a fresh name).
type matrixRow struct {
	method, path, body string
	want               [6]int // anonymous, owner, stranger, reader, writer, admin
}

var matrix = []matrixRow{
	{"GET", "/healthz", "", [6]int{200, 200, 200, 200, 200, 200}},
	{"GET", "/readyz", "", [6]int{200, 200, 200, 200, 200, 200}},
	{"GET", "/.well-known/jwks.json", "", [6]int{200, 200, 200, 200, 200, 200}},
	{"GET", "/.well-known/oauth-authorization-server", "", [6]int{200, 200, 200, 200, 200, 200}},
	{"GET", "/openapi.json", "", [6]int{200, 200, 200, 200, 200, 200}},
	// The interactive reference: a page and its assets ({asset}: one of them).
	{"GET", "/docs", "", [6]int{200, 200, 200, 200, 200, 200}},
	{"GET", "/docs/{asset}", "", [6]int{200, 200, 200, 200, 200, 200}},
	{"POST", "/v1/users", `{"username":"{new}","email":"{new}@example.com","password":"correct horse battery staple 9","age":30}`, [6]int{201, 201, 201, 201, 201, 201}},
	{"POST", "/v1/auth/token", "form:grant_type=password&username=nobody&password=nope", [6]int{400, 400, 400, 400, 400, 400}},
	{"POST", "/v1/auth/revoke", "form:token=unknown", [6]int{200, 200, 200, 200, 200, 200}},
	{"POST", "/v1/auth/session", `{"username":"nobody","password":"wrong password!"}`, [6]int{401, 401, 401, 401, 401, 401}},
	// Logout takes the session cookie only; a bearer token is not one.
	{"DELETE", "/v1/auth/session", "", [6]int{401, 401, 401, 401, 401, 401}},
	{"GET", "/v1/users/me", "", [6]int{401, 200, 200, 200, 200, 200}},
	{"POST", "/v1/users/me/password", `{"current_password":"not it at all","new_password":"another long passphrase 1"}`, [6]int{401, 422, 422, 422, 422, 422}},
	{"GET", "/v1/sessions", "", [6]int{401, 200, 200, 200, 200, 200}},
	{"DELETE", "/v1/sessions/{session}", "", [6]int{401, 204, 404, 404, 404, 404}},
	{"POST", "/v1/sessions/revoke-all", "", [6]int{401, 204, 204, 204, 204, 204}},
	{"GET", "/v1/notes", "", [6]int{401, 200, 200, 200, 200, 200}},
	{"POST", "/v1/notes", `{"title":"t","body":"<p>b</p>"}`, [6]int{401, 201, 201, 201, 201, 201}},
	// Object level: strangers, and admins (who hold notes:* but own
	// nothing here), get 404; sharees get what their share allows.
	{"GET", "/v1/notes/{note}", "", [6]int{401, 200, 404, 200, 200, 404}},
	{"PATCH", "/v1/notes/{note}", `{"title":"changed"}`, [6]int{401, 200, 404, 403, 200, 404}},
	{"DELETE", "/v1/notes/{note}", "", [6]int{401, 204, 404, 403, 403, 404}},
	{"PUT", "/v1/notes/{note}/shares/{target}", `{"permission":"read"}`, [6]int{401, 201, 404, 403, 403, 404}},
	{"DELETE", "/v1/notes/{note}/shares/reader", "", [6]int{401, 204, 404, 403, 403, 404}},
	// Function level: the users:* and audit:* permissions are the admin's.
	{"GET", "/v1/admin/users", "", [6]int{401, 403, 403, 403, 403, 200}},
	{"PUT", "/v1/admin/users/{target}/roles", `{"roles":["user"]}`, [6]int{401, 403, 403, 403, 403, 200}},
	{"POST", "/v1/admin/users/{target}/disable", "", [6]int{401, 403, 403, 403, 403, 200}},
	{"POST", "/v1/admin/users/{target}/enable", "", [6]int{401, 403, 403, 403, 403, 200}},
	{"GET", "/v1/admin/audit", "", [6]int{401, 403, 403, 403, 403, 200}},
}

// TestAuthorizationMatrix sends every route, as every actor, to a real
// listener, on fresh fixtures per cell, and checks the status. It fails
// when the router serves a route the table does not list, so no route can
// be added without deciding who may call it (OWASP API1 and API5:2023).
func TestAuthorizationMatrix(t *testing.T) {
	routes := newEnv(t).srv.Routes()
	listed := map[string]bool{}
	for _, r := range matrix {
		p := r.method + " " + r.path
		for _, ph := range []string{"{note}", "{session}", "{target}"} {
			p = strings.ReplaceAll(p, ph, map[string]string{"{note}": "{id}", "{session}": "{id}", "{target}": "{id}"}[ph])
		}
		p = strings.ReplaceAll(p, "/shares/{id}", "/shares/{username}")
		p = strings.ReplaceAll(p, "/shares/reader", "/shares/{username}")
		listed[p] = true
	}
	for _, r := range routes {
		if !listed[r] {
			t.Errorf("route %q is served but missing from the authorization matrix", r)
		}
	}
	for p := range listed {
		if !slices.Contains(routes, p) {
			t.Errorf("matrix row %q names no served route", p)
		}
	}

	for _, row := range matrix {
		for i, actor := range actors {
			t.Run(row.method+" "+row.path+"/"+actor, func(t *testing.T) {
				got := matrixCell(t, row, actor)
				if got != row.want[i] {
					t.Errorf("got %d, want %d", got, row.want[i])
				}
			})
		}
	}
}

// matrixCell builds fresh fixtures, sends the row's request as actor over
// a real listener, and returns the status.
func matrixCell(t *testing.T, row matrixRow, actor string) int {
	e := newEnv(t)
	ctx := context.Background()
	tokens := map[string]string{}
	ids := map[string]string{}
	for _, name := range actors[1:] {
		role := gatehouse.RoleUser
		if name == "admin" {
			role = gatehouse.RoleAdmin
		}
		u, tok := e.user(t, name, role)
		tokens[name], ids[name] = tok, u.ID
	}
	target, _ := e.user(t, "target", gatehouse.RoleUser)
	note := &gatehouse.Note{ID: uuid.NewString(), OwnerID: ids["owner"], Title: "owner's note", Body: "<p>secret</p>", Tags: []string{}}
	if err := e.store.CreateNote(ctx, note); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.ShareNote(ctx, note.ID, ids["owner"], ids["reader"], gatehouse.NoteRead); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.ShareNote(ctx, note.ID, ids["owner"], ids["writer"], gatehouse.NoteWrite); err != nil {
		t.Fatal(err)
	}
	sess := &gatehouse.Session{ID: uuid.NewString(), UserID: ids["owner"], Scope: "notes:read"}
	now := time.Now()
	sess.CreatedAt, sess.LastUsedAt, sess.ExpiresAt = now, now, now.AddDate(0, 0, 1)
	if err := e.store.CreateSession(ctx, sess, &gatehouse.RefreshToken{Hash: []byte(sess.ID), SessionID: sess.ID, CreatedAt: now, ExpiresAt: sess.ExpiresAt}); err != nil {
		t.Fatal(err)
	}

	path := strings.NewReplacer("{note}", note.ID, "{session}", sess.ID, "{target}", target.ID, "{asset}", docsAsset(t)).Replace(row.path)
	if strings.Contains(row.path, "/shares/{target}") {
		path = strings.Replace(path, target.ID, "target", 1)
	}
	body := strings.ReplaceAll(row.body, "{new}", "n"+strings.ReplaceAll(uuid.NewString()[:8], "-", ""))
	ctype := "application/json"
	if rest, ok := strings.CutPrefix(body, "form:"); ok {
		body, ctype = rest, "application/x-www-form-urlencoded"
	}

	srv := httptest.NewServer(e.srv)
	defer srv.Close()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(row.method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if tok := tokens[actor]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// docsAsset is the hashed name of one asset the /docs page links to.
func docsAsset(t *testing.T) string {
	ui, err := docsui.New(docsui.Config{SpecURL: "openapi.json"})
	if err != nil {
		t.Fatal(err)
	}
	return ui.AssetNames()[0]
}
