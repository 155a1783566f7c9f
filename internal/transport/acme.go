package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// LetsEncryptURL is the default ACME directory: Let's Encrypt production.
const LetsEncryptURL = acme.LetsEncryptURL

// ACME configures automatic certificates (RFC 8555).
type ACME struct {
	// Domains are the only names certificates are requested for.
	Domains []string
	// Email is the contact address given to the CA (optional).
	Email string
	// DirectoryURL is the CA's ACME directory; "" is LetsEncryptURL.
	DirectoryURL string
	// Cache keeps the account key and the certificates. Share it between
	// instances (the store) and seal it (SealedCache): it holds private
	// keys.
	Cache autocert.Cache
	// HTTPClient talks to the CA; nil uses one with a 30 s timeout per
	// request. The CA's certificate is checked against the system roots
	// (on Linux SSL_CERT_FILE and SSL_CERT_DIR point elsewhere, for a
	// private CA).
	HTTPClient *http.Client
}

// NewACMEManager returns an autocert.Manager for c. Serve its
// GetCertificate through ServerConfig with acme.ALPNProto added to
// NextProtos (TLS-ALPN-01, RFC 8737), and put its HTTPHandler on the
// plain-HTTP listener (HTTP-01, RFC 8555 §8.3).
//
// Security choices:
//   - HostPolicy allows Domains only. Without it, anyone could send any
//     name in SNI and make the server order certificates for it until the
//     CA's rate limits lock the real names out.
//   - The CA's terms of service are accepted: giving --acme-domain is the
//     operator's consent, as with other ACME servers (Caddy, certbot -n
//     --agree-tos); the terms' address is in the CA's directory.
//   - Renewal starts at a third of the remaining lifetime or 30 days before
//     expiry, whichever is earlier (autocert's default), so short-lived
//     certificates renew in time too.
func NewACMEManager(c ACME) (*autocert.Manager, error) {
	if len(c.Domains) == 0 {
		return nil, errors.New("acme: no domain")
	}
	for _, d := range c.Domains {
		if err := ValidateDomain(d); err != nil {
			return nil, err
		}
	}
	dir := c.DirectoryURL
	if dir == "" {
		dir = LetsEncryptURL
	}
	if err := ValidateDirectoryURL(dir); err != nil {
		return nil, err
	}
	if c.Email != "" {
		if err := ValidateEmail(c.Email); err != nil {
			return nil, err
		}
	}
	if c.Cache == nil {
		return nil, errors.New("acme: a cache is required; without one every restart orders new certificates and soon hits the CA's rate limits")
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	allowed := autocert.HostWhitelist(c.Domains...)
	return &autocert.Manager{
		Prompt: autocert.AcceptTOS,
		Cache:  c.Cache,
		// The policy also guards HTTP-01 answers, where it gets the Host
		// header, which carries a port when the CA's validation port is
		// not 80 (test CAs, port forwarding): names are compared without it.
		HostPolicy: func(ctx context.Context, host string) error {
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			return allowed(ctx, host)
		},
		Email: c.Email,
		Client: &acme.Client{
			DirectoryURL: dir,
			HTTPClient:   hc,
			UserAgent:    "gatehouse",
		},
	}, nil
}

// ValidateDomain checks a name for --acme-domain: a fully qualified DNS
// name in lower case ASCII (internationalized names in their xn-- form),
// with at least two labels. autocert refuses single-label names (such as
// localhost) in the TLS handshake, wildcards need the DNS-01 challenge,
// which needs access to the DNS zone that gatehouse does not have
// (RFC 8555 §7.1.3), and CAs do not issue for IP addresses through HTTP-01
// and TLS-ALPN-01 with a DNS identifier.
func ValidateDomain(name string) error {
	bad := func(why string) error { return fmt.Errorf("%q is not a usable domain name: %s", name, why) }
	if strings.HasPrefix(name, "*.") {
		return bad("wildcard certificates need the DNS-01 challenge, which gatehouse does not do")
	}
	if len(name) == 0 || len(name) > 253 {
		return bad("must be 1 to 253 characters")
	}
	labels := strings.Split(name, ".")
	if len(labels) < 2 {
		return bad("needs at least two labels, as in api.example.com (ACME clients refuse single-label names such as localhost)")
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 {
			return bad("every label must be 1 to 63 characters")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return bad("a label must not start or end with '-'")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return bad("use lower-case letters, digits and '-' (write internationalized names in their xn-- form)")
			}
		}
	}
	tld := labels[len(labels)-1]
	if strings.Trim(tld, "0123456789") == "" {
		return bad("IP addresses cannot be used")
	}
	return nil
}

// ValidateDirectoryURL checks an ACME directory URL: RFC 8555 §6.1
// requires HTTPS for every ACME request.
func ValidateDirectoryURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%q is not an https:// URL of an ACME directory (RFC 8555 §6.1 requires HTTPS)", s)
	}
	return nil
}

// ValidateEmail checks a contact address for the CA: a bare address such
// as admin@example.com (it becomes a mailto: URL, RFC 8555 §7.3).
func ValidateEmail(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || strings.ContainsAny(s, ",;?&") {
		return fmt.Errorf("%q is not a plain e-mail address such as admin@example.com", s)
	}
	return nil
}

// Sealer encrypts values bound to a name; *keys.KEK is one.
type Sealer interface {
	Seal(name string, plaintext []byte) []byte
	Open(name string, sealed []byte) ([]byte, error)
}

// SealedCache wraps c so that every value is encrypted with s before it is
// stored and authenticated when read. The values are the ACME account key
// and each certificate's private key: kept in the database in clear, a
// leaked backup or a read-only SQL injection would hand out the keys that
// authenticate the server (OWASP ASVS 5.0 V13.3, secret management: keys
// encrypted at rest under a key kept apart from the data).
//
// Each value is bound to its cache key (the AEAD's additional data is
// "acme-cache:" + key), so a row copied under another name, or a sealed
// signing key copied into this table, does not open. A value that does not
// open is an error, never a cache miss: a miss would make autocert order a
// new certificate (or register a new account) and overwrite the row,
// turning a wrong key-encryption key into a stream of orders against the
// CA's rate limits. This fails closed and loudly instead.
func SealedCache(c autocert.Cache, s Sealer) autocert.Cache { return sealedCache{c, s} }

type sealedCache struct {
	c autocert.Cache
	s Sealer
}

const sealedCacheContext = "acme-cache:"

func (sc sealedCache) Get(ctx context.Context, name string) ([]byte, error) {
	data, err := sc.c.Get(ctx, name)
	if err != nil {
		return nil, err // autocert.ErrCacheMiss passes through unwrapped
	}
	plain, err := sc.s.Open(sealedCacheContext+name, data)
	if err != nil {
		return nil, fmt.Errorf("acme cache entry %q does not open with this key-encryption key (every instance must use the same one): %w", name, err)
	}
	return plain, nil
}

func (sc sealedCache) Put(ctx context.Context, name string, data []byte) error {
	return sc.c.Put(ctx, name, sc.s.Seal(sealedCacheContext+name, data))
}

func (sc sealedCache) Delete(ctx context.Context, name string) error {
	return sc.c.Delete(ctx, name)
}
