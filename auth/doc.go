// Package auth verifies gatehouse access tokens and protects net/http
// handlers with them: the Go counterpart of FastAPI's OAuth2PasswordBearer,
// Depends(get_current_user) and Security scopes.
//
// Access tokens are JWTs in the profile of RFC 9068, signed with EdDSA over
// Ed25519 (RFC 8037) in the JWS compact serialization (RFC 7515). Sign makes
// them, a Verifier checks them, and two middlewares guard routes:
//
//	v, err := auth.NewVerifier(keys, "https://id.example.com", "gatehouse")
//	authn := &auth.Authenticator{Verifier: v}
//	mux.Handle("POST /v1/notes", authn.Handler(auth.Require("notes:write")(create)))
//
// # What a Verifier accepts
//
// Verification follows the JWT best current practices of RFC 8725 and fails
// closed at every step: only alg "EdDSA" (§3.1: never "none", never an HMAC
// or RSA algorithm that an attacker could pick), a kid that names a key of
// the configured KeySet (the key never comes from the token: jku, x5u, x5c
// and jwk headers are ignored, §3.10), typ "at+jwt" (RFC 9068 §4, RFC 8725
// §3.11, so that an ID token or other JWT from the same issuer cannot stand
// in for an access token), no crit header (RFC 7515 §4.1.11), the exact
// issuer (§3.8), the configured audience (§3.9), and exp, nbf and iat
// against an injectable clock with at most 60 s of leeway.
//
// # Why the standard library and not a JWT library
//
// Parsing is written against encoding/base64, encoding/json and
// crypto/ed25519 directly. Only one algorithm and one key type are accepted,
// so a general JOSE library would add surface without adding safety, and the
// checks this package needs are not what such libraries do by default:
// strict (canonical) base64url, refusal of duplicate and case-folded JSON
// member names (RFC 7515 §5.2; encoding/json would silently take the last
// "alg" or match "ALG"), refusal of crit, and a key that is looked up only
// by kid. The tests check that tokens interoperate with
// github.com/golang-jwt/jwt/v5 in both directions.
package auth
