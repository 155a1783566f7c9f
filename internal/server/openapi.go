package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/jsonbody"
)

// Who may call an operation, as routes.go registers it.
const (
	accessPublic        = "public"          // anyone
	accessToken         = "token"           // a bearer access token
	accessTokenOrCookie = "token or cookie" // a bearer token or the session cookie
	accessCookie        = "cookie"          // the session cookie only (logout)
)

// apiParam is a path or query parameter with its bounds.
type apiParam struct {
	name, in, doc string
	required      bool
	schema        map[string]any
}

// apiOp documents one route of routes.go. Bodies are the Go types the
// handlers decode and write, so their schemas come from the same struct
// tags that validation enforces (jsonbody.Schema).
type apiOp struct {
	summary string
	access  string // accessPublic, accessToken, accessTokenOrCookie or accessCookie
	scope   string // the permission (OAuth2 scope) require() demands; "" for none
	// body is the JSON request body (a Go value); nil: none.
	body any
	// oauth marks an OAuth2 endpoint: a form-encoded body of the form
	// parameters, and RFC 6749 §5.2 errors instead of problem details.
	oauth bool
	form  []apiParam
	// responses maps each success status to the Go value of its JSON
	// body; a nil value is a response without a body.
	responses map[int]any
	// errors lists the statuses of the problem-details errors the route
	// itself answers (those every route can answer are added).
	errors []int
	params []apiParam
}

func pathParam(name, doc string, schema map[string]any) apiParam {
	return apiParam{name: name, in: "path", doc: doc, required: true, schema: schema}
}

func queryParam(name, doc string, schema map[string]any) apiParam {
	return apiParam{name: name, in: "query", doc: doc, schema: schema}
}

func limitParam(def int) apiParam {
	return queryParam("limit", "Page size", map[string]any{"type": "integer", "format": "int32", "minimum": 1, "maximum": 100, "default": def})
}

var (
	noteIDParam = pathParam("id", "Note ID (UUID); another user's note is 404", map[string]any{"type": "string", "format": "uuid", "maxLength": 36})
	userIDParam = pathParam("id", "User ID", map[string]any{"type": "string", "minLength": 1, "maxLength": 64})
	cursorParam = queryParam("cursor", "next_cursor of the previous page", map[string]any{"type": "string", "minLength": 1, "maxLength": 64})
)

