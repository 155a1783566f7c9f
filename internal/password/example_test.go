package password_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/password"
)

func ExamplePolicy_Check() {
	for _, msg := range password.DefaultPolicy.Check("letmein", "letme") {
		fmt.Println(msg)
	}
	fmt.Println(password.DefaultPolicy.Check("violet tractor under 9 moons", "alice") == nil)
	// Output:
	// Must be at least 15 characters long.
	// Is a commonly used or previously breached password; choose another.
	// Must not contain the username.
	// true
}

// ExampleHasher shows a login: the same argon2id work whether or not the user
// exists, ErrBusy turned into 503, and an upgrade of old hashes on success.
func ExampleHasher() {
	ctx := context.Background()
	h := &password.Hasher{Params: password.DefaultParams, Limiter: password.NewLimiter(0, 64)}

	stored := map[string]string{} // username -> PHC string, standing in for the store
	enc, err := h.Hash(ctx, "violet tractor under 9 moons")
	if err != nil {
		panic(err)
	}
	stored["alice"] = enc

	login := func(user, pw string) string {
		enc, found := stored[user]
		if !found {
			// Unknown user: burn the same work, answer as for a wrong password.
			if err := h.VerifyDummy(ctx, pw); errors.Is(err, password.ErrBusy) {
				return "503"
			}
			return "401"
		}
		ok, rehash, err := h.Verify(ctx, enc, pw)
		switch {
		case errors.Is(err, password.ErrBusy):
			return "503"
		case err != nil || !ok:
			return "401"
		}
		if rehash {
			if enc, err := h.Hash(ctx, pw); err == nil {
				stored[user] = enc
			}
		}
		return "200"
	}

	fmt.Println(login("alice", "violet tractor under 9 moons"))
	fmt.Println(login("alice", "wrong"))
	fmt.Println(login("mallory", "anything"))
	// Output:
	// 200
	// 401
	// 401
}
