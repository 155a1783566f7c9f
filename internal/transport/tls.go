// Package transport is how gatehouse meets the network: the TLS
// configuration of the API listener, certificates from files (reloaded
// without a restart), a self-signed development certificate, automatic
// certificates over ACME with a shared cache encrypted at rest, and the
// plain-HTTP listener that answers ACME HTTP-01 challenges and sends
// browsers to HTTPS.
//
// Every choice here follows OWASP ASVS 5.0 chapter 12 ("Secure
// Communication"): TLS for every connection (12.2.1), only current
// protocol versions and strong cipher suites, with forward secrecy and
// authenticated encryption (12.1.1, 12.1.2), and certificates that clients
// can verify (12.2.2).
package transport

import (
	"crypto/tls"
)

// CipherSuites are the TLS 1.2 cipher suites the server accepts: ECDHE key
// exchange (forward secrecy: a stolen certificate key does not decrypt
// recorded traffic) with an AEAD cipher (AES-GCM or ChaCha20-Poly1305).
// This is the TLS 1.2 part of Mozilla's "intermediate" server-side TLS
// configuration less its three DHE suites, which Go does not
// implement. Everything else is refused: CBC suites (Lucky13 and padding
// oracles, RFC 7457 §2.3-2.4; RFC 9325 §4.2 says not to use them), RSA key
// exchange (no forward secrecy, Bleichenbacher/ROBOT), 3DES and RC4
// (RFC 7465). Every suite here is also allowed by HTTP/2 (RFC 9113 §9.2.2),
// so a TLS 1.2 client that negotiates h2 is never refused for its suite.
//
// TLS 1.3 suites (RFC 8446 §B.4) are all AEAD with (EC)DHE and are not
// configurable in Go; they need no entry here.
var CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// NextProtos are the ALPN protocols of the API listener, in order of
// preference: HTTP/2, then HTTP/1.1 (RFC 7301, RFC 9113 §3.2).
var NextProtos = []string{"h2", "http/1.1"}

// ServerConfig returns the TLS configuration of the API listener, taking
// its certificate from getCert at every handshake (so that a reloaded or
// renewed certificate is used by new connections while established ones
// keep theirs).
//
//   - MinVersion TLS 1.2 (RFC 8996 deprecates TLS 1.0 and 1.1; ASVS 5.0
//     12.1.1). TLS 1.3 (RFC 8446) is preferred: Go negotiates the highest
//     version both sides support, and the TLS 1.3 downgrade sentinel in the
//     server random (RFC 8446 §4.1.3) lets a TLS 1.3 client detect an
//     attacker forcing TLS 1.2.
//   - CipherSuites for TLS 1.2 as documented at CipherSuites (RFC 5246 as
//     amended by RFC 9325 §4.2: AEAD with ECDHE only).
//   - CurvePreferences is left empty on purpose: Go's default list, which
//     puts the hybrid post-quantum key exchange X25519MLKEM768 first and
//     keeps X25519 and the NIST curves for older clients. A fixed list here
//     would silently drop the post-quantum exchange and every improvement
//     of later Go releases.
//   - NextProtos offers HTTP/2 then HTTP/1.1; net/http serves HTTP/2 when
//     the client picks h2.
//   - Session tickets stay on (resumption); Go rotates their keys daily.
//
// The returned configuration is new on each call; callers may add
// NextProtos (such as acme.ALPNProto) before use.
func ServerConfig(getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   append([]uint16(nil), CipherSuites...),
		NextProtos:     append([]string(nil), NextProtos...),
		GetCertificate: getCert,
	}
}

// Static returns a GetCertificate function that always answers cert.
func Static(cert *tls.Certificate) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert, nil }
}
