package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/jsonbody"
	"github.com/gatehouse/gatehouse/problem"
)

// sessionResponse is one login of the caller (a refresh-token family).
type sessionResponse struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	Scope      string    `json:"scope"`
	UserAgent  string    `json:"user_agent"`
	Current    bool      `json:"current" doc:"true for the session of the token making this request"`
}

type sessionList struct {
	Items []sessionResponse `json:"items"`
}

// handleSessionList lists the caller's live sessions.
func handleSessionList(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := auth.FromContext(r.Context())
		list, err := d.Store.ActiveSessions(r.Context(), c.Subject, d.Now())
		if err != nil {
			respond(w, r, err)
			return
		}
		out := sessionList{Items: make([]sessionResponse, 0, len(list))}
		for _, s := range list {
			out.Items = append(out.Items, sessionResponse{ID: s.ID, CreatedAt: s.CreatedAt, LastUsedAt: s.LastUsedAt,
				ExpiresAt: s.ExpiresAt, Scope: s.Scope, UserAgent: s.UserAgent, Current: s.ID == c.SessionID})
		}
		noStore(w)
		jsonbody.Write(w, http.StatusOK, out)
	})
}

// handleSessionDelete ends one of the caller's sessions. Another user's
// session is 404, like a missing one (OWASP API1:2023).
func handleSessionDelete(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := auth.FromContext(r.Context())
		id := r.PathValue("id")
		now := d.Now()
		err := d.Store.RevokeSession(r.Context(), id, c.Subject, "ended by user", now)
		if errors.Is(err, gatehouse.ErrNotFound) {
			problem.Write(w, r, problem.New(http.StatusNotFound, "No such session."))
			return
		}
		if err != nil {
			respond(w, r, err)
			return
		}
		d.Revocations.Add(id, now)
		securityEvent(d, r, "session_revoked", c.Subject, "session", id)
		w.WriteHeader(http.StatusNoContent)
	})
}

// handleSessionRevokeAll ends every session of the caller, this one too.
func handleSessionRevokeAll(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := auth.FromContext(r.Context())
		if err := endSessions(d, r, c.Subject, "", "revoke all"); err != nil {
			respond(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// endSessions revokes every session of a user but keep, in the store and
// in this process's revocation set at once.
func endSessions(d Deps, r *http.Request, userID, keep, reason string) error {
	now := d.Now()
	ids, err := d.Store.RevokeUserSessions(r.Context(), userID, keep, reason, now)
	if err != nil {
		return err
	}
	for _, id := range ids {
		d.Revocations.Add(id, now)
	}
	securityEvent(d, r, "sessions_revoked", userID, "reason", reason)
	return nil
}

// passwordChangeRequest is the body of POST /v1/users/me/password.
type passwordChangeRequest struct {
	CurrentPassword string `json:"current_password" required:"true" maxLength:"256"`
	NewPassword     string `json:"new_password" required:"true" maxLength:"256"`
}

// handlePasswordChange replaces the caller's password after checking the
// current one (ASVS 5.0 §6.2.3), then ends every other session: whoever
// knew the old password loses access (API.md).
func handlePasswordChange(d Deps) http.Handler {
	policy := password.Policy{MinLength: d.Config.PasswordMinLen}
	var dec jsonbody.Decoder
	_ = dec.SetMaxBytes(8 << 10)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := auth.FromContext(r.Context())
		var req passwordChangeRequest
		if err := dec.Decode(w, r, &req); err != nil {
			respond(w, r, err)
			return
		}
		u, err := d.Store.UserByID(r.Context(), c.Subject)
		if err != nil {
			respond(w, r, err)
			return
		}
		var errs []problem.FieldError
		ok, _, err := d.Hasher.Verify(r.Context(), u.PasswordHash, req.CurrentPassword)
		if err != nil {
			hashFailed(w, r, err)
			return
		}
		if !ok {
			errs = append(errs, problem.FieldError{Location: "body.current_password", Message: "is not the current password"})
		}
		for _, msg := range policy.Check(req.NewPassword, u.Username) {
			errs = append(errs, problem.FieldError{Location: "body.new_password", Message: msg})
		}
		if len(errs) > 0 {
			problem.Write(w, r, problem.Validation(errs...))
			return
		}
		hash, err := d.Hasher.Hash(r.Context(), req.NewPassword)
		if err != nil {
			hashFailed(w, r, err)
			return
		}
		if err := d.Store.SetPasswordHash(r.Context(), u.ID, hash); err != nil {
			respond(w, r, err)
			return
		}
		securityEvent(d, r, "password_changed", u.ID)
		if err := endSessions(d, r, u.ID, c.SessionID, "password changed"); err != nil {
			respond(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