// apiDocs is the API reference: one entry per route pattern, keyed exactly
// as routes.go registers it. buildOpenAPI refuses a served route without
// an entry, and an entry for a route that is not served.
var apiDocs = map[string]apiOp{
	"GET /healthz": {summary: "Liveness: 200 while the process runs", access: accessPublic,
		responses: map[int]any{200: statusResponse{}}},
	"GET /readyz": {summary: "Readiness: 200 when every backing store answers, else 503", access: accessPublic,
		responses: map[int]any{200: statusResponse{}}},
	"GET /.well-known/jwks.json": {summary: "Public signing keys (RFC 7517)", access: accessPublic,
		responses: map[int]any{200: auth.JWKS{}}},
	"GET /.well-known/oauth-authorization-server": {summary: "Authorization server metadata (RFC 8414)", access: accessPublic,
		responses: map[int]any{200: metadata{}}},
	"GET /openapi.json": {summary: "This OpenAPI 3.1 document", access: accessPublic,
		responses: map[int]any{200: map[string]any{}}},

	"POST /v1/users": {summary: "Register an account (role user)", access: accessPublic,
		body: registerRequest{}, responses: map[int]any{201: userResponse{}}, errors: []int{409}},
	"POST /v1/auth/token": {summary: "OAuth2 token endpoint: password grant (RFC 6749 §4.3) and refresh grant (§6)", access: accessPublic,
		oauth: true, responses: map[int]any{200: tokenResponse{}},
		form: []apiParam{
			{name: "grant_type", required: true, schema: map[string]any{"type": "string", "enum": []string{"password", "refresh_token"}}},
			{name: "username", doc: "password grant", schema: map[string]any{"type": "string", "maxLength": 256}},
			{name: "password", doc: "password grant", schema: map[string]any{"type": "string", "maxLength": 256}},
			{name: "refresh_token", doc: "refresh grant; rotated on every use (none is longer than 128 characters)", schema: map[string]any{"type": "string", "maxLength": 128}},
			{name: "scope", doc: "space-separated; at most what the account (or the original grant) holds", schema: map[string]any{"type": "string", "maxLength": maxFormBytes}},
			{name: "client_id", doc: "optional; only " + ClientID, schema: map[string]any{"type": "string", "enum": []string{ClientID}}},
		}},
	"POST /v1/auth/revoke": {summary: "Revoke a refresh or access token (RFC 7009); 200 even for unknown tokens", access: accessPublic,
		oauth: true, responses: map[int]any{200: nil},
		form: []apiParam{
			{name: "token", required: true, doc: "a refresh or access token; the whole form is at most 8 KiB", schema: map[string]any{"type": "string", "maxLength": maxFormBytes}},
			{name: "token_type_hint", schema: map[string]any{"type": "string", "enum": []string{"refresh_token", "access_token"}}},
			{name: "client_id", doc: "optional; only " + ClientID, schema: map[string]any{"type": "string", "enum": []string{ClientID}}},
		}},
	"POST /v1/auth/session": {summary: "Browser login: sets the " + CookieName + " session cookie", access: accessPublic,
		body: browserLoginRequest{}, responses: map[int]any{200: userResponse{}}, errors: []int{401, 403}},
	"DELETE /v1/auth/session": {summary: "Browser logout: ends the cookie session", access: accessCookie,
		responses: map[int]any{204: nil}, errors: []int{401, 403}},

	"GET /v1/users/me": {summary: "The caller's account", access: accessTokenOrCookie,
		responses: map[int]any{200: userResponse{}}, errors: []int{401, 404}},
	"POST /v1/users/me/password": {summary: "Change the password; ends every other session", access: accessTokenOrCookie,
		body: passwordChangeRequest{}, responses: map[int]any{204: nil}, errors: []int{401, 403}},
	"GET /v1/sessions": {summary: "The caller's active sessions", access: accessToken,
		responses: map[int]any{200: sessionList{}}, errors: []int{401}},
	"DELETE /v1/sessions/{id}": {summary: "End one of the caller's sessions", access: accessToken,
		responses: map[int]any{204: nil}, errors: []int{401, 404},
		params: []apiParam{pathParam("id", "Session ID; another user's session is 404", map[string]any{"type": "string", "minLength": 1, "maxLength": 64})}},
	"POST /v1/sessions/revoke-all": {summary: "End every session of the caller", access: accessToken,
		responses: map[int]any{204: nil}, errors: []int{401}},

	"GET /v1/notes": {summary: "List own and shared notes, newest first", access: accessToken, scope: gatehouse.PermNotesRead,
		responses: map[int]any{200: noteListResponse{}}, errors: []int{401, 403, 422},
		params: []apiParam{
			queryParam("q", "Literal text searched in title and body", map[string]any{"type": "string", "maxLength": maxNoteSearchChars}),
			limitParam(defaultNoteLimit), cursorParam,
		}},
	"POST /v1/notes": {summary: "Create a note", access: accessToken, scope: gatehouse.PermNotesWrite,
		body: noteCreateRequest{}, responses: map[int]any{201: noteResponse{}}, errors: []int{401, 403}},
	"GET /v1/notes/{id}": {summary: "Read a note", access: accessToken, scope: gatehouse.PermNotesRead,
		responses: map[int]any{200: noteResponse{}}, errors: []int{401, 403, 404}, params: []apiParam{noteIDParam}},
	"PATCH /v1/notes/{id}": {summary: "Change a note (owner or write share)", access: accessToken, scope: gatehouse.PermNotesWrite,
		body: noteUpdateRequest{}, responses: map[int]any{200: noteResponse{}}, errors: []int{401, 403, 404}, params: []apiParam{noteIDParam}},
	"DELETE /v1/notes/{id}": {summary: "Delete a note (owner)", access: accessToken, scope: gatehouse.PermNotesWrite,
		responses: map[int]any{204: nil}, errors: []int{401, 403, 404}, params: []apiParam{noteIDParam}},
	"PUT /v1/notes/{id}/shares/{username}": {summary: "Share a note with a user (owner)", access: accessToken, scope: gatehouse.PermNotesWrite,
		body: shareRequest{}, responses: map[int]any{200: noteResponse{}, 201: noteResponse{}}, errors: []int{401, 403, 404},
		params: []apiParam{noteIDParam, pathParam("username", "The user to share with", map[string]any{"type": "string", "minLength": 1, "maxLength": 256})}},
	"DELETE /v1/notes/{id}/shares/{username}": {summary: "Unshare a note (owner)", access: accessToken, scope: gatehouse.PermNotesWrite,
		responses: map[int]any{204: nil}, errors: []int{401, 403, 404, 422},
		params: []apiParam{noteIDParam, pathParam("username", "The user to unshare with", map[string]any{"type": "string", "minLength": 1, "maxLength": 256})}},

	"GET /v1/admin/users": {summary: "List users, a page at a time", access: accessToken, scope: gatehouse.PermUsersRead,
		responses: map[int]any{200: userPage{}}, errors: []int{401, 403, 422},
		params: []apiParam{limitParam(20), queryParam("cursor", "next_cursor of the previous page", map[string]any{"type": "string", "minLength": 1, "maxLength": 86})}},
	"PUT /v1/admin/users/{id}/roles": {summary: "Set a user's roles; removing one ends the user's sessions", access: accessToken, scope: gatehouse.PermUsersWrite,
		body: rolesRequest{}, responses: map[int]any{200: userResponse{}}, errors: []int{401, 403, 404, 409}, params: []apiParam{userIDParam}},
	"POST /v1/admin/users/{id}/disable": {summary: "Disable a user; their tokens stop working at once", access: accessToken, scope: gatehouse.PermUsersWrite,
		responses: map[int]any{200: userResponse{}}, errors: []int{401, 403, 404, 409}, params: []apiParam{userIDParam}},
	"POST /v1/admin/users/{id}/enable": {summary: "Enable a user and lift a login lock", access: accessToken, scope: gatehouse.PermUsersWrite,
		responses: map[int]any{200: userResponse{}}, errors: []int{401, 403, 404, 409}, params: []apiParam{userIDParam}},
	"GET /v1/admin/audit": {summary: "Security events, oldest first, filtered, a page at a time", access: accessToken, scope: gatehouse.PermAuditRead,
		responses: map[int]any{200: auditPage{}}, errors: []int{401, 403, 422},
		params: []apiParam{
			queryParam("type", "Event type", map[string]any{"type": "string", "maxLength": 64}),
			queryParam("user", "Actor or subject user ID", map[string]any{"type": "string", "maxLength": 64}),
			queryParam("since", "RFC 3339 time", map[string]any{"type": "string", "format": "date-time", "maxLength": 64}),
			queryParam("until", "RFC 3339 time", map[string]any{"type": "string", "format": "date-time", "maxLength": 64}),
			limitParam(50),
			queryParam("cursor", "next_cursor of the previous page", map[string]any{"type": "string", "pattern": "^[0-9]+$", "maxLength": 19}),
		}},
}

