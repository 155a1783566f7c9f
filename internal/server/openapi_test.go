package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// getOpenAPI fetches and parses /openapi.json from e.
func getOpenAPI(t *testing.T, e *env) map[string]any {
	t.Helper()
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, httptest.NewRequest("GET", "/openapi.json", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("GET /openapi.json: got %d: %s", w.Code, w.Body)
	}
	if got := w.Header().Get("Cache-Control"); got != "public, max-age=300" {
		t.Errorf("Cache-Control: got %q, want public, max-age=300", got)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type: got %q", ct)
	}
	var doc map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatalf("the document is not JSON: %v", err)
	}
	return doc
}

// at walks doc along keys (map keys, or decimal indexes of arrays).
func at(t *testing.T, doc any, keys ...string) any {
	t.Helper()
	cur := doc
	for i, k := range keys {
		m, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%s: not an object", strings.Join(keys[:i], "."))
		}
		if cur, ok = m[k]; !ok {
			t.Fatalf("%s: missing", strings.Join(keys[:i+1], "."))
		}
	}
	return cur
}

// operationOf returns the operation of a route pattern such as "GET /v1/notes".
func operationOf(t *testing.T, doc map[string]any, route string) map[string]any {
	t.Helper()
	method, path, _ := strings.Cut(route, " ")
	op, ok := at(t, doc, "paths", path, strings.ToLower(method)).(map[string]any)
	if !ok {
		t.Fatalf("%s: not an object", route)
	}
	return op
}

func TestOpenAPIDocument(t *testing.T) {
	doc := getOpenAPI(t, newEnv(t))
	if got := doc["openapi"]; got != "3.1.0" {
		t.Errorf("openapi: got %v, want 3.1.0", got)
	}
	if got := at(t, doc, "servers").([]any)[0].(map[string]any)["url"]; got != issuer {
		t.Errorf("servers[0].url: got %v, want %s", got, issuer)
	}
	flow := at(t, doc, "components", "securitySchemes", "oauth2", "flows", "password").(map[string]any)
	if flow["tokenUrl"] != issuer+"/v1/auth/token" {
		t.Errorf("tokenUrl: got %v", flow["tokenUrl"])
	}
	for _, s := range []string{gatehouse.PermNotesRead, gatehouse.PermNotesWrite, gatehouse.PermUsersRead, gatehouse.PermUsersWrite, gatehouse.PermAuditRead} {
		if _, ok := flow["scopes"].(map[string]any)[s]; !ok {
			t.Errorf("the oauth2 scheme lacks scope %s", s)
		}
	}
	if got := at(t, doc, "components", "securitySchemes", "bearer", "bearerFormat"); got != "JWT" {
		t.Errorf("bearer scheme: bearerFormat %v", got)
	}
	problem := at(t, doc, "components", "schemas", "Problem", "properties").(map[string]any)
	for _, f := range []string{"type", "title", "status", "detail", "request_id", "errors"} {
		if _, ok := problem[f]; !ok {
			t.Errorf("the Problem schema lacks %s", f)
		}
	}
	item := at(t, problem, "errors", "items", "properties").(map[string]any)
	if _, ok := item["location"]; !ok {
		t.Errorf("Problem errors items lack location")
	}
}

// pageRoutes are the routes of the interactive reference (/docs): pages
// for browsers, served with the document but not API operations in it.
var pageRoutes = []string{"GET /docs", "GET /docs/{asset}"}

// apiRoutes are the served routes less pageRoutes.
func apiRoutes(e *env) []string {
	return slices.DeleteFunc(e.srv.Routes(), func(r string) bool { return slices.Contains(pageRoutes, r) })
}

