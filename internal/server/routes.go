package server

import (
	"net/http"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/internal/docsui"
	"github.com/gatehouse/gatehouse/ratelimit"
)

// addRoutes lists every route of the API with the checks that guard it.
// Read it as a table:
//   - public(...)   anyone; rate-limited per client IP where a limit is set
//   - user(...)     a valid bearer token; the general per-user rate limit
//   - browser(...)  a bearer token or the session cookie (cookie requests
//     that change state must pass http.CrossOriginProtection)
//   - require(p)    the token must carry permission (OAuth2 scope) p
//
// Object-level checks (another user's note or session is 404) are in the
// handlers, next to the store call that enforces them.
func (s *Server) addRoutes(d Deps) error {
	a, err := newAuthenticator(d)
	if err != nil {
		return err
	}
	lim, err := newLimits(d)
	if err != nil {
		return err
	}
	cop := http.NewCrossOriginProtection()
	for _, o := range d.Config.TrustedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return err
		}
	}
	// require is auth.Require that also records a refusal in the audit
	// trail (OWASP ASVS 5.0 §16.3.2: log authorization failures).
	require := func(scope string) func(http.Handler) http.Handler {
		return func(h http.Handler) http.Handler {
			inner := auth.Require(scope)(h)
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c, ok := auth.FromContext(r.Context()); ok && !c.Has(scope) {
					securityEvent(d, r, "authorization_denied", c.Subject, "permission", scope, "route", r.Pattern)
				}
				inner.ServeHTTP(w, r)
			})
		}
	}
	// access records each route's guard, which the OpenAPI document
	// must state (openapi.go checks it against its table).
	access := map[string]string{}
	public := func(pattern string, h http.Handler) {
		access[pattern] = accessPublic
		s.handle(pattern, lim.anon(pattern, h))
	}
	user := func(pattern string, h http.Handler) {
		access[pattern] = accessToken
		s.handle(pattern, a.Handler(lim.user(pattern, h)))
	}
	browser := func(pattern string, h http.Handler) {
		access[pattern] = accessTokenOrCookie
		s.handle(pattern, browserAuth(d, a, cop, false)(lim.user(pattern, h)))
	}

	public("GET /healthz", handleHealthz())
	public("GET /readyz", handleReadyz(d.Store))
	public("GET /.well-known/jwks.json", handleJWKS(d.Keys))
	public("GET /.well-known/oauth-authorization-server", handleMetadata(d))

	public("POST /v1/users", handleRegister(d))
	public("POST /v1/auth/token", handleToken(d))
	public("POST /v1/auth/revoke", handleRevoke(d, a.Verifier))
	public("POST /v1/auth/session", cop.Handler(handleBrowserLogin(d)))
	access["DELETE /v1/auth/session"] = accessCookie
	s.handle("DELETE /v1/auth/session", browserAuth(d, a, cop, true)(handleBrowserLogout(d)))

	browser("GET /v1/users/me", handleMe(d.Store))
	browser("POST /v1/users/me/password", handlePasswordChange(d))
	user("GET /v1/sessions", handleSessionList(d))
	user("DELETE /v1/sessions/{id}", handleSessionDelete(d))
	user("POST /v1/sessions/revoke-all", handleSessionRevokeAll(d))

	// Notes (object-level checks inside the handlers: another user's note is 404).
	user("GET /v1/notes", require(gatehouse.PermNotesRead)(handleNoteList(d.Store)))
	user("POST /v1/notes", require(gatehouse.PermNotesWrite)(handleNoteCreate(d.Store, d.Config.MaxBodyBytes)))
	user("GET /v1/notes/{id}", require(gatehouse.PermNotesRead)(handleNoteGet(d.Store)))
	user("PATCH /v1/notes/{id}", require(gatehouse.PermNotesWrite)(handleNoteUpdate(d.Store, d.Config.MaxBodyBytes)))
	user("DELETE /v1/notes/{id}", require(gatehouse.PermNotesWrite)(handleNoteDelete(d.Store)))
	user("PUT /v1/notes/{id}/shares/{username}", require(gatehouse.PermNotesWrite)(handleNoteShare(d.Store)))
	user("DELETE /v1/notes/{id}/shares/{username}", require(gatehouse.PermNotesWrite)(handleNoteUnshare(d.Store)))

	// Admin (function-level authorization: the permission is the guard).
	user("GET /v1/admin/users", require(gatehouse.PermUsersRead)(handleAdminUsers(d)))
	user("PUT /v1/admin/users/{id}/roles", require(gatehouse.PermUsersWrite)(handleAdminSetRoles(d)))
	user("POST /v1/admin/users/{id}/disable", require(gatehouse.PermUsersWrite)(handleAdminSetDisabled(d, true)))
	user("POST /v1/admin/users/{id}/enable", require(gatehouse.PermUsersWrite)(handleAdminSetDisabled(d, false)))
	user("GET /v1/admin/audit", require(gatehouse.PermAuditRead)(handleAudit(d)))

	// The OpenAPI document, built from the routes above and the types
	// their handlers use (openapi.go), so it cannot drift from them.
	if d.Config.Docs {
		const docsRoute = "GET /openapi.json"
		routes := append(s.Routes(), docsRoute)
		access[docsRoute] = accessPublic
		rateLimited := func(p string) bool {
			return access[p] == accessToken || access[p] == accessTokenOrCookie || lim.rules[p] != (ratelimit.Rate{})
		}
		doc, err := buildOpenAPI(d.Config.Issuer, routes, access, rateLimited)
		if err != nil {
			return err
		}
		public(docsRoute, handleOpenAPI(doc))

		// The interactive reference (Swagger UI, embedded): pages, not
		// API operations, so they are registered after the document is
		// built and are not in it. The page has its own CSP (docsui.CSP).
		ui, err := docsui.New(docsui.Config{SpecURL: "openapi.json", ClientID: ClientID})
		if err != nil {
			return err
		}
		public("GET /docs", ui.Page())
		public("GET /docs/{asset}", ui.Asset())
	}

	// Routes only tests add (export_test.go), guarded as user(...) guards.
	if d.testUserRoutes != nil {
		d.testUserRoutes(user)
	}

	if bad := lim.unknown(s.routes); len(bad) > 0 {
		return errUnknownRoutes(bad)
	}
	return nil
}
