package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/server"
)

// TestCookieSessionExpires: a browser session ends at its absolute
// lifetime (Config.CookieSessionTTL, 12 h by default) whatever its use,
// and the expired cookie is cleared (OWASP ASVS 5.0 V7.3.2: an absolute
// maximum session lifetime).
func TestCookieSessionExpires(t *testing.T) {
	start := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
	var offset atomic.Int64
	e := newEnvWith(t, func(d *server.Deps) {
		d.Now = func() time.Time { return start.Add(time.Duration(offset.Load())) }
	})
	const pw = "correct horse battery staple"
	hash, err := password.Hash(pw, password.DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	u := &gatehouse.User{ID: "u-cookie", Username: "cookie", Email: "cookie@example.com", Age: 30, PasswordHash: hash, Roles: []string{gatehouse.RoleUser}}
	if err := e.store.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}

	login := httptest.NewRequest("POST", "/v1/auth/session", strings.NewReader(`{"username":"cookie","password":"`+pw+`"}`))
	login.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, login)
	var cookie *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == server.CookieName {
			cookie = c
		}
	}
	if w.Code/100 != 2 || cookie == nil {
		t.Fatalf("browser login: got %d with cookie %v, want 2xx and %s: %s", w.Code, cookie, server.CookieName, w.Body)
	}
	if got, want := cookie.MaxAge, int((12 * time.Hour).Seconds()); got != want {
		t.Errorf("cookie Max-Age: got %d, want %d", got, want)
	}

	me := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/v1/users/me", nil)
		r.AddCookie(&http.Cookie{Name: server.CookieName, Value: cookie.Value})
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, r)
		return w
	}
	for _, c := range []struct {
		after time.Duration
		want  int
	}{
		{0, http.StatusOK},
		{12*time.Hour - time.Second, http.StatusOK},
		{12 * time.Hour, http.StatusUnauthorized},
		{13 * time.Hour, http.StatusUnauthorized},
	} {
		offset.Store(int64(c.after))
		w := me()
		if w.Code != c.want {
			t.Errorf("me %s after login: got %d, want %d: %s", c.after, w.Code, c.want, w.Body)
		}
		if c.want == http.StatusUnauthorized && !strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0") {
			t.Errorf("me %s after login: got Set-Cookie %q, want the cookie cleared", c.after, w.Header().Get("Set-Cookie"))
		}
	}
}
