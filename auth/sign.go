package auth

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// Header values of the tokens this package makes and accepts.
const (
	Algorithm = "EdDSA"  // RFC 8037 §3.1
	TokenType = "at+jwt" // RFC 9068 §2.1
)

// Sign returns c as a compact JWS (RFC 7515 §7.1) signed with key, with the
// protected header {"alg":"EdDSA","typ":"at+jwt","kid":kid}.
//
// Sign refuses claims that a Verifier would refuse or that RFC 9068 §2.2
// requires of an issuer (iss, sub, aud, exp, iat, jti, client_id), scopes
// that are not RFC 6749 §3.3 scope-tokens, and a kid that is not 1–64
// characters of [A-Za-z0-9._-]: a token that cannot be verified is a bug
// better found when it is made.
func Sign(c Claims, kid string, key ed25519.PrivateKey) (string, error) {
	if len(key) != ed25519.PrivateKeySize {
		return "", errors.New("auth: sign: invalid Ed25519 private key")
	}
	if !validKID(kid) {
		return "", errors.New("auth: sign: kid must be 1-64 characters of [A-Za-z0-9._-]")
	}
	if err := c.complete(); err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	// kid is plain ASCII without quotes or backslashes, so it needs no
	// escaping.
	header := `{"alg":"` + Algorithm + `","typ":"` + TokenType + `","kid":"` + kid + `"}`

	enc := base64.RawURLEncoding
	hl, pl := enc.EncodedLen(len(header)), enc.EncodedLen(len(payload))
	buf := make([]byte, hl+1+pl+1+enc.EncodedLen(ed25519.SignatureSize))
	enc.Encode(buf, []byte(header))
	buf[hl] = '.'
	enc.Encode(buf[hl+1:], payload)
	buf[hl+1+pl] = '.'
	sig := ed25519.Sign(key, buf[:hl+1+pl])
	enc.Encode(buf[hl+1+pl+1:], sig)
	return string(buf), nil
}

// complete reports the first claim that RFC 9068 §2.2 requires and c lacks.
func (c *Claims) complete() error {
	switch {
	case c.Issuer == "":
		return errors.New("missing iss")
	case c.Subject == "":
		return errors.New("missing sub")
	case len(c.Audience) == 0:
		return errors.New("missing aud")
	case c.ExpiresAt.IsZero():
		return errors.New("missing exp")
	case c.IssuedAt.IsZero():
		return errors.New("missing iat")
	case c.ID == "":
		return errors.New("missing jti")
	case c.ClientID == "":
		return errors.New("missing client_id")
	}
	for _, a := range c.Audience {
		if a == "" {
			return errors.New("empty aud value")
		}
	}
	for _, s := range c.Scope {
		if !validScope(s) {
			return fmt.Errorf("invalid scope %q", s)
		}
	}
	return nil
}