// TestOpenAPICoversRoutes fails when a route is served but not documented,
// or documented but not served.
func TestOpenAPICoversRoutes(t *testing.T) {
	e := newEnv(t)
	doc := getOpenAPI(t, e)
	routes := e.srv.Routes()
	if !slices.Contains(routes, "GET /openapi.json") {
		t.Errorf("GET /openapi.json is not among the routes")
	}
	for _, r := range routes {
		method, path, _ := strings.Cut(r, " ")
		item, _ := doc["paths"].(map[string]any)[path].(map[string]any)
		_, ok := item[strings.ToLower(method)]
		switch page := slices.Contains(pageRoutes, r); {
		case page && ok:
			t.Errorf("page route %q is documented as an API operation", r)
		case !page && !ok:
			t.Errorf("route %q is served but missing from the OpenAPI document", r)
		}
	}
	for _, r := range pageRoutes {
		if !slices.Contains(routes, r) {
			t.Errorf("page route %q is not served with Docs on", r)
		}
	}
	for path, item := range doc["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			r := strings.ToUpper(method) + " " + path
			if !slices.Contains(routes, r) {
				t.Errorf("the OpenAPI document lists %q, which is not served", r)
			}
		}
	}
}

func TestOpenAPIRequestBounds(t *testing.T) {
	doc := getOpenAPI(t, newEnv(t))
	reg := at(t, operationOf(t, doc, "POST /v1/users"), "requestBody", "content", "application/json", "schema").(map[string]any)
	if reg["additionalProperties"] != false {
		t.Errorf("registration: additionalProperties %v, want false", reg["additionalProperties"])
	}
	for _, c := range []struct {
		field, key string
		want       float64
	}{
		{"username", "maxLength", 32}, {"username", "minLength", 3},
		{"email", "maxLength", 254}, {"password", "maxLength", 256},
		{"age", "minimum", 13}, {"age", "maximum", 150},
	} {
		if got := at(t, reg, "properties", c.field, c.key); got != c.want {
			t.Errorf("registration %s.%s: got %v, want %v", c.field, c.key, got, c.want)
		}
	}
	req, _ := reg["required"].([]any)
	for _, f := range []string{"username", "email", "password", "age"} {
		if !slices.Contains(req, any(f)) {
			t.Errorf("registration: %s is not required", f)
		}
	}
	note := at(t, operationOf(t, doc, "POST /v1/notes"), "requestBody", "content", "application/json", "schema").(map[string]any)
	if got := at(t, note, "properties", "tags", "maxItems"); got != 10.0 {
		t.Errorf("note tags maxItems: got %v", got)
	}
	// Query parameter bounds.
	var limit map[string]any
	for _, p := range at(t, operationOf(t, doc, "GET /v1/notes"), "parameters").([]any) {
		if p.(map[string]any)["name"] == "limit" {
			limit = p.(map[string]any)
		}
	}
	if limit == nil || at(t, limit, "schema", "maximum") != 100.0 || at(t, limit, "schema", "minimum") != 1.0 || limit["in"] != "query" {
		t.Errorf("GET /v1/notes limit parameter: %v", limit)
	}
	// Path parameters are declared and required.
	for _, p := range at(t, operationOf(t, doc, "PUT /v1/notes/{id}/shares/{username}"), "parameters").([]any) {
		if p.(map[string]any)["in"] != "path" || p.(map[string]any)["required"] != true {
			t.Errorf("share parameter %v", p)
		}
	}
	// OAuth2 endpoints take forms and answer RFC 6749 errors.
	tok := operationOf(t, doc, "POST /v1/auth/token")
	form := at(t, tok, "requestBody", "content", "application/x-www-form-urlencoded", "schema", "properties").(map[string]any)
	if _, ok := form["grant_type"]; !ok {
		t.Errorf("token endpoint form lacks grant_type")
	}
	if got := at(t, tok, "responses", "400", "content", "application/json", "schema", "$ref"); got != "#/components/schemas/OAuthError" {
		t.Errorf("token endpoint 400: %v", got)
	}
}

