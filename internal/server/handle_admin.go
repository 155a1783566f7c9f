package server

import (
	"encoding/base64"
	"errors"
	"net/http"
	"slices"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/jsonbody"
	"github.com/gatehouse/gatehouse/problem"
)

type userPage struct {
	Items      []userResponse `json:"items"`
	NextCursor *string        `json:"next_cursor" doc:"Opaque; pass as ?cursor= for the next page; null on the last page"`
}

// handleAdminUsers lists accounts, a page at a time.
func handleAdminUsers(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, fe := jsonbody.QueryInt(r, "limit", 20, 1, 100)
		var errs []problem.FieldError
		if fe != nil {
			errs = append(errs, *fe)
		}
		after := ""
		if c := r.URL.Query().Get("cursor"); c != "" {
			b, err := base64.RawURLEncoding.DecodeString(c)
			if err != nil || len(b) == 0 || len(b) > 64 {
				errs = append(errs, problem.FieldError{Location: "query.cursor", Message: "is not a cursor from this API"})
			}
			after = string(b)
		}
		if len(errs) > 0 {
			problem.Write(w, r, problem.Validation(errs...))
			return
		}
		list, err := d.Store.ListUsers(r.Context(), after, limit+1)
		if err != nil {
			respond(w, r, err)
			return
		}
		page := userPage{Items: make([]userResponse, 0, limit)}
		for i := range list {
			if i == limit {
				next := base64.RawURLEncoding.EncodeToString([]byte(list[i-1].ID))
				page.NextCursor = &next
				break
			}
			page.Items = append(page.Items, newUserResponse(&list[i]))
		}
		noStore(w)
		jsonbody.Write(w, http.StatusOK, page)
	})
}

type rolesRequest struct {
	Roles []string `json:"roles" required:"true" maxItems:"8" uniqueItems:"true" enum:"user,admin"`
}

// handleAdminSetRoles replaces a user's roles. Removing a role ends the
// user's sessions, so that the lost permissions stop at once instead of
// living on in access tokens until they expire (fail closed). Taking the
// last enabled admin's admin role is refused with 409.
func handleAdminSetRoles(d Deps) http.Handler {
	var dec jsonbody.Decoder
	_ = dec.SetMaxBytes(4 << 10)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req rolesRequest
		if err := dec.Decode(w, r, &req); err != nil {
			respond(w, r, err)
			return
		}
		id := r.PathValue("id")
		u, err := d.Store.UserByID(r.Context(), id)
		if errors.Is(err, gatehouse.ErrNotFound) {
			problem.Write(w, r, problem.New(http.StatusNotFound, "No such user."))
			return
		}
		if err != nil {
			respond(w, r, err)
			return
		}
		err = d.Store.SetUserRoles(r.Context(), id, req.Roles)
		if errors.Is(err, gatehouse.ErrLastAdmin) {
			problem.Write(w, r, problem.New(http.StatusConflict, "The last enabled admin cannot lose the admin role."))
			return
		}
		if err != nil {
			respond(w, r, err)
			return
		}
		actor, _ := auth.FromContext(r.Context())
		securityEvent(d, r, "roles_changed", actor.Subject, "subject", id)
		removed := false
		for _, old := range u.Roles {
			removed = removed || !slices.Contains(req.Roles, old)
		}
		if removed {
			if err := endSessions(d, r, id, "", "role removed"); err != nil {
				respond(w, r, err)
				return
			}
		}
		u, err = d.Store.UserByID(r.Context(), id)
		if err != nil {
			respond(w, r, err)
			return
		}
		noStore(w)
		jsonbody.Write(w, http.StatusOK, newUserResponse(u))
	})
}

// handleAdminSetDisabled disables or enables an account. Disabling ends
// every session of the account, so its access tokens stop on the next
// request; a disabled account cannot log in or refresh.
func handleAdminSetDisabled(d Deps, disabled bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		err := d.Store.SetUserDisabled(r.Context(), id, disabled)
		switch {
		case errors.Is(err, gatehouse.ErrNotFound):
			problem.Write(w, r, problem.New(http.StatusNotFound, "No such user."))
			return
		case errors.Is(err, gatehouse.ErrLastAdmin):
			problem.Write(w, r, problem.New(http.StatusConflict, "The last enabled admin cannot be disabled."))
			return
		case err != nil:
			respond(w, r, err)
			return
		}
		actor, _ := auth.FromContext(r.Context())
		event := "account_enabled"
		if !disabled {
			// Enabling also lifts a login lock (the NIST cap on
			// consecutive failures): the admin vouches for the account.
			if u, err := d.Store.UserByID(r.Context(), id); err == nil {
				if err := d.Throttle.Reset(u.Username); err != nil {
					respond(w, r, err)
					return
				}
			}
		}
		if disabled {
			event = "account_disabled"
			if err := endSessions(d, r, id, "", "account disabled"); err != nil {
				respond(w, r, err)
				return
			}
		}
		securityEvent(d, r, event, actor.Subject, "subject", id)
		u, err := d.Store.UserByID(r.Context(), id)
		if err != nil {
			respond(w, r, err)
			return
		}
		noStore(w)
		jsonbody.Write(w, http.StatusOK, newUserResponse(u))
	})
}
