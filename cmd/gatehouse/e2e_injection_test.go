package main

import (
	"net/url"
	"strings"
	"testing"
)

var sqlInjections = []string{
	`' OR 1=1 --`,
	`"; DROP TABLE users; --`,
	`' UNION SELECT password_hash, id FROM users --`,
	`admin'--`,
	`1; SELECT pg_sleep(5)`,
	`%' OR '%'='`,
	`\'; DELETE FROM sessions; --`,
}

// TestInjectionOutsideNotes sends SQL-injection strings through every text
// field and query parameter of the account, token and admin routes (the
// notes routes have their own test): each is refused or stored literally,
// and none causes a 5xx.
func TestInjectionOutsideNotes(t *testing.T) {
	ts, admin := adminServer(t)
	for i, s := range sqlInjections {
		// Registration: the username pattern refuses it; the password is
		// any text; the email is refused by format.
		r := ts.do(t, "POST", "/v1/users", map[string]any{"username": s, "email": s, "password": s + " padding to length", "age": 30}, nil)
		if r.Status != 422 {
			t.Errorf("register %q: got %d, want 422", s, r.Status)
		}
		name := "inj" + string(rune('a'+i))
		ts.register(t, name, s+" is a long enough passphrase")
		ts.login(t, name, s+" is a long enough passphrase")
		for _, form := range []url.Values{
			{"grant_type": {"password"}, "username": {s}, "password": {s}},
			{"grant_type": {"password"}, "username": {name}, "password": {s}, "scope": {s}},
			{"grant_type": {"refresh_token"}, "refresh_token": {s}},
			{"grant_type": {s}},
		} {
			if r := ts.do(t, "POST", "/v1/auth/token", form, nil); r.Status >= 500 {
				t.Errorf("token %v: got %d", form, r.Status)
			}
		}
		if r := ts.do(t, "POST", "/v1/auth/revoke", url.Values{"token": {s}, "token_type_hint": {s}}, nil); r.Status != 200 {
			t.Errorf("revoke %q: got %d, want 200", s, r.Status)
		}
		for _, path := range []string{
			"/v1/admin/users?cursor=" + url.QueryEscape(s),
			"/v1/admin/users?limit=" + url.QueryEscape(s),
			"/v1/admin/users/" + url.PathEscape(s) + "/disable",
			"/v1/sessions/" + url.PathEscape(s),
		} {
			method := "GET"
			if strings.HasSuffix(path, "/disable") {
				method = "POST"
			} else if strings.HasPrefix(path, "/v1/sessions/") {
				method = "DELETE"
			}
			if r := ts.do(t, method, path, nil, bearer(admin)); r.Status >= 500 {
				t.Errorf("%s %s: got %d", method, path, r.Status)
			}
		}
	}
	// Everyone is still there: nothing was dropped or rewritten.
	r := ts.do(t, "GET", "/v1/admin/users?limit=100", nil, bearer(admin))
	if n := len(r.JSON(t)["items"].([]any)); n != 1+len(sqlInjections) {
		t.Errorf("users after the attack: got %d, want %d", n, 1+len(sqlInjections))
	}
	if strings.Contains(ts.Log.String(), `"status":5`) {
		t.Errorf("a request ended in a 5xx:\n%s", ts.Log.String())
	}
}