// jwtPractices says how access tokens follow the JWT best current
// practices (RFC 8725), for the security schemes' descriptions.
const jwtPractices = "Tokens follow the JWT best current practices (RFC8725): signed with EdDSA (Ed25519) by default; verification accepts only the configured algorithm, " +
	"a known kid, the exact iss, aud and typ (at+jwt, RFC 9068), requires exp, and ignores jku, x5u and embedded jwk headers."

// accessDescriptions says who may call an operation, by its access.
var accessDescriptions = map[string]string{
	accessPublic:        "Public: no credentials.",
	accessToken:         "Needs a bearer access token.",
	accessTokenOrCookie: "Needs a bearer access token or the session cookie (unsafe cookie requests must be same-origin).",
	accessCookie:        "Needs the session cookie; the request must be same-origin.",
}

// apiTags group the operations by area, in the order the docs show them.
var apiTags = []any{
	map[string]any{"name": "auth", "description": "OAuth2 token endpoint, revocation, browser sessions"},
	map[string]any{"name": "users", "description": "Registration and the caller's account"},
	map[string]any{"name": "sessions", "description": "The caller's sessions (refresh-token families)"},
	map[string]any{"name": "notes", "description": "Notes and sharing"},
	map[string]any{"name": "admin", "description": "Administration (admin permissions)"},
	map[string]any{"name": "meta", "description": "Health, keys, metadata and this document"},
}

// routeTag is the tag (area) of a route pattern: the path segment after
// /v1/, or meta for the routes outside /v1.
func routeTag(route string) string {
	_, path, _ := strings.Cut(route, " ")
	rest, ok := strings.CutPrefix(path, "/v1/")
	if !ok {
		return "meta"
	}
	seg, _, _ := strings.Cut(rest, "/")
	return seg
}

