package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Admin checks ListUsers, SetUserRoles, SetUserDisabled and the rule that
// they never leave no enabled admin.
func Admin(t *testing.T, newDB NewDB) {
	t.Run("list users", func(t *testing.T) {
		s := migrated(t, newDB)
		ctx := t.Context()
		// Created out of ID order; listed in ID order.
		for _, name := range []string{"dave", "alice", "carol", "bob", "erin"} {
			mustCreateUser(t, s, newUser(name, gatehouse.RoleUser))
		}
		if err := s.SetUserRoles(ctx, "id-carol", []string{gatehouse.RoleAdmin, gatehouse.RoleUser}); err != nil {
			t.Fatal(err)
		}
		want := []string{"id-alice", "id-bob", "id-carol", "id-dave", "id-erin"}
		for _, limit := range []int{1, 2, 3, 5, 6} {
			var got []string
			after := ""
			for page := 0; page < 10; page++ {
				users, err := s.ListUsers(ctx, after, limit)
				if err != nil {
					t.Fatalf("ListUsers(%q, %d): %v", after, limit, err)
				}
				if len(users) > limit {
					t.Fatalf("ListUsers(%q, %d) = %d users, want at most %d", after, limit, len(users), limit)
				}
				got = append(got, ids(users, userID)...)
				for _, u := range users {
					wantRoles := []string{"user"}
					if u.ID == "id-carol" {
						wantRoles = []string{"admin", "user"}
					}
					if !slices.Equal(u.Roles, wantRoles) || u.PasswordHash == "" || !u.CreatedAt.Equal(testNow) {
						t.Errorf("listed %+v, want roles %q, a hash and the creation time", u, wantRoles)
					}
				}
				if len(users) < limit {
					break
				}
				after = users[len(users)-1].ID
			}
			if !slices.Equal(got, want) {
				t.Errorf("limit %d: listed %q, want %q", limit, got, want)
			}
		}
		for _, limit := range []int{0, -1} {
			if got, err := s.ListUsers(ctx, "", limit); err != nil || len(got) != 0 {
				t.Errorf("ListUsers(limit %d) = %d users, %v; want none", limit, len(got), err)
			}
		}
		if got, err := s.ListUsers(ctx, "id-erin", 10); err != nil || len(got) != 0 {
			t.Errorf("ListUsers after the last = %d users, %v; want none", len(got), err)
		}
		if got, err := s.ListUsers(ctx, "' OR 1=1 --", 10); err != nil || len(got) != 5 {
			t.Errorf("ListUsers after an injection string = %d users, %v; want all 5 (it sorts before them)", len(got), err)
		}
	})

	t.Run("set roles", func(t *testing.T) {
		s := migrated(t, newDB)
		ctx := t.Context()
		now := testNow
		s.SetClock(func() time.Time { return now })
		mustCreateUser(t, s, newUser("root", gatehouse.RoleAdmin))
		mustCreateUser(t, s, newUser("alice", gatehouse.RoleUser))
		steps := []struct {
			roles   []string
			want    []string
			wantErr bool
		}{
			{[]string{gatehouse.RoleUser, gatehouse.RoleAdmin}, []string{"admin", "user"}, false},
			{[]string{gatehouse.RoleAdmin}, []string{"admin"}, false},
			{[]string{}, nil, false},
			{[]string{gatehouse.RoleUser}, []string{"user"}, false},
			// Refused as a whole: the roles stay as they were.
			{[]string{gatehouse.RoleAdmin, "superuser"}, []string{"user"}, true},
			{[]string{gatehouse.RoleAdmin, gatehouse.RoleAdmin}, []string{"user"}, true},
		}
		for i, st := range steps {
			now = testNow.Add(time.Duration(i+1) * time.Minute)
			err := s.SetUserRoles(ctx, "id-alice", st.roles)
			if (err != nil) != st.wantErr {
				t.Errorf("SetUserRoles(%q): got %v, want error %v", st.roles, err, st.wantErr)
			}
			u, err := s.UserByID(ctx, "id-alice")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(u.Roles, st.want) {
				t.Errorf("after SetUserRoles(%q): roles %q, want %q", st.roles, u.Roles, st.want)
			}
			if !st.wantErr && !u.UpdatedAt.Equal(now) {
				t.Errorf("after SetUserRoles(%q): UpdatedAt %v, want %v", st.roles, u.UpdatedAt, now)
			}
		}
		if err := s.SetUserRoles(ctx, "id-nobody", []string{gatehouse.RoleUser}); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("SetUserRoles(unknown): got %v, want ErrNotFound", err)
		}
		if err := s.SetUserDisabled(ctx, "id-nobody", true); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("SetUserDisabled(unknown): got %v, want ErrNotFound", err)
		}
		for _, disabled := range []bool{true, true, false, false} {
			if err := s.SetUserDisabled(ctx, "id-alice", disabled); err != nil {
				t.Fatalf("SetUserDisabled(alice, %v): %v", disabled, err)
			}
			if u, err := s.UserByID(ctx, "id-alice"); err != nil || u.Disabled != disabled {
				t.Errorf("alice after SetUserDisabled(%v) = %+v, %v", disabled, u, err)
			}
		}
	})

	t.Run("last admin", func(t *testing.T) {
		s := migrated(t, newDB)
		ctx := t.Context()
		mustCreateUser(t, s, newUser("root", gatehouse.RoleAdmin, gatehouse.RoleUser))
		mustCreateUser(t, s, newUser("alice", gatehouse.RoleUser))
		disabledAdmin := newUser("ghost", gatehouse.RoleAdmin)
		disabledAdmin.Disabled = true
		mustCreateUser(t, s, disabledAdmin)

		steps := []struct {
			name    string
			do      func() error
			wantErr error
		}{
			// root is the only enabled admin: a disabled admin does not count.
			{"demote the last admin", func() error { return s.SetUserRoles(ctx, "id-root", []string{gatehouse.RoleUser}) }, gatehouse.ErrLastAdmin},
			{"remove every role of the last admin", func() error { return s.SetUserRoles(ctx, "id-root", nil) }, gatehouse.ErrLastAdmin},
			{"disable the last admin", func() error { return s.SetUserDisabled(ctx, "id-root", true) }, gatehouse.ErrLastAdmin},
			{"keep admin, drop user", func() error { return s.SetUserRoles(ctx, "id-root", []string{gatehouse.RoleAdmin}) }, nil},
			{"enable an already enabled admin", func() error { return s.SetUserDisabled(ctx, "id-root", false) }, nil},
			{"demote the disabled admin", func() error { return s.SetUserRoles(ctx, "id-ghost", nil) }, nil},
			{"disable a non-admin", func() error { return s.SetUserDisabled(ctx, "id-alice", true) }, nil},
			{"promote a disabled user", func() error { return s.SetUserRoles(ctx, "id-alice", []string{gatehouse.RoleAdmin}) }, nil},
			{"still the last enabled admin", func() error { return s.SetUserDisabled(ctx, "id-root", true) }, gatehouse.ErrLastAdmin},
			{"enable the second admin", func() error { return s.SetUserDisabled(ctx, "id-alice", false) }, nil},
			{"now root may go", func() error { return s.SetUserDisabled(ctx, "id-root", true) }, nil},
			{"and alice is the last", func() error { return s.SetUserRoles(ctx, "id-alice", []string{gatehouse.RoleUser}) }, gatehouse.ErrLastAdmin},
			{"re-enable root", func() error { return s.SetUserDisabled(ctx, "id-root", false) }, nil},
			{"now alice may go", func() error { return s.SetUserRoles(ctx, "id-alice", []string{gatehouse.RoleUser}) }, nil},
		}
		for _, st := range steps {
			err := st.do()
			if st.wantErr == nil && err != nil || st.wantErr != nil && !errors.Is(err, st.wantErr) {
				t.Fatalf("%s: got %v, want %v", st.name, err, st.wantErr)
			}
			if st.wantErr != nil && !errors.Is(err, gatehouse.ErrConflict) {
				t.Errorf("%s: errors.Is(%v, ErrConflict) = false, want true", st.name, err)
			}
		}
		root, err := s.UserByID(ctx, "id-root")
		if err != nil || root.Disabled || !slices.Equal(root.Roles, []string{"admin"}) {
			t.Errorf("root at the end = %+v, %v; want an enabled admin", root, err)
		}
	})
}

