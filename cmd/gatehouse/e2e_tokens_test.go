package main

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func (ts *testServer) refresh(t testing.TB, token string) *response {
	t.Helper()
	return ts.do(t, "POST", "/v1/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}, nil)
}

func (ts *testServer) me(t testing.TB, access string) int {
	t.Helper()
	return ts.do(t, "GET", "/v1/users/me", nil, bearer(access)).Status
}

func TestRefreshRotationAndReuse(t *testing.T) {
	ts := startServer(t, "")
	ts.register(t, "kate", goodPassword)
	first := ts.login(t, "kate", goodPassword)
	a0, r0 := first["access_token"].(string), first["refresh_token"].(string)
	if ts.me(t, a0) != 200 {
		t.Fatal("fresh access token refused")
	}

	resp := ts.refresh(t, r0)
	if resp.Status != 200 {
		t.Fatalf("refresh: got %d, want 200: %s", resp.Status, resp.Body)
	}
	m := resp.JSON(t)
	a1, r1 := m["access_token"].(string), m["refresh_token"].(string)
	if r1 == r0 || a1 == a0 || m["scope"] != "notes:read notes:write" || m["token_type"] != "Bearer" {
		t.Fatalf("refresh: got %v, want a new pair with the same scope", m)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("refresh Cache-Control: got %q", resp.Header.Get("Cache-Control"))
	}

	// Within the grace window, and while r1 is unused, a retry of r0 gets
	// the same successor instead of a logout.
	retry := ts.refresh(t, r0)
	if retry.Status != 200 || retry.JSON(t)["refresh_token"] != r1 {
		t.Fatalf("retry within grace: got %d %s, want 200 with the same refresh token", retry.Status, retry.Body)
	}

	r2 := ts.refresh(t, r1).JSON(t)["refresh_token"].(string)
	a2 := ts.login(t, "kate", goodPassword)["access_token"].(string) // another session, unaffected

	// r0's successor has been used: r0 coming back now is reuse. The whole
	// family ends: refresh and access tokens of that session.
	reuse := ts.refresh(t, r0)
	if reuse.Status != 400 || reuse.JSON(t)["error"] != "invalid_grant" {
		t.Fatalf("reuse: got %d %s, want 400 invalid_grant", reuse.Status, reuse.Body)
	}
	if got := ts.refresh(t, r2).Status; got != 400 {
		t.Errorf("newest refresh token after reuse: got %d, want 400", got)
	}
	for name, tok := range map[string]string{"a0": a0, "a1": a1} {
		if got := ts.me(t, tok); got != 401 {
			t.Errorf("access token %s after reuse: got %d, want 401 (even though it was cached)", name, got)
		}
	}
	if got := ts.me(t, a2); got != 200 {
		t.Errorf("other session after reuse: got %d, want 200", got)
	}
	if !strings.Contains(ts.Log.String(), `"event":"refresh_token_reuse"`) {
		t.Errorf("no refresh_token_reuse security event in the log")
	}

	t.Run("bad refresh requests", func(t *testing.T) {
		for _, tok := range []string{"nope", strings.Repeat("A", 43), strings.Repeat("x", 5000)} {
			if r := ts.refresh(t, tok); r.Status != 400 || r.JSON(t)["error"] != "invalid_grant" {
				t.Errorf("refresh %.10s…: got %d %s, want 400 invalid_grant", tok, r.Status, r.Body)
			}
		}
		r := ts.do(t, "POST", "/v1/auth/token", url.Values{"grant_type": {"refresh_token"}}, nil)
		if r.Status != 400 || r.JSON(t)["error"] != "invalid_request" {
			t.Errorf("missing refresh_token: got %d %s", r.Status, r.Body)
		}
		fresh := ts.login(t, "kate", goodPassword)["refresh_token"].(string)
		r = ts.do(t, "POST", "/v1/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {fresh}, "scope": {"audit:read"}}, nil)
		if r.Status != 400 || r.JSON(t)["error"] != "invalid_scope" {
			t.Errorf("widening scope on refresh: got %d %s, want invalid_scope", r.Status, r.Body)
		}
	})
}

// TestConcurrentRefresh: 20 parallel refreshes of one token never make two
// live branches of the family.
func TestConcurrentRefresh(t *testing.T) {
	for _, grace := range []string{"5s", "0s"} {
		t.Run("grace="+grace, func(t *testing.T) {
			ts := startServer(t, "", "--refresh-grace", grace)
			ts.register(t, "liam", goodPassword)
			r0 := ts.login(t, "liam", goodPassword)["refresh_token"].(string)
			var mu sync.Mutex
			got := map[string]int{} // refresh token returned → count
			failures := 0
			var wg sync.WaitGroup
			for range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := ts.refresh(t, r0)
					mu.Lock()
					defer mu.Unlock()
					if r.Status == 200 {
						var m map[string]any
						json.Unmarshal(r.Body, &m)
						got[m["refresh_token"].(string)]++
					} else {
						failures++
					}
				}()
			}
			wg.Wait()
			if len(got) > 1 {
				t.Fatalf("got %d different successors, want at most 1 (two live branches)", len(got))
			}
			if grace == "5s" {
				if failures != 0 || len(got) != 1 {
					t.Fatalf("within grace: got %d failures and %d successors, want 0 and 1", failures, len(got))
				}
				for succ := range got {
					if r := ts.refresh(t, succ); r.Status != 200 {
						t.Errorf("the one successor: got %d, want 200", r.Status)
					}
				}
				return
			}
			// Without grace, the losers are reuse: the family ends, so the
			// single winner's successor is dead too.
			if failures != 20-sumCounts(got) {
				t.Fatalf("got %d failures, want %d", failures, 20-sumCounts(got))
			}
			for succ := range got {
				if failures > 0 {
					if r := ts.refresh(t, succ); r.Status != 400 {
						t.Errorf("successor after detected reuse: got %d, want 400", r.Status)
					}
				}
			}
		})
	}
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func TestRevocationEndpoint(t *testing.T) {
	ts := startServer(t, "")
	ts.register(t, "mona", goodPassword)
	revoke := func(token, hint string) *response {
		f := url.Values{"token": {token}}
		if hint != "" {
			f.Set("token_type_hint", hint)
		}
		return ts.do(t, "POST", "/v1/auth/revoke", f, nil)
	}

	t.Run("refresh token", func(t *testing.T) {
		m := ts.login(t, "mona", goodPassword)
		if r := revoke(m["refresh_token"].(string), "refresh_token"); r.Status != 200 {
			t.Fatalf("got %d, want 200", r.Status)
		}
		if got := ts.refresh(t, m["refresh_token"].(string)).Status; got != 400 {
			t.Errorf("revoked refresh token: got %d, want 400", got)
		}
		if got := ts.me(t, m["access_token"].(string)); got != 401 {
			t.Errorf("access token of the revoked session: got %d, want 401", got)
		}
	})
	t.Run("access token with a wrong hint", func(t *testing.T) {
		m := ts.login(t, "mona", goodPassword)
		ts.me(t, m["access_token"].(string)) // now in the verification cache
		if r := revoke(m["access_token"].(string), "refresh_token"); r.Status != 200 {
			t.Fatalf("got %d, want 200", r.Status)
		}
		if got := ts.me(t, m["access_token"].(string)); got != 401 {
			t.Errorf("revoked access token: got %d, want 401", got)
		}
		if got := ts.refresh(t, m["refresh_token"].(string)).Status; got != 400 {
			t.Errorf("refresh token of the revoked session: got %d, want 400", got)
		}
	})
	t.Run("unknown and malformed", func(t *testing.T) {
		for _, tok := range []string{"unknown", "a.b.c", strings.Repeat("z", 3000)} {
			if r := revoke(tok, ""); r.Status != 200 {
				t.Errorf("revoke %.8s…: got %d, want 200 (RFC 7009 §2.2)", tok, r.Status)
			}
		}
		if r := ts.do(t, "POST", "/v1/auth/revoke", url.Values{}, nil); r.Status != 400 || r.JSON(t)["error"] != "invalid_request" {
			t.Errorf("no token: got %d %s, want 400 invalid_request", r.Status, r.Body)
		}
	})
}

func TestSessionsAndPasswordChange(t *testing.T) {
	ts := startServer(t, "")
	ts.register(t, "nils", goodPassword)
	s1 := ts.login(t, "nils", goodPassword)
	s2 := ts.login(t, "nils", goodPassword)
	s3 := ts.login(t, "nils", goodPassword)
	ts.register(t, "olga", goodPassword)
	other := ts.login(t, "olga", goodPassword)

	r := ts.do(t, "GET", "/v1/sessions", nil, bearer(s1["access_token"]))
	if r.Status != 200 {
		t.Fatalf("list: got %d", r.Status)
	}
	items := r.JSON(t)["items"].([]any)
	if len(items) != 3 {
		t.Fatalf("sessions: got %d, want 3", len(items))
	}
	current := 0
	var s2ID string
	for _, it := range items {
		m := it.(map[string]any)
		if m["current"] == true {
			current++
		} else {
			s2ID = m["id"].(string)
		}
	}
	if current != 1 {
		t.Errorf("got %d current sessions, want 1", current)
	}
	if strings.Contains(string(r.Body), `"refresh`) {
		t.Errorf("session list leaks refresh material")
	}

	// Another user's session is 404, not 403 or 204.
	if got := ts.do(t, "DELETE", "/v1/sessions/"+s2ID, nil, bearer(other["access_token"])).Status; got != 404 {
		t.Errorf("deleting another user's session: got %d, want 404", got)
	}
	if got := ts.do(t, "DELETE", "/v1/sessions/"+s2ID, nil, bearer(s1["access_token"])).Status; got != 204 {
		t.Errorf("delete own session: got %d, want 204", got)
	}
	if got := ts.do(t, "DELETE", "/v1/sessions/no-such", nil, bearer(s1["access_token"])).Status; got != 404 {
		t.Errorf("delete unknown session: got %d, want 404", got)
	}

	// Password change: wrong current password and weak new password are
	// both reported; then a good change ends every other session.
	p := problemOf(t, ts.do(t, "POST", "/v1/users/me/password", map[string]any{"current_password": "wrong wrong wrong", "new_password": "short"}, bearer(s1["access_token"])), 422)
	if locs := locations(p); !slices.Contains(locs, "body.current_password") || !slices.Contains(locs, "body.new_password") {
		t.Errorf("errors: got %v, want current_password and new_password", locs)
	}
	newPassword := "a completely new passphrase 7"
	if got := ts.do(t, "POST", "/v1/users/me/password", map[string]any{"current_password": goodPassword, "new_password": newPassword}, bearer(s1["access_token"])).Status; got != 204 {
		t.Fatalf("password change: got %d, want 204", got)
	}
	if got := ts.me(t, s1["access_token"].(string)); got != 200 {
		t.Errorf("the session that changed the password: got %d, want 200", got)
	}
	for _, s := range []map[string]any{s2, s3} {
		if got := ts.me(t, s["access_token"].(string)); got != 401 {
			t.Errorf("other session after password change: got %d, want 401", got)
		}
	}
	if got := ts.do(t, "POST", "/v1/auth/token", url.Values{"grant_type": {"password"}, "username": {"nils"}, "password": {goodPassword}}, nil).Status; got != 400 {
		t.Errorf("old password: got %d, want 400", got)
	}
	ts.login(t, "nils", newPassword)
	if got := ts.me(t, other["access_token"].(string)); got != 200 {
		t.Errorf("another user's session: got %d, want 200", got)
	}

	if got := ts.do(t, "POST", "/v1/sessions/revoke-all", nil, bearer(s1["access_token"])).Status; got != 204 {
		t.Fatalf("revoke-all: got %d, want 204", got)
	}
	if got := ts.me(t, s1["access_token"].(string)); got != 401 {
		t.Errorf("after revoke-all: got %d, want 401", got)
	}
}

func kidOf(t testing.TB, token string) string {
	t.Helper()
	h, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(h, &m)
	return m["kid"].(string)
}

// TestKeyRotationAcrossProcesses: two servers on one database; the CLI
// rotates the key; both pick it up without a restart, new tokens carry the
// new kid, old tokens keep verifying on both.
func TestKeyRotationAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--issuer", "http://gatehouse.test", "--key-poll-interval", "1s"}
	a := startServer(t, dir, args...)
	b := startServer(t, dir, args...)
	a.register(t, "pia", goodPassword)
	old := a.login(t, "pia", goodPassword)["access_token"].(string)
	oldKid := kidOf(t, old)

	out, _, err := runCLI(t, "", nil, "keys", "rotate", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "created signing key") {
		t.Fatalf("keys rotate: %v %s", err, out)
	}
	exported, _, _ := runCLI(t, "", nil, "audit", "export", "--data-dir", dir)
	if !strings.Contains(exported, `"type":"key_rotated"`) {
		t.Errorf("the rotation is not in the audit trail")
	}
	listOut, _, _ := runCLI(t, "", nil, "keys", "list", "--data-dir", dir)
	if !strings.Contains(listOut, oldKid) || strings.Count(listOut, "active") != 1 {
		t.Errorf("keys list: got\n%s\nwant the old key and exactly one active key", listOut)
	}

	for _, ts := range []*testServer{a, b} {
		deadline := time.Now().Add(10 * time.Second)
		var kid string
		for time.Now().Before(deadline) {
			kid = kidOf(t, ts.login(t, "pia", goodPassword)["access_token"].(string))
			if kid != oldKid {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if kid == oldKid {
			t.Fatalf("%s still signs with the old key", ts.URL)
		}
		jwks := ts.do(t, "GET", "/.well-known/jwks.json", nil, nil)
		if !strings.Contains(string(jwks.Body), oldKid) || !strings.Contains(string(jwks.Body), kid) {
			t.Errorf("JWKS: got %s, want both keys", jwks.Body)
		}
		if got := ts.me(t, old); got != 200 {
			t.Errorf("token signed by the old key on %s: got %d, want 200", ts.URL, got)
		}
	}
	// A token from a verifies on b.
	fromA := a.login(t, "pia", goodPassword)["access_token"].(string)
	if got := b.me(t, fromA); got != 200 {
		t.Errorf("token from instance A on instance B: got %d, want 200", got)
	}
	// A session ended on a is refused on b within the revocation poll.
	m := a.login(t, "pia", goodPassword)
	b.me(t, m["access_token"].(string))
	a.do(t, "POST", "/v1/sessions/revoke-all", nil, bearer(m["access_token"]))
	deadline := time.Now().Add(5 * time.Second)
	for b.me(t, m["access_token"].(string)) != 401 {
		if time.Now().After(deadline) {
			t.Fatalf("instance B still accepts a token of a session ended on A")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDiscovery(t *testing.T) {
	ts := startServer(t, "", "--issuer", "http://gatehouse.test")
	r := ts.do(t, "GET", "/.well-known/oauth-authorization-server", nil, map[string]string{"Host": "evil.example"})
	if r.Status != 200 {
		t.Fatalf("got %d", r.Status)
	}
	m := r.JSON(t)
	want := map[string]string{
		"issuer":              "http://gatehouse.test",
		"token_endpoint":      "http://gatehouse.test/v1/auth/token",
		"revocation_endpoint": "http://gatehouse.test/v1/auth/revoke",
		"jwks_uri":            "http://gatehouse.test/.well-known/jwks.json",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s: got %v, want %s", k, m[k], v)
		}
	}
	if g := toStrings(m["grant_types_supported"]); len(g) != 2 {
		t.Errorf("grant_types_supported: got %v", g)
	}
}
