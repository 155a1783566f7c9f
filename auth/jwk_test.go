package auth_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/auth"
)

func TestPublicJWK(t *testing.T) {
	b, err := json.Marshal(auth.PublicJWK("k1", testPub))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"kty":"OKP","crv":"Ed25519","x":"` + enc.EncodeToString(testPub) + `","kid":"k1","use":"sig","alg":"EdDSA"}`
	if string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}

func TestStaticKeysJWKSRoundTrip(t *testing.T) {
	keys := auth.StaticKeys{"b": attackerPub, "a": testPub}
	b, err := json.Marshal(keys.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"`+enc.EncodeToString(testPub)+`","kid":"a"`) {
		t.Errorf("JWKS: got %s, want keys sorted by kid", b)
	}
	got, err := auth.ParseJWKS(b)
	if err != nil {
		t.Fatalf("ParseJWKS: %v", err)
	}
	if len(got) != 2 || !bytes.Equal(got["a"], testPub) || !bytes.Equal(got["b"], attackerPub) {
		t.Errorf("ParseJWKS: got %v, want %v", got, keys)
	}
}

func TestParseJWKS(t *testing.T) {
	x := enc.EncodeToString(testPub)
	ok := `{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"k1"}`
	tests := []struct {
		name     string
		doc      string
		wantKIDs []string
		wantErr  error // nil: no error; errAny: some error
	}{
		{"one key", `{"keys":[` + ok + `]}`, []string{"k1"}, nil},
		{"full key", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"k1","use":"sig","alg":"EdDSA","key_ops":["verify"]}]}`, []string{"k1"}, nil},
		{"RFC 9864 alg", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"k1","alg":"Ed25519"}]}`, []string{"k1"}, nil},
		{"RSA key skipped", `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"r"},` + ok + `]}`, []string{"k1"}, nil},
		{"X25519 key skipped", `{"keys":[{"kty":"OKP","crv":"X25519","x":"` + x + `","kid":"x"},` + ok + `]}`, []string{"k1"}, nil},
		{"encryption key skipped", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"e","use":"enc"},` + ok + `]}`, []string{"k1"}, nil},
		{"sign-only key_ops skipped", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"s","key_ops":["sign"]},` + ok + `]}`, []string{"k1"}, nil},
		{"other alg skipped", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"h","alg":"HS256"},` + ok + `]}`, []string{"k1"}, nil},
		{"short x", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + enc.EncodeToString(testPub[:31]) + `","kid":"k1"}]}`, nil, errAny},
		{"long x", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + enc.EncodeToString(append(testPub, 0)) + `","kid":"k1"}]}`, nil, errAny},
		{"padded x", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `=","kid":"k1"}]}`, nil, errAny},
		{"missing x", `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1"}]}`, nil, errAny},
		{"missing kid", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `"}]}`, nil, errAny},
		{"path kid", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"../k"}]}`, nil, errAny},
		{"duplicate kid", `{"keys":[` + ok + `,` + ok + `]}`, nil, errAny},
		{"no keys member", `{}`, nil, errAny},
		{"empty keys", `{"keys":[]}`, nil, auth.ErrNoKeys},
		{"only RSA", `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`, nil, auth.ErrNoKeys},
		{"not JSON", `keys`, nil, errAny},
		{"keys not an array", `{"keys":{}}`, nil, errAny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := auth.ParseJWKS([]byte(tc.doc))
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("got error %v, want nil", err)
			case tc.wantErr == errAny && err == nil, tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Fatalf("got %v, %v, want error %v", got, err, tc.wantErr)
			}
			if len(got) != len(tc.wantKIDs) {
				t.Errorf("keys: got %d, want %d", len(got), len(tc.wantKIDs))
			}
			for _, kid := range tc.wantKIDs {
				if !bytes.Equal(got[kid], testPub) {
					t.Errorf("key %q: got %x, want %x", kid, got[kid], testPub)
				}
			}
		})
	}
}

var errAny = errors.New("any error")
