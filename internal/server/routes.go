package server

import (
	"net/http"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/auth"
)

// addRoutes lists every route of the API with the checks that guard it.
// Read it as a table: a route without authn(...) is public on purpose, and
// auth.Require names the permission (OAuth2 scope) a token must carry.
func (s *Server) addRoutes(d Deps) error {
	a, err := newAuthenticator(d)
	if err != nil {
		return err
	}
	authn := a.Handler
	require := auth.Require

	s.handle("GET /healthz", handleHealthz())
	s.handle("GET /readyz", handleReadyz(d.Store))
	s.handle("GET /.well-known/jwks.json", handleJWKS(d.Keys))
	s.handle("GET /.well-known/oauth-authorization-server", handleMetadata(d))

	s.handle("POST /v1/users", handleRegister(d))
	s.handle("POST /v1/auth/token", handleToken(d))
	s.handle("POST /v1/auth/revoke", handleRevoke(d, a.Verifier))
	s.handle("GET /v1/users/me", authn(handleMe(d.Store)))
	s.handle("POST /v1/users/me/password", authn(handlePasswordChange(d)))
	s.handle("GET /v1/sessions", authn(handleSessionList(d)))
	s.handle("DELETE /v1/sessions/{id}", authn(handleSessionDelete(d)))
	s.handle("POST /v1/sessions/revoke-all", authn(handleSessionRevokeAll(d)))

	// Admin (function-level authorization: the permission is the guard).
	s.handle("GET /v1/admin/users", authn(require(gatehouse.PermUsersRead)(handleAdminUsers(d))))
	s.handle("PUT /v1/admin/users/{id}/roles", authn(require(gatehouse.PermUsersWrite)(handleAdminSetRoles(d))))
	s.handle("POST /v1/admin/users/{id}/disable", authn(require(gatehouse.PermUsersWrite)(handleAdminSetDisabled(d, true))))
	s.handle("POST /v1/admin/users/{id}/enable", authn(require(gatehouse.PermUsersWrite)(handleAdminSetDisabled(d, false))))
	return nil
}

var _ http.Handler = (*Server)(nil)
