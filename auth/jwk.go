package auth

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// KeySet finds the public key that verifies tokens carrying a kid.
//
// It is the only source of keys for a Verifier: a key named or embedded by
// the token itself (jku, x5u, x5c, jwk) is never used (RFC 8725 §3.10).
// Implementations must be safe for concurrent use.
type KeySet interface {
	PublicKey(kid string) (ed25519.PublicKey, bool)
}

// StaticKeys is a fixed KeySet. Do not change the map while a Verifier uses
// it; build a new one and a new Verifier instead, or use RemoteKeySet.
type StaticKeys map[string]ed25519.PublicKey

// PublicKey returns the key with ID kid.
func (s StaticKeys) PublicKey(kid string) (ed25519.PublicKey, bool) {
	k, ok := s[kid]
	return k, ok
}

// JWKS returns s as a JSON Web Key Set (RFC 7517 §5) ordered by kid, to be
// served at /.well-known/jwks.json.
func (s StaticKeys) JWKS() JWKS {
	kids := make([]string, 0, len(s))
	for kid := range s {
		kids = append(kids, kid)
	}
	slices.Sort(kids)
	set := JWKS{Keys: make([]JWK, 0, len(kids))}
	for _, kid := range kids {
		set.Keys = append(set.Keys, PublicJWK(kid, s[kid]))
	}
	return set
}

// JWK is a JSON Web Key (RFC 7517 §4) as used for Ed25519 public keys: an
// octet key pair (RFC 8037 §2). Members of other key types are not modelled
// and are ignored when decoding.
type JWK struct {
	KeyType   string   `json:"kty"`               // "OKP"
	Curve     string   `json:"crv,omitempty"`     // "Ed25519"
	X         string   `json:"x,omitempty"`       // the public key, base64url without padding
	KeyID     string   `json:"kid,omitempty"`     // matched against the kid header
	Use       string   `json:"use,omitempty"`     // "sig"
	KeyOps    []string `json:"key_ops,omitempty"` // RFC 7517 §4.3; "verify" when present
	Algorithm string   `json:"alg,omitempty"`     // "EdDSA"
}

// JWKS is a JSON Web Key Set (RFC 7517 §5).
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// PublicJWK returns the public JWK of an Ed25519 key, in the form
// {"kty":"OKP","crv":"Ed25519","x":...,"kid":...,"use":"sig","alg":"EdDSA"}
// (RFC 8037 §2).
func PublicJWK(kid string, pub ed25519.PublicKey) JWK {
	return JWK{
		KeyType:   "OKP",
		Curve:     "Ed25519",
		X:         base64.RawURLEncoding.EncodeToString(pub),
		KeyID:     kid,
		Use:       "sig",
		Algorithm: "EdDSA",
	}
}

// ErrNoKeys reports a JWKS document without any usable Ed25519 signing key.
var ErrNoKeys = errors.New("auth: no Ed25519 signing key in JWKS")

var b64 = base64.RawURLEncoding.Strict()

// ParseJWKS reads a JWKS document and returns its Ed25519 signing keys.
//
// Keys of other types or curves, and keys restricted to another use (use
// other than "sig", key_ops without "verify", alg other than "EdDSA" or its
// RFC 9864 name "Ed25519") are skipped, as RFC 7517 §5 asks of keys a reader
// does not understand. An Ed25519 signing key that is broken is an error, not
// skipped, so that a bad publication is noticed: x that is not canonical
// base64url of exactly 32 bytes (RFC 8037 §2), a missing or invalid kid, or
// a kid used twice. A document with no usable key is ErrNoKeys.
func ParseJWKS(data []byte) (StaticKeys, error) {
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("auth: parse JWKS: %w", errJSON)
	}
	if doc.Keys == nil {
		return nil, fmt.Errorf("auth: parse JWKS: missing keys")
	}
	keys := StaticKeys{}
	for i, raw := range *doc.Keys {
		var k JWK
		if err := json.Unmarshal(raw, &k); err != nil {
			return nil, fmt.Errorf("auth: parse JWKS: key %d: %w", i, errJSON)
		}
		if k.KeyType != "OKP" || k.Curve != "Ed25519" {
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if k.KeyOps != nil && !slices.Contains(k.KeyOps, "verify") {
			continue
		}
		if k.Algorithm != "" && k.Algorithm != "EdDSA" && k.Algorithm != "Ed25519" {
			continue
		}
		if !validKID(k.KeyID) {
			return nil, fmt.Errorf("auth: parse JWKS: key %d: missing or invalid kid", i)
		}
		x, err := b64.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("auth: parse JWKS: key %q: x is not a 32-byte base64url value", k.KeyID)
		}
		if _, dup := keys[k.KeyID]; dup {
			return nil, fmt.Errorf("auth: parse JWKS: kid %q used twice", k.KeyID)
		}
		keys[k.KeyID] = ed25519.PublicKey(x)
	}
	if len(keys) == 0 {
		return nil, ErrNoKeys
	}
	return keys, nil
}

// validKID reports whether kid is 1–64 characters of [A-Za-z0-9._-].
//
// A kid is attacker-controlled input that selects a key. RFC 8725 §3.10
// warns of kids used as file paths or SQL; this alphabet makes "../" and
// quotes impossible for every KeySet, whatever it does with the kid; "."
// and ".." are refused too, as names that mean directories.
func validKID(kid string) bool {
	if len(kid) == 0 || len(kid) > 64 || kid == "." || kid == ".." {
		return false
	}
	for i := 0; i < len(kid); i++ {
		c := kid[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
