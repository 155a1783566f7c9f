package auth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gatehouse/gatehouse/auth"
)

// A handler behind Require can be tested without signing tokens: put the
// claims in the request context as an Authenticator would.
func ExampleNewContext() {
	h := auth.Require("users:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := auth.FromContext(r.Context())
		fmt.Fprintf(w, "stats for %s", c.Subject)
	}))

	for _, scope := range [][]string{{"users:read"}, {"notes:read"}} {
		r := httptest.NewRequest("GET", "/v1/admin/stats", nil)
		r = r.WithContext(auth.NewContext(r.Context(), &auth.Claims{Subject: "user-42", Scope: scope}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == http.StatusOK {
			fmt.Println(w.Code, w.Body)
		} else {
			fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
		}
	}
	// Output:
	// 200 stats for user-42
	// 403 Bearer realm="gatehouse", error="insufficient_scope", scope="users:read"
}

func ExampleBearerToken() {
	for _, authz := range []string{"Bearer eyJhbGciOiJFZERTQSJ9.e30.c2ln", "Basic YWxpY2U6cHc=", "Bearer two words", ""} {
		r := httptest.NewRequest("GET", "/", nil)
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		tok, err := auth.BearerToken(r)
		fmt.Printf("%q %v\n", tok, err)
	}
	// Output:
	// "eyJhbGciOiJFZERTQSJ9.e30.c2ln" <nil>
	// "" auth: no bearer token
	// "" auth: malformed token
	// "" auth: no bearer token
}
