package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/jsonbody"
	"github.com/gatehouse/gatehouse/problem"
)

// userResponse is an account as clients see it: never a password or hash.
type userResponse struct {
	ID        string    `json:"id" doc:"Random, opaque user ID"`
	Username  string    `json:"username"`
	Email     string    `json:"email"`
	Age       int       `json:"age"`
	Roles     []string  `json:"roles"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
}

func newUserResponse(u *gatehouse.User) userResponse {
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	return userResponse{ID: u.ID, Username: u.Username, Email: u.Email, Age: u.Age, Roles: roles, Disabled: u.Disabled, CreatedAt: u.CreatedAt}
}

// registerRequest is the body of POST /v1/users. Tags give the bounds that
// do not depend on configuration; Validate adds the rest.
type registerRequest struct {
	Username string `json:"username" required:"true" minLength:"3" maxLength:"32" doc:"3–32 of a-z 0-9 . _ - after NFKC and lower-casing"`
	Email    string `json:"email" required:"true" maxLength:"254" format:"email"`
	Password string `json:"password" required:"true" maxLength:"256" doc:"At least the configured minimum length (default 15); not a common password; must not contain the username"`
	Age      int    `json:"age" required:"true" minimum:"13" maximum:"150"`

	policy password.Policy
}

// Validate checks the username after normalization and the password
// policy (NIST SP 800-63B-4 §3.1.1.2), adding to the tag checks.
func (req *registerRequest) Validate() []problem.FieldError {
	var errs []problem.FieldError
	name := gatehouse.NormalizeUsername(req.Username)
	if req.Username != "" && !gatehouse.ValidUsername(name) {
		errs = append(errs, problem.FieldError{Location: "body.username", Message: "must be 3–32 characters of lowercase letters, digits, '.', '_' or '-'"})
	}
	for _, msg := range req.policy.Check(req.Password, name) {
		errs = append(errs, problem.FieldError{Location: "body.password", Message: msg})
	}
	return errs
}

// handleRegister creates an account with the role "user".
func handleRegister(d Deps) http.Handler {
	policy := password.Policy{MinLength: d.Config.PasswordMinLen}
	var dec jsonbody.Decoder
	_ = dec.SetMaxBytes(16 << 10) // a registration is well under 2 KiB
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := registerRequest{policy: policy}
		if err := dec.Decode(w, r, &req); err != nil {
			respond(w, r, err)
			return
		}
		u, err := createUser(r.Context(), d.Store, d.Hasher, d.Now, &req, []string{gatehouse.RoleUser})
		if err != nil {
			if errors.Is(err, password.ErrBusy) {
				hashFailed(w, r, err)
				return
			}
			respond(w, r, err)
			return
		}
		securityEvent(d, r, "user_registered", u.ID)
		noStore(w)
		w.Header().Set("Location", "/v1/users/me")
		jsonbody.Write(w, http.StatusCreated, newUserResponse(u))
	})
}

// createUser hashes the password and stores a validated account. A taken
// username or email is a 409 problem.
func createUser(ctx context.Context, store gatehouse.UserStore, hasher *password.Hasher, now gatehouse.Clock, req *registerRequest, roles []string) (*gatehouse.User, error) {
	hash, err := hasher.Hash(ctx, req.Password)
	if err != nil {
		return nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	u := &gatehouse.User{
		ID:           id.String(),
		Username:     gatehouse.NormalizeUsername(req.Username),
		Email:        req.Email,
		Age:          req.Age,
		PasswordHash: hash,
		Roles:        roles,
		CreatedAt:    now().UTC(),
	}
	if err := store.CreateUser(ctx, u); err != nil {
		var ce *gatehouse.ConflictError
		if errors.As(err, &ce) {
			return nil, problem.New(http.StatusConflict, "The "+ce.Field+" is already taken.")
		}
		return nil, err
	}
	return u, nil
}

// CreateUser validates and creates an account with the same rules as
// registration; `gatehouse user create` uses it. Bad input is a 422
// *problem.Problem listing every field, a taken name a 409.
func CreateUser(ctx context.Context, store gatehouse.UserStore, hasher *password.Hasher, minPasswordLen int, username, email, pw string, age int, roles []string) (*gatehouse.User, error) {
	body, err := json.Marshal(map[string]any{"username": username, "email": email, "password": pw, "age": age})
	if err != nil {
		return nil, err
	}
	req := &registerRequest{policy: password.Policy{MinLength: minPasswordLen}}
	if err := jsonbody.Unmarshal(body, req); err != nil {
		return nil, err
	}
	return createUser(ctx, store, hasher, time.Now, req, roles)
}

// hashFailed answers a failed password hash: 503 when the hash queue is
// full (so clients back off), 500 otherwise.
func hashFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, password.ErrBusy) {
		fail(w, r, problem.New(http.StatusServiceUnavailable, "The server is busy; retry shortly.").With("Retry-After", strconv.Itoa(password.RetryAfter(err))), err)
		return
	}
	respond(w, r, err)
}

// handleMe returns the caller's account.
func handleMe(store gatehouse.UserStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := auth.FromContext(r.Context())
		u, err := store.UserByID(r.Context(), c.Subject)
		if errors.Is(err, gatehouse.ErrNotFound) {
			problem.Write(w, r, problem.New(http.StatusNotFound, "The account no longer exists."))
			return
		}
		if err != nil {
			respond(w, r, err)
			return
		}
		noStore(w)
		jsonbody.Write(w, http.StatusOK, newUserResponse(u))
	})
}
