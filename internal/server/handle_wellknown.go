package server

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/jsonbody"
)

// handleJWKS publishes the public signing keys (RFC 7517 §5). Clients may
// cache the set briefly; a short max-age lets a rotation reach them fast.
func handleJWKS(ring *keys.Ring) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		set := auth.JWKS{Keys: []auth.JWK{}}
		for _, k := range ring.Keys() {
			set.Keys = append(set.Keys, auth.PublicJWK(k.ID, k.PublicKey))
		}
		w.Header().Set("Cache-Control", "public, max-age=60")
		jsonbody.Write(w, http.StatusOK, set)
	})
}

// metadata is the RFC 8414 §2 authorization server metadata.
type metadata struct {
	Issuer                        string   `json:"issuer"`
	TokenEndpoint                 string   `json:"token_endpoint"`
	RevocationEndpoint            string   `json:"revocation_endpoint"`
	JWKSURI                       string   `json:"jwks_uri"`
	ScopesSupported               []string `json:"scopes_supported"`
	ResponseTypesSupported        []string `json:"response_types_supported"`
	GrantTypesSupported           []string `json:"grant_types_supported"`
	TokenEndpointAuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethods []string `json:"revocation_endpoint_auth_methods_supported"`
	AccessTokenAlgorithms         []string `json:"access_token_signing_alg_values_supported"`
}

// handleMetadata serves RFC 8414 metadata. URLs derive from the configured
// issuer, never from the request's Host header, which a client controls.
func handleMetadata(d Deps) http.Handler {
	base := strings.TrimSuffix(d.Config.Issuer, "/")
	m := metadata{
		Issuer:             d.Config.Issuer,
		TokenEndpoint:      base + "/v1/auth/token",
		RevocationEndpoint: base + "/v1/auth/revoke",
		JWKSURI:            base + "/.well-known/jwks.json",
		ScopesSupported: []string{gatehouse.PermNotesRead, gatehouse.PermNotesWrite, gatehouse.PermUsersRead,
			gatehouse.PermUsersWrite, gatehouse.PermAuditRead},
		// No authorization endpoint: only the token endpoint's grants.
		ResponseTypesSupported:        []string{},
		GrantTypesSupported:           []string{"password", "refresh_token"},
		TokenEndpointAuthMethods:      []string{"none"},
		RevocationEndpointAuthMethods: []string{"none"},
		AccessTokenAlgorithms:         []string{keys.Algorithm},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		jsonbody.Write(w, http.StatusOK, m)
	})
}
