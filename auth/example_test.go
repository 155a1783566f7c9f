package auth_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/problem"
)

// exampleSetup returns a signing key and a Verifier whose clock is fixed, so
// that the examples' output does not depend on when they run.
func exampleSetup() (ed25519.PrivateKey, *auth.Verifier) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	keys := auth.StaticKeys{"2030-01": priv.Public().(ed25519.PublicKey)}
	v, err := auth.NewVerifier(keys, "https://id.example.com", "gatehouse")
	if err != nil {
		panic(err)
	}
	v.SetClock(func() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) })
	return priv, v
}

func exampleToken(priv ed25519.PrivateKey, scope ...string) string {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tok, err := auth.Sign(auth.Claims{
		Issuer:    "https://id.example.com",
		Subject:   "user-42",
		Audience:  []string{"gatehouse"},
		ExpiresAt: now.Add(15 * time.Minute),
		IssuedAt:  now,
		NotBefore: now,
		ID:        "0195f3a8",
		Scope:     scope,
		SessionID: "family-7",
		ClientID:  auth.FirstPartyClientID,
	}, "2030-01", priv)
	if err != nil {
		panic(err)
	}
	return tok
}

// show prints a response's status and its challenge, if any.
func show(w *httptest.ResponseRecorder) {
	fmt.Print(w.Code)
	if h := w.Header().Get("WWW-Authenticate"); h != "" {
		fmt.Print(" ", h)
	}
	fmt.Println()
}

func ExampleSign() {
	priv, v := exampleSetup()
	tok := exampleToken(priv, "notes:read")
	c, err := v.Verify(tok)
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Subject, c.Scope, c.ExpiresAt.Format(time.RFC3339))
	// Output: user-42 [notes:read] 2030-01-02T03:19:05Z
}

func ExampleVerifier_Verify() {
	priv, v := exampleSetup()
	if err := v.SetLeeway(30 * time.Second); err != nil {
		panic(err)
	}
	tok := exampleToken(priv, "notes:read", "notes:write")

	c, err := v.Verify(tok)
	fmt.Println(c.Subject, c.Has("notes:write"), c.Has("users:write"), err)

	// Tampering with the payload breaks the signature.
	_, err = v.Verify(tok[:len(tok)-3] + "AAA")
	fmt.Println(errors.Is(err, auth.ErrSignature))

	// A token with alg "none" is refused before any key is looked up.
	none := "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJhZG1pbiJ9.AA"
	_, err = v.Verify(none)
	fmt.Println(err)

	// The second verification of a token is a cache hit.
	v.Verify(tok)
	fmt.Printf("%+v\n", v.Stats())
	// Output:
	// user-42 true false <nil>
	// true
	// auth: unsupported algorithm
	// {Hits:1 Misses:3 Evictions:0 Entries:1 Capacity:10000}
}

func ExampleAuthenticator_Handler() {
	priv, v := exampleSetup()
	authn := &auth.Authenticator{
		Verifier: v,
		// Check runs on every request, cached token or not.
		Check: func(ctx context.Context, c *auth.Claims) error {
			if c.SessionID == "family-revoked" {
				return errors.New("session revoked")
			}
			return nil
		},
	}
	me := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := auth.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s", c.Subject)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /v1/users/me", authn.Handler(me))

	for _, authz := range []string{"", "Bearer " + exampleToken(priv), "Bearer not.a.token"} {
		r := httptest.NewRequest("GET", "/v1/users/me", nil)
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		show(w)
		if w.Code == http.StatusOK {
			fmt.Println(w.Body)
		}
	}
	// Output:
	// 401 Bearer realm="gatehouse"
	// 200
	// hello user-42
	// 401 Bearer realm="gatehouse", error="invalid_token", error_description="The access token is invalid"
}

func ExampleRequire() {
	priv, v := exampleSetup()
	authn := &auth.Authenticator{Verifier: v}
	create := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	mux := http.NewServeMux()
	// Require sits inside the Authenticator, which puts the claims in the
	// context.
	mux.Handle("POST /v1/notes", authn.Handler(auth.Require("notes:write")(create)))

	for _, scope := range [][]string{{"notes:read", "notes:write"}, {"notes:read"}} {
		r := httptest.NewRequest("POST", "/v1/notes", nil)
		r.Header.Set("Authorization", "Bearer "+exampleToken(priv, scope...))
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		show(w)
		if w.Code != http.StatusCreated {
			var p problem.Problem
			json.Unmarshal(w.Body.Bytes(), &p)
			fmt.Println(p.Title+":", p.Detail)
		}
	}
	// Output:
	// 201
	// 403 Bearer realm="gatehouse", error="insufficient_scope", scope="notes:write"
	// Forbidden: The access token lacks a required scope.
}

func ExampleParseJWKS() {
	priv, _ := exampleSetup()
	published, _ := json.Marshal(auth.StaticKeys{"2030-01": priv.Public().(ed25519.PublicKey)}.JWKS())
	fmt.Println(string(published))

	keys, err := auth.ParseJWKS(published)
	fmt.Println(len(keys), err)
	// Output:
	// {"keys":[{"kty":"OKP","crv":"Ed25519","x":"6kpsY-KcUgq-9VB7Ey7F-ZVHdq6-vnuSQh7qaRRG0iw","kid":"2030-01","use":"sig","alg":"EdDSA"}]}
	// 1 <nil>
}

func ExampleRemoteKeySet() {
	priv, _ := exampleSetup()
	// An authorization server publishing its keys; in production this is
	// an https URL.
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		json.NewEncoder(w).Encode(auth.StaticKeys{"2030-01": priv.Public().(ed25519.PublicKey)}.JWKS())
	}))
	defer jwks.Close()

	keys, err := auth.NewRemoteKeySet(jwks.URL+"/.well-known/jwks.json", nil)
	if err != nil {
		panic(err)
	}
	if err := keys.Refresh(context.Background()); err != nil {
		panic(err) // fail at start-up rather than on the first request
	}
	v, _ := auth.NewVerifier(keys, "https://id.example.com", "gatehouse")
	v.SetClock(func() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) })
	c, err := v.Verify(exampleToken(priv))
	fmt.Println(c.Subject, err)
	// Output: user-42 <nil>
}