// TestOpenAPISecurity checks each protected operation's requirement against
// the server: a token that lacks the documented scope is refused with 403.
func TestOpenAPISecurity(t *testing.T) {
	e := newEnv(t)
	doc := getOpenAPI(t, e)
	want := map[string]string{
		"GET /v1/notes":                           gatehouse.PermNotesRead,
		"POST /v1/notes":                          gatehouse.PermNotesWrite,
		"GET /v1/notes/{id}":                      gatehouse.PermNotesRead,
		"PATCH /v1/notes/{id}":                    gatehouse.PermNotesWrite,
		"DELETE /v1/notes/{id}":                   gatehouse.PermNotesWrite,
		"PUT /v1/notes/{id}/shares/{username}":    gatehouse.PermNotesWrite,
		"DELETE /v1/notes/{id}/shares/{username}": gatehouse.PermNotesWrite,
		"GET /v1/admin/users":                     gatehouse.PermUsersRead,
		"PUT /v1/admin/users/{id}/roles":          gatehouse.PermUsersWrite,
		"POST /v1/admin/users/{id}/disable":       gatehouse.PermUsersWrite,
		"POST /v1/admin/users/{id}/enable":        gatehouse.PermUsersWrite,
		"GET /v1/admin/audit":                     gatehouse.PermAuditRead,
	}
	all := []string{gatehouse.PermNotesRead, gatehouse.PermNotesWrite, gatehouse.PermUsersRead, gatehouse.PermUsersWrite, gatehouse.PermAuditRead}
	public := []string{"GET /healthz", "GET /readyz", "GET /.well-known/jwks.json", "GET /.well-known/oauth-authorization-server",
		"GET /openapi.json", "POST /v1/users", "POST /v1/auth/token", "POST /v1/auth/revoke", "POST /v1/auth/session"}
	for _, r := range apiRoutes(e) {
		op := operationOf(t, doc, r)
		sec, _ := op["security"].([]any)
		if slices.Contains(public, r) {
			if len(sec) != 0 {
				t.Errorf("%s: public, but the document requires %v", r, sec)
			}
			continue
		}
		if len(sec) == 0 {
			t.Errorf("%s: protected, but the document has no security requirement", r)
			continue
		}
		scope := want[r]
		for _, req := range sec {
			for scheme, scopes := range req.(map[string]any) {
				if scheme == "cookie" {
					continue
				}
				got := scopes.([]any)
				if scope == "" && len(got) != 0 || scope != "" && (len(got) != 1 || got[0] != scope) {
					t.Errorf("%s: %s scopes %v, want [%s]", r, scheme, got, scope)
				}
			}
		}
		resps := op["responses"].(map[string]any)
		if _, ok := resps["401"]; !ok {
			t.Errorf("%s: no 401 response", r)
		}
		if scope == "" {
			continue
		}
		if _, ok := resps["403"]; !ok {
			t.Errorf("%s: no 403 response", r)
		}
		// The server agrees: every other scope is not enough.
		method, path, _ := strings.Cut(r, " ")
		path = strings.NewReplacer("{id}", "00000000-0000-7000-8000-000000000000", "{username}", "someone").Replace(path)
		others := slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == scope })
		req := httptest.NewRequest(method, path, nil)
		req.Header.Set("Authorization", "Bearer "+e.token(t, "u-scope-test", others))
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, req)
		if w.Code != http.StatusForbidden || !strings.Contains(w.Header().Get("WWW-Authenticate"), `scope="`+scope+`"`) {
			t.Errorf("%s without %s: got %d %q, want 403 naming the scope the document gives", r, scope, w.Code, w.Header().Get("WWW-Authenticate"))
		}
	}
}