// allScopes are the permissions tokens can carry, for the security schemes.
var allScopes = map[string]string{
	gatehouse.PermNotesRead:  "Read own and shared notes",
	gatehouse.PermNotesWrite: "Create, change, share and delete notes",
	gatehouse.PermUsersRead:  "List users (admin)",
	gatehouse.PermUsersWrite: "Change roles, disable and enable users (admin)",
	gatehouse.PermAuditRead:  "Read the audit trail (admin)",
}

// problemSchema is the RFC 9457 problem details body of every error.
func problemSchema() map[string]any {
	return map[string]any{
		"type":     "object",
		"required": []string{"type", "title", "status", "detail", "request_id"},
		"properties": map[string]any{
			"type":       map[string]any{"type": "string", "format": "uri-reference"},
			"title":      map[string]any{"type": "string"},
			"status":     map[string]any{"type": "integer", "minimum": 400, "maximum": 599},
			"detail":     map[string]any{"type": "string"},
			"instance":   map[string]any{"type": "string"},
			"request_id": map[string]any{"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
			"errors": map[string]any{
				"type":        "array",
				"description": "Validation failures (422), one per bad field",
				"items": map[string]any{
					"type":                 "object",
					"required":             []string{"location", "message"},
					"additionalProperties": false,
					"properties": map[string]any{
						"location": map[string]any{"type": "string", "examples": []string{"body.email", "query.limit"}},
						"message":  map[string]any{"type": "string"},
					},
				},
			},
		},
	}
}

// oauthErrorSchema is the RFC 6749 §5.2 error body.
func oauthErrorSchema() map[string]any {
	return map[string]any{
		"type":                 "object",
		"required":             []string{"error"},
		"additionalProperties": false,
		"properties": map[string]any{
			"error": map[string]any{"type": "string", "enum": []string{"invalid_request", "invalid_client", "invalid_grant",
				"unsupported_grant_type", "invalid_scope", "temporarily_unavailable", "server_error"}},
			"error_description": map[string]any{"type": "string"},
		},
	}
}

var statusDescriptions = map[int]string{
	400: "The request is malformed",
	401: "Authentication is required or failed (WWW-Authenticate: Bearer)",
	403: "Forbidden: the token lacks the permission (WWW-Authenticate: Bearer error=\"insufficient_scope\"), or a cross-origin cookie request",
	404: "No such resource, or one the caller may not see",
	409: "Conflict with the current state",
	413: "The request body is too large",
	415: "The request body must be application/json",
	422: "Validation failed; errors lists every bad field",
	429: "Too many requests; retry after Retry-After seconds",
	500: "Internal error (never with internal details)",
	503: "Overloaded or a backing store does not answer; retry after Retry-After seconds",
}

func headerRef(name string) map[string]any {
	return map[string]any{"$ref": "#/components/headers/" + name}
}

// buildOpenAPI returns the OpenAPI 3.1 document of the served routes.
// access maps each route to the guard routes.go put in front of it, and
// rateLimited tells which routes send RateLimit header fields. It fails
// when the routes and apiDocs disagree.
func buildOpenAPI(issuer string, routes []string, access map[string]string, rateLimited func(string) bool) ([]byte, error) {
	var problems []string
	for _, r := range routes {
		op, ok := apiDocs[r]
		if !ok {
			problems = append(problems, "route "+r+" has no entry in apiDocs")
			continue
		}
		if a := access[r]; a != "" && a != op.access {
			problems = append(problems, fmt.Sprintf("route %s is registered as %q but documented as %q", r, a, op.access))
		}
	}
	for p := range apiDocs {
		if !slices.Contains(routes, p) {
			problems = append(problems, "apiDocs lists "+p+", which is not served")
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, fmt.Errorf("openapi: %s", strings.Join(problems, "; "))
	}

	base := strings.TrimSuffix(issuer, "/")
	paths := map[string]any{}
	for _, r := range routes {
		method, path, _ := strings.Cut(r, " ")
		item, _ := paths[path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[path] = item
		}
		item[strings.ToLower(method)] = operation(r, apiDocs[r], rateLimited(r))
	}

	doc := map[string]any{
		// No jsonSchemaDialect: the default, the OAS base dialect, is JSON
		// Schema 2020-12 plus OpenAPI's own keywords, so the 2020-12
		// schemas of jsonbody.Schema are valid under it; Swagger UI and
		// other tools support only the default.
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Gatehouse API",
			"version":     "v1",
			"description": "Errors are RFC 9457 problem details (application/problem+json); the OAuth2 endpoints answer errors in the RFC 6749 §5.2 shape.",
		},
		// x-internal false: the API is meant for clients on the network
		// (OWASP API9:2023, an inventory of who each server is for).
		"servers": []any{map[string]any{"url": issuer, "x-internal": false}},
		"tags":    apiTags,
		"paths":   paths,
		"components": map[string]any{
			"schemas": map[string]any{
				"Problem":    problemSchema(),
				"OAuthError": oauthErrorSchema(),
			},
			"headers": map[string]any{
				"RateLimit-Policy": map[string]any{"description": "IETF RateLimit-Policy field: the quota (q) per window (w seconds)",
					"schema": map[string]any{"type": "string"}},
				"RateLimit": map[string]any{"description": "IETF RateLimit field: remaining requests (r) and seconds to reset (t)",
					"schema": map[string]any{"type": "string"}},
				"Retry-After": map[string]any{"description": "Seconds to wait before retrying",
					"schema": map[string]any{"type": "integer", "format": "int64", "minimum": 0}},
				"Access-Control-Allow-Origin": map[string]any{"description": "CORS (Fetch Standard): sent only when --cors-origins lists the request's Origin (or is *); " +
					"absent by default, so browsers refuse cross-origin reads",
					"schema": map[string]any{"type": "string", "maxLength": 2048}},
				"WWW-Authenticate": map[string]any{"description": "RFC 6750 §3 challenge",
					"schema": map[string]any{"type": "string"}},
				"X-Request-ID": map[string]any{"description": "The request's ID, also in the log and in problem details",
					"schema": map[string]any{"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}},
			},
			"securitySchemes": map[string]any{
				"oauth2": map[string]any{
					"type":        "oauth2",
					"description": "Access tokens from the token endpoint (password grant). " + jwtPractices,
					"flows": map[string]any{
						"password": map[string]any{
							"tokenUrl":   base + "/v1/auth/token",
							"refreshUrl": base + "/v1/auth/token",
							"scopes":     allScopes,
						},
					},
				},
				"bearer": map[string]any{
					"type":         "http",
					"scheme":       "bearer",
					"bearerFormat": "JWT",
					"description":  "An access token (RFC 9068 JWT) in Authorization: Bearer. " + jwtPractices,
				},
				"cookie": map[string]any{
					"type":        "apiKey",
					"in":          "cookie",
					"name":        CookieName,
					"description": "The browser session cookie set by POST /v1/auth/session; unsafe requests must be same-origin",
				},
			},
		},
	}
	// Through a generic copy: the schemas in doc share maps with apiDocs,
	// which must not be written to.
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var generic any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	setIntegerFormats(generic)
	return json.Marshal(generic)
}

// setIntegerFormats gives every integer schema in v without a format the
// format int64: Go's int on the 64-bit platforms gatehouse is built for
// (OpenAPI 3.1 §4.2; OWASP API4:2023 asks for a declared width).
func setIntegerFormats(v any) {
	switch v := v.(type) {
	case map[string]any:
		if v["type"] == "integer" {
			if _, ok := v["format"]; !ok {
				v["format"] = "int64"
			}
		}
		for _, c := range v {
			setIntegerFormats(c)
		}
	case []any:
		for _, c := range v {
			setIntegerFormats(c)
		}
	}
}

// operation builds the Operation Object of one route.
func operation(route string, op apiOp, rateLimited bool) map[string]any {
	o := map[string]any{
		"summary":     op.summary,
		"operationId": operationID(route),
		"tags":        []string{routeTag(route)},
		"description": accessDescriptions[op.access],
	}
	if op.scope != "" {
		o["description"] = accessDescriptions[op.access] + " Requires the permission " + op.scope + "."
	}
	switch op.access {
	case accessToken:
		o["security"] = []any{map[string]any{"oauth2": scopeList(op.scope)}, map[string]any{"bearer": scopeList(op.scope)}}
	case accessTokenOrCookie:
		o["security"] = []any{map[string]any{"oauth2": scopeList(op.scope)}, map[string]any{"bearer": scopeList(op.scope)},
			map[string]any{"cookie": []string{}}}
	case accessCookie:
		o["security"] = []any{map[string]any{"cookie": []string{}}}
	default:
		o["security"] = []any{}
	}
	var params []any
	for _, p := range op.params {
		pm := map[string]any{"name": p.name, "in": p.in, "required": p.required, "schema": p.schema}
		if p.doc != "" {
			pm["description"] = p.doc
		}
		params = append(params, pm)
	}
	if params != nil {
		o["parameters"] = params
	}

	errs := slices.Clone(op.errors)
	errs = append(errs, 429, 500, 503)
	switch {
	case op.oauth:
		props := map[string]any{}
		var required []string
		for _, f := range op.form {
			s := cloneMap(f.schema)
			if f.doc != "" {
				s["description"] = f.doc
			}
			props[f.name] = s
			if f.required {
				required = append(required, f.name)
			}
		}
		schema := map[string]any{"type": "object", "properties": props}
		if required != nil {
			schema["required"] = required
		}
		o["requestBody"] = map[string]any{
			"required": true,
			"content":  map[string]any{"application/x-www-form-urlencoded": map[string]any{"schema": schema}},
		}
		errs = append(errs, 400, 401, 413)
	case op.body != nil:
		schema := jsonbody.Schema(op.body)
		delete(schema, "$schema")
		o["requestBody"] = map[string]any{
			"required": true,
			"content":  map[string]any{"application/json": map[string]any{"schema": schema}},
		}
		errs = append(errs, 400, 413, 415, 422)
	}
	if op.access != accessPublic {
		errs = append(errs, 401)
	}
	if op.scope != "" {
		errs = append(errs, 403)
	}
	slices.Sort(errs)
	errs = slices.Compact(errs)

	responses := map[string]any{}
	withHeaders := func(resp map[string]any, status int) map[string]any {
		h := map[string]any{"X-Request-ID": headerRef("X-Request-ID"), "Access-Control-Allow-Origin": headerRef("Access-Control-Allow-Origin")}
		// On authenticated routes the limits are keyed by user, so they run
		// after authentication: a 401 there has passed no limiter and
		// carries no RateLimit fields.
		if rateLimited && (status != 401 || op.access == accessPublic) {
			h["RateLimit-Policy"] = headerRef("RateLimit-Policy")
			h["RateLimit"] = headerRef("RateLimit")
		}
		if status == 429 || status == 503 {
			h["Retry-After"] = headerRef("Retry-After")
		}
		if status == 401 || status == 403 {
			h["WWW-Authenticate"] = headerRef("WWW-Authenticate")
		}
		resp["headers"] = h
		return resp
	}
	for status, body := range op.responses {
		resp := map[string]any{"description": http.StatusText(status)}
		if body != nil {
			var schema map[string]any
			if m, ok := body.(map[string]any); ok {
				schema = cloneMap(m)
				schema["type"] = "object"
			} else {
				schema = jsonbody.Schema(body)
				delete(schema, "$schema")
			}
			resp["content"] = map[string]any{"application/json": map[string]any{"schema": schema}}
		}
		responses[strconv.Itoa(status)] = withHeaders(resp, status)
	}
	problemContent := map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}
	oauthContent := map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/OAuthError"}}
	for _, status := range errs {
		content := map[string]any{"application/problem+json": problemContent}
		if op.oauth && status != 429 {
			// RFC 6749 §5.2 errors from the endpoint; an overload
			// (503) or a crash (500) before it may still be a problem.
			content = map[string]any{"application/json": oauthContent}
			if status >= 500 {
				content["application/problem+json"] = problemContent
			}
		}
		desc := statusDescriptions[status]
		if op.oauth && status == 401 {
			desc = "invalid_client (WWW-Authenticate: Basic)"
		}
		responses[strconv.Itoa(status)] = withHeaders(map[string]any{"description": desc, "content": content}, status)
	}
	o["responses"] = responses
	return o
}

func scopeList(scope string) []string {
	if scope == "" {
		return []string{}
	}
	return []string{scope}
}

// cloneMap returns a shallow copy of m.
func cloneMap(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// operationID derives a stable camelCase ID from a route pattern, such as
// "GET /v1/notes/{id}" → "getV1NotesById".
func operationID(route string) string {
	method, path, _ := strings.Cut(route, " ")
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, seg := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '.' || r == '-' }) {
		if p, ok := strings.CutPrefix(seg, "{"); ok {
			b.WriteString("By")
			seg = strings.TrimSuffix(p, "}")
		}
		if seg == "" {
			continue
		}
		b.WriteString(strings.ToUpper(seg[:1]) + seg[1:])
	}
	return b.String()
}

// handleOpenAPI serves the prepared document. It holds no secret or
// personal data, so shared caches may keep it briefly.
func handleOpenAPI(doc []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(doc)
		}
	})
}
