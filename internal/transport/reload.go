package transport

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Reloader serves a certificate and key read from two PEM files and reads
// them again when asked (Reload, for SIGHUP) or when their contents change
// (Watch), so that a renewed certificate is used without a restart.
//
// A new certificate is used by new TLS handshakes only. Established
// connections keep the certificate they were made with and are never
// dropped; that is also what makes the swap safe for HTTP/2 connections
// carrying many requests.
//
// Reloading fails closed toward the old certificate: files that do not
// parse, a key that does not match the certificate, or a certificate that
// has expired or is not yet valid leave the current certificate in place
// and return an error. A renewal that writes the two files one after the
// other is therefore harmless: the half-written state is refused and the
// next attempt picks up the complete pair.
type Reloader struct {
	certFile, keyFile string
	now               func() time.Time

	mu  sync.Mutex // serializes Reload
	cur atomic.Pointer[loadedCert]
}

type loadedCert struct {
	cert *tls.Certificate
	sum  [sha256.Size]byte // of the two files' contents, to skip unchanged files
}

// NewReloader reads the certificate (with any intermediates, leaf first)
// and the private key, and fails when they cannot be used.
func NewReloader(certFile, keyFile string) (*Reloader, error) {
	r := &Reloader{certFile: certFile, keyFile: keyFile, now: time.Now}
	if _, err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// GetCertificate implements tls.Config.GetCertificate.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cur.Load().cert, nil
}

// Leaf returns the certificate currently served.
func (r *Reloader) Leaf() *x509.Certificate { return r.cur.Load().cert.Leaf }

// Reload reads the files again. changed reports that a different
// certificate is now served; on error the current one stays.
func (r *Reloader) Reload() (changed bool, err error) {
	changed, _, err = r.reload()
	return changed, err
}

// reload is Reload that also returns the digest of what it read (zero when
// the files could not be read).
func (r *Reloader) reload() (changed bool, sum [sha256.Size]byte, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	certPEM, keyPEM, sum, err := r.read()
	if err != nil {
		return false, sum, err
	}
	if cur := r.cur.Load(); cur != nil && cur.sum == sum {
		return false, sum, nil
	}
	cert, err := parseKeyPair(certPEM, keyPEM, r.now())
	if err != nil {
		return false, sum, err
	}
	r.cur.Store(&loadedCert{cert: cert, sum: sum})
	return true, sum, nil
}

func (r *Reloader) read() (certPEM, keyPEM []byte, sum [sha256.Size]byte, err error) {
	certPEM, err = os.ReadFile(r.certFile)
	if err != nil {
		return nil, nil, sum, fmt.Errorf("read certificate: %w", err)
	}
	keyPEM, err = os.ReadFile(r.keyFile)
	if err != nil {
		return nil, nil, sum, fmt.Errorf("read private key: %w", err)
	}
	h := sha256.New()
	h.Write(certPEM)
	h.Write([]byte{0}) // PEM has no NUL: the boundary is unambiguous
	h.Write(keyPEM)
	copy(sum[:], h.Sum(nil))
	return certPEM, keyPEM, sum, nil
}

// parseKeyPair checks that the pair can be served at now.
func parseKeyPair(certPEM, keyPEM []byte, now time.Time) (*tls.Certificate, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// The message of X509KeyPair names the problem (no PEM data,
		// mismatched key, ...) but never includes key material.
		return nil, fmt.Errorf("load certificate and key: %w", err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		cert.Leaf = leaf
	}
	if now.Before(leaf.NotBefore) {
		return nil, fmt.Errorf("certificate %s is not valid before %s", Fingerprint(leaf), leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("certificate %s expired at %s", Fingerprint(leaf), leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if leaf.IsCA {
		// A CA certificate as the leaf is a misconfiguration (RFC 5280
		// §4.2.1.9); clients would refuse it anyway.
		return nil, errors.New("the first certificate in the file is a CA certificate; put the server's certificate first")
	}
	return &cert, nil
}

// Watch reloads the files every interval until ctx ends, calling report
// after every attempt that changed the certificate or failed. A failure is
// reported once for each distinct content of the files, so that a broken
// file logs one line, not one per interval.
//
// It polls the contents rather than using inotify: it works the same for
// files replaced by rename, for Kubernetes secret volumes (symlink swaps)
// and on network file systems, and costs two small reads per interval.
func (r *Reloader) Watch(ctx context.Context, interval time.Duration, report func(changed bool, err error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var lastBad [sha256.Size]byte
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, sum, err := r.reload()
		if err != nil {
			// Report each failure once: the same contents (or the same
			// read error) fail the same way at every tick.
			if sum == lastBad && err.Error() == lastErr {
				continue
			}
			lastBad, lastErr = sum, err.Error()
			report(false, err)
			continue
		}
		lastBad, lastErr = [sha256.Size]byte{}, ""
		if changed {
			report(true, nil)
		}
	}
}

// Fingerprint is the SHA-256 fingerprint of a certificate in the form that
// browsers and `openssl x509 -fingerprint -sha256` show: upper-case hex
// bytes separated by colons.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	var b strings.Builder
	for i, v := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strings.ToUpper(hex.EncodeToString([]byte{v})))
	}
	return b.String()
}
