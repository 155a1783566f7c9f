package server

import (
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/auth"
)

// handleRevoke is the RFC 7009 revocation endpoint. It answers 200 for
// every well-formed request, also for unknown or already invalid tokens
// (§2.2), so it reveals nothing about which tokens exist. Revoking either
// kind of token ends the session it belongs to: its refresh tokens and,
// through the revocation set, its access tokens (§2.1 allows both).
func handleRevoke(d Deps, verifier *auth.Verifier) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, oe := parseForm(w, r)
		if oe != nil {
			writeOAuthError(w, r, oe)
			return
		}
		if id := form.Get("client_id"); id != "" && id != ClientID {
			writeOAuthError(w, r, &oauthError{Code: "invalid_client", Description: "Unknown client.", status: http.StatusUnauthorized})
			return
		}
		token := form.Get("token")
		if token == "" {
			writeOAuthError(w, r, invalidRequest("The token parameter is required."))
			return
		}
		// The hint only orders the search (§2.1); both kinds are tried.
		sessionID, userID := "", ""
		tryRefresh := func() error {
			if len(token) > 128 {
				return nil
			}
			s, err := d.Store.SessionByRefreshHash(r.Context(), hashRefreshToken(token))
			if errors.Is(err, gatehouse.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			sessionID, userID = s.ID, s.UserID
			return nil
		}
		tryAccess := func() {
			if c, err := verifier.Verify(token); err == nil {
				sessionID, userID = c.SessionID, c.Subject
			}
		}
		if form.Get("token_type_hint") == "access_token" {
			tryAccess()
			if sessionID == "" {
				if err := tryRefresh(); err != nil {
					writeOAuthError(w, r, (&tokenIssuer{d: d}).serverError(r, err))
					return
				}
			}
		} else {
			if err := tryRefresh(); err != nil {
				writeOAuthError(w, r, (&tokenIssuer{d: d}).serverError(r, err))
				return
			}
			if sessionID == "" {
				tryAccess()
			}
		}
		if sessionID != "" {
			now := d.Now()
			err := d.Store.RevokeSession(r.Context(), sessionID, "", "revoked by client", now)
			if err != nil && !errors.Is(err, gatehouse.ErrNotFound) {
				writeOAuthError(w, r, (&tokenIssuer{d: d}).serverError(r, err))
				return
			}
			d.Revocations.Add(sessionID, now)
			securityEvent(d, r, "token_revoked", userID, "session", sessionID)
		}
		noStore(w)
		w.WriteHeader(http.StatusOK)
	})
}