// TestOpenAPIErrors: every error response is problem details (or, on the
// OAuth2 endpoints, the RFC 6749 shape), and rate-limited routes document
// the RateLimit header fields.
func TestOpenAPIErrors(t *testing.T) {
	e := newEnv(t)
	doc := getOpenAPI(t, e)
	for _, r := range apiRoutes(e) {
		op := operationOf(t, doc, r)
		oauth := r == "POST /v1/auth/token" || r == "POST /v1/auth/revoke"
		resps := op["responses"].(map[string]any)
		for _, s := range []string{"429", "500"} {
			if _, ok := resps[s]; !ok {
				t.Errorf("%s: no %s response", r, s)
			}
		}
		for status, resp := range resps {
			if status < "400" {
				continue
			}
			content := resp.(map[string]any)["content"].(map[string]any)
			pj, hasProblem := content["application/problem+json"].(map[string]any)
			if hasProblem && at(t, pj, "schema", "$ref") != "#/components/schemas/Problem" {
				t.Errorf("%s %s: problem+json without the Problem schema", r, status)
			}
			if !hasProblem && !oauth {
				t.Errorf("%s %s: not application/problem+json", r, status)
			}
			if oauth && !hasProblem && at(t, content, "application/json", "schema", "$ref") != "#/components/schemas/OAuthError" {
				t.Errorf("%s %s: not the OAuthError schema", r, status)
			}
		}
		headers := at(t, resps["429"], "headers").(map[string]any)
		if _, ok := headers["Retry-After"]; !ok {
			t.Errorf("%s: 429 without Retry-After", r)
		}
		_, limited := headers["RateLimit-Policy"]
		wantLimited := r != "DELETE /v1/auth/session" && (strings.HasPrefix(r, "GET /v1/") || !strings.HasPrefix(r, "GET "))
		if wantLimited != limited {
			t.Errorf("%s: RateLimit-Policy documented %v, want %v", r, limited, wantLimited)
		}
	}
	reg := operationOf(t, doc, "POST /v1/users")["responses"].(map[string]any)
	for _, s := range []string{"201", "409", "413", "415", "422"} {
		if _, ok := reg[s]; !ok {
			t.Errorf("POST /v1/users: no %s response", s)
		}
	}
}

// TestOpenAPIOff: without Config.Docs neither the document nor the
// interactive reference is served.
func TestOpenAPIOff(t *testing.T) {
	srv := newEnvDocs(t, false).srv
	for _, r := range append([]string{"GET /openapi.json"}, pageRoutes...) {
		if slices.Contains(srv.Routes(), r) {
			t.Errorf("%s is served with Docs off", r)
		}
	}
	for _, path := range []string{"/openapi.json", "/docs", "/docs/", "/docs/docs.js"} {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s with Docs off: got %d, want 404", path, w.Code)
		}
	}
}

// TestOpenAPIRateLimitHeadersOn401: the document claims RateLimit fields
// only where the server sends them. On an authenticated route the limits
// are keyed by user and run after authentication, so its 401 carries none;
// its 200 does. An anonymous route's limit runs first, so its 4XX answers
// carry them.
func TestOpenAPIRateLimitHeadersOn401(t *testing.T) {
	e := newEnv(t)
	doc := getOpenAPI(t, e)
	_, tok := e.user(t, "ratelimit-doc", "user")
	documented := func(route, status string) bool {
		_, ok := at(t, operationOf(t, doc, route), "responses", status, "headers").(map[string]any)["RateLimit"]
		return ok
	}
	for _, c := range []struct {
		route, status string
		req           *http.Request
	}{
		{"GET /v1/users/me", "401", httptest.NewRequest("GET", "/v1/users/me", nil)},
		{"GET /v1/users/me", "200", func() *http.Request {
			r := httptest.NewRequest("GET", "/v1/users/me", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			return r
		}()},
		{"POST /v1/users", "415", httptest.NewRequest("POST", "/v1/users", strings.NewReader("x"))},
	} {
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, c.req)
		if got := strconv.Itoa(w.Code); got != c.status {
			t.Fatalf("%s: got %s, want %s", c.route, got, c.status)
		}
		sent := w.Header().Get("RateLimit") != ""
		if doc := documented(c.route, c.status); doc != sent {
			t.Errorf("%s %s: RateLimit documented %v, sent %v", c.route, c.status, doc, sent)
		}
	}
}