// LastAdminConcurrent: two admins removed at once, from two instances, by
// the two ways there are (demotion and disabling): exactly one change wins,
// and one enabled admin remains.
func LastAdminConcurrent(t *testing.T, newDB NewDB) {
	a, b := migratedPair(t, newDB)
	ctx := t.Context()
	previous := ""
	for round := range 10 {
		x, y := fmt.Sprintf("x%d", round), fmt.Sprintf("y%d", round)
		mustCreateUser(t, a, newUser(x, gatehouse.RoleAdmin))
		mustCreateUser(t, a, newUser(y, gatehouse.RoleAdmin))
		if previous != "" { // leave x and y as the only enabled admins
			if err := a.SetUserDisabled(ctx, previous, true); err != nil {
				t.Fatalf("round %d: disable %s: %v", round, previous, err)
			}
		}
		var errX, errY error
		var wg sync.WaitGroup
		start := make(chan struct{})
		changes := []func(){
			func() { errX = a.SetUserRoles(ctx, "id-"+x, []string{gatehouse.RoleUser}) },
			func() { errY = b.SetUserDisabled(ctx, "id-"+y, true) },
		}
		if round%2 == 1 {
			changes = []func(){
				func() { errX = a.SetUserDisabled(ctx, "id-"+x, true) },
				func() { errY = b.SetUserRoles(ctx, "id-"+y, nil) },
			}
		}
		for _, change := range changes {
			wg.Go(func() { <-start; change() })
		}
		close(start)
		wg.Wait()
		for _, err := range []error{errX, errY} {
			if err != nil && !errors.Is(err, gatehouse.ErrLastAdmin) {
				t.Fatalf("round %d: got %v, want nil or ErrLastAdmin", round, err)
			}
		}
		if (errX == nil) == (errY == nil) {
			t.Fatalf("round %d: errors %v and %v, want exactly one change refused", round, errX, errY)
		}
		previous = "id-" + x
		if errX == nil {
			previous = "id-" + y
		}
		admins := 0
		users, err := a.ListUsers(ctx, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			if !u.Disabled && slices.Contains(u.Roles, gatehouse.RoleAdmin) {
				admins++
			}
		}
		if admins != 1 {
			t.Fatalf("round %d: %d enabled admins, want 1", round, admins)
		}
	}
}
