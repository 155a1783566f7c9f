package auth

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// FirstPartyClientID is the client_id of gatehouse's own clients.
const FirstPartyClientID = "gatehouse"

// Claims are the claims of an access token in the JWT profile of RFC 9068.
//
// Times are whole seconds on the wire (RFC 7519 §2 NumericDate); a zero
// time.Time means the claim is absent. A *Claims returned by a Verifier is
// the caller's own copy: changing it affects no other request.
type Claims struct {
	Issuer    string    // iss: the authorization server (RFC 9068 §2.2)
	Subject   string    // sub: the user ID
	Audience  []string  // aud: a string or an array of strings in JSON
	ExpiresAt time.Time // exp: required
	IssuedAt  time.Time // iat
	NotBefore time.Time // nbf
	ID        string    // jti: unique per token
	Scope     []string  // scope: space-separated in JSON (RFC 9068 §2.2.3, RFC 6749 §3.3)
	SessionID string    // sid: the refresh-token family, used for revocation
	ClientID  string    // client_id: the OAuth2 client the token was issued to (RFC 9068 §2.2)
	AuthTime  time.Time // auth_time: when the user last authenticated (optional)
}

// Has reports whether the token grants scope. Scopes are compared exactly
// and case-sensitively (RFC 6749 §3.3); a nil *Claims has no scope.
func (c *Claims) Has(scope string) bool {
	return c != nil && slices.Contains(c.Scope, scope)
}

// clone returns a deep copy of c, so that a cached *Claims is never shared.
func (c *Claims) clone() *Claims {
	out := *c
	out.Audience = slices.Clone(c.Audience)
	out.Scope = slices.Clone(c.Scope)
	return &out
}

// wireClaims is the JSON form written by MarshalJSON, in the member order of
// the examples in RFC 9068 §2.2.
type wireClaims struct {
	Issuer    string `json:"iss,omitempty"`
	Subject   string `json:"sub,omitempty"`
	Audience  any    `json:"aud,omitempty"`
	ExpiresAt int64  `json:"exp,omitempty"`
	NotBefore int64  `json:"nbf,omitempty"`
	IssuedAt  int64  `json:"iat,omitempty"`
	ID        string `json:"jti,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Scope     string `json:"scope,omitempty"`
	SessionID string `json:"sid,omitempty"`
	AuthTime  int64  `json:"auth_time,omitempty"`
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// MarshalJSON writes the JWT claims set. A single audience is written as a
// string, several as an array (RFC 7519 §4.1.3); times are truncated to whole
// seconds.
func (c Claims) MarshalJSON() ([]byte, error) {
	w := wireClaims{
		Issuer:    c.Issuer,
		Subject:   c.Subject,
		ExpiresAt: unix(c.ExpiresAt),
		NotBefore: unix(c.NotBefore),
		IssuedAt:  unix(c.IssuedAt),
		ID:        c.ID,
		ClientID:  c.ClientID,
		Scope:     strings.Join(c.Scope, " "),
		SessionID: c.SessionID,
		AuthTime:  unix(c.AuthTime),
	}
	switch len(c.Audience) {
	case 0:
	case 1:
		w.Audience = c.Audience[0]
	default:
		w.Audience = c.Audience
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads a JWT claims set with the same strictness as Verify:
// one JSON object, valid UTF-8, no duplicate member names, and every known
// claim of its registered type (a string where RFC 7519 says string, a number
// for times). Unknown claims are ignored (RFC 7519 §4). It does not validate
// the claims; only Verify does.
func (c *Claims) UnmarshalJSON(data []byte) error {
	m, err := decodeObject(data)
	if err != nil {
		return err
	}
	out, err := claimsFrom(m)
	if err != nil {
		return err
	}
	*c = *out
	return nil
}

// claimsFrom reads the known claims from a decoded object. A claim of the
// wrong JSON type is an error rather than an absent claim, so that a type
// confusion between issuer and verifier fails closed.
func claimsFrom(m map[string]json.RawMessage) (*Claims, error) {
	c := &Claims{}
	strs := []struct {
		name string
		dst  *string
	}{
		{"iss", &c.Issuer}, {"sub", &c.Subject}, {"jti", &c.ID},
		{"sid", &c.SessionID}, {"client_id", &c.ClientID},
	}
	for _, s := range strs {
		raw, ok := m[s.name]
		if !ok {
			continue
		}
		v, ok := jsonString(raw)
		if !ok {
			return nil, fmt.Errorf("%w: claim %s is not a string", errJSON, s.name)
		}
		*s.dst = v
	}
	times := []struct {
		name string
		dst  *time.Time
	}{
		{"exp", &c.ExpiresAt}, {"iat", &c.IssuedAt}, {"nbf", &c.NotBefore}, {"auth_time", &c.AuthTime},
	}
	for _, t := range times {
		raw, ok := m[t.name]
		if !ok {
			continue
		}
		v, ok := numericDate(raw)
		if !ok {
			return nil, fmt.Errorf("%w: claim %s is not a NumericDate", errJSON, t.name)
		}
		*t.dst = v
	}
	if raw, ok := m["aud"]; ok {
		aud, ok := audience(raw)
		if !ok {
			return nil, fmt.Errorf("%w: claim aud is not a string or array of strings", errJSON)
		}
		c.Audience = aud
	}
	if raw, ok := m["scope"]; ok {
		s, ok := jsonString(raw)
		if !ok {
			return nil, fmt.Errorf("%w: claim scope is not a string", errJSON)
		}
		c.Scope = splitScope(s)
	}
	return c, nil
}

// audience reads aud: one string or an array of strings (RFC 7519 §4.1.3).
func audience(raw json.RawMessage) ([]string, bool) {
	if len(raw) > 0 && raw[0] == '"' {
		s, ok := jsonString(raw)
		return []string{s}, ok
	}
	if len(raw) == 0 || raw[0] != '[' {
		return nil, false
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, false
	}
	aud := make([]string, 0, len(elems))
	for _, e := range elems {
		s, ok := jsonString(e)
		if !ok {
			return nil, false
		}
		aud = append(aud, s)
	}
	return aud, true
}

// splitScope splits a scope value on spaces (RFC 6749 §3.3), dropping the
// empty strings that doubled or edge spaces would make.
func splitScope(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, " ") {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// validScope reports whether s is an RFC 6749 §3.3 scope-token: one or more
// of %x21 / %x23-5B / %x5D-7E. It never contains a space, a quote or a
// backslash, so it can be written inside a quoted-string unescaped.
func validScope(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
