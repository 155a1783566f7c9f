package main

import (
	"strings"
	"testing"
	"time"
)

// TestKeyRotationUnknownKid: one instance reads a rotated key within a
// second, the other polls only every 5 minutes. The first token the fast
// one signs with the new key must verify on the slow one at once: an
// unknown kid makes it reload its keys from the store (at most once a
// second) instead of refusing the deployment's own tokens until its next
// poll.
func TestKeyRotationUnknownKid(t *testing.T) {
	dir := t.TempDir()
	a := startServer(t, dir, "--issuer", "http://gatehouse.test", "--key-poll-interval", "1s")
	b := startServer(t, dir, "--issuer", "http://gatehouse.test", "--key-poll-interval", "5m")
	a.register(t, "uma", goodPassword)
	m := a.login(t, "uma", goodPassword)
	oldKid := kidOf(t, m["access_token"].(string))
	if out, _, err := runCLI(t, "", nil, "keys", "rotate", "--data-dir", dir); err != nil || !strings.Contains(out, "created signing key") {
		t.Fatalf("keys rotate: %v %s", err, out)
	}
	rt := m["refresh_token"].(string)
	var access string
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := a.refresh(t, rt)
		if r.Status != 200 {
			t.Fatalf("refresh on A: got %d, want 200: %s", r.Status, r.Body)
		}
		tok := r.JSON(t)
		access, rt = tok["access_token"].(string), tok["refresh_token"].(string)
		if kidOf(t, access) != oldKid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("A still signs with the old key 10 s after the rotation")
		}
		time.Sleep(100 * time.Millisecond)
	}
	newKid := kidOf(t, access)
	if jwks := b.do(t, "GET", "/.well-known/jwks.json", nil, nil); strings.Contains(string(jwks.Body), newKid) {
		t.Fatalf("B published the new key before any token asked for it; the test proves nothing")
	}
	if got := b.me(t, access); got != 200 {
		t.Fatalf("A's token with the new key on B: got %d, want 200 at once", got)
	}
	if jwks := b.do(t, "GET", "/.well-known/jwks.json", nil, nil); !strings.Contains(string(jwks.Body), newKid) {
		t.Errorf("B's JWKS after the reload: got %s, want the new kid %s", jwks.Body, newKid)
	}
	// A made-up kid is refused (the reload finds nothing), as before.
	forged := strings.Replace(access, strings.Split(access, ".")[0], "eyJhbGciOiJFZERTQSIsImtpZCI6Im5vLXN1Y2gta2lkIiwidHlwIjoiYXQrand0In0", 1)
	if got := b.me(t, forged); got != 401 {
		t.Errorf("token with an unknown kid on B: got %d, want 401", got)
	}
}
