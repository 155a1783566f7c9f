package transport_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/acme/autocert"

	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/transport"
)

func TestValidateDomain(t *testing.T) {
	for _, ok := range []string{"api.example.com", "a.b.c.example.org", "xn--bcher-kva.example", "api-1.example.test", "example.com"} {
		if err := transport.ValidateDomain(ok); err != nil {
			t.Errorf("ValidateDomain(%q): got %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{
		"", "localhost", "*.example.com", "API.example.com", "bücher.example", "-a.example.com",
		"a-.example.com", "a..example.com", "example.com.", "127.0.0.1", "a b.example.com",
		"a_b.example.com", strings.Repeat("a", 64) + ".example.com", strings.Repeat("a.", 127) + "com",
		"https://example.com", "example.com:443",
	} {
		if err := transport.ValidateDomain(bad); err == nil {
			t.Errorf("ValidateDomain(%q): got nil, want an error", bad)
		}
	}
}

func TestValidateDirectoryURLAndEmail(t *testing.T) {
	for _, ok := range []string{transport.LetsEncryptURL, "https://127.0.0.1:14000/dir", "https://acme.internal/acme/acme/directory"} {
		if err := transport.ValidateDirectoryURL(ok); err != nil {
			t.Errorf("ValidateDirectoryURL(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "http://acme.example/dir", "acme.example/dir", "https://", "https://u:p@acme.example/dir", "ftp://x/y"} {
		if err := transport.ValidateDirectoryURL(bad); err == nil {
			t.Errorf("ValidateDirectoryURL(%q): got nil, want an error", bad)
		}
	}
	for _, ok := range []string{"admin@example.com", "a.b+tls@sub.example.org"} {
		if err := transport.ValidateEmail(ok); err != nil {
			t.Errorf("ValidateEmail(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "admin", "Admin <admin@example.com>", "a@b.com,c@d.com", "a@example.com?cc=x@evil.example"} {
		if err := transport.ValidateEmail(bad); err == nil {
			t.Errorf("ValidateEmail(%q): got nil, want an error", bad)
		}
	}
}

// memCache is an in-memory autocert.Cache that lets tests see the stored
// bytes.
type memCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (c *memCache) Get(_ context.Context, k string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	if !ok {
		return nil, autocert.ErrCacheMiss
	}
	return bytes.Clone(v), nil
}

func (c *memCache) Put(_ context.Context, k string, v []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	c.m[k] = bytes.Clone(v)
	return nil
}

func (c *memCache) Delete(_ context.Context, k string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k)
	return nil
}

func newKEK(t *testing.T, fill byte) *keys.KEK {
	t.Helper()
	k, err := keys.NewKEK(bytes.Repeat([]byte{fill}, 32), "test", "")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealedCache(t *testing.T) {
	ctx := context.Background()
	inner := &memCache{}
	kek := newKEK(t, 1)
	c := transport.SealedCache(inner, kek)
	secret := []byte("-----BEGIN EC PRIVATE KEY-----\nsecret\n-----END EC PRIVATE KEY-----\n")

	if _, err := c.Get(ctx, "api.example.test"); err != autocert.ErrCacheMiss {
		t.Fatalf("miss: got %v, want autocert.ErrCacheMiss itself", err)
	}
	if err := c.Put(ctx, "api.example.test", secret); err != nil {
		t.Fatal(err)
	}
	stored := inner.m["api.example.test"]
	if bytes.Contains(stored, []byte("PRIVATE KEY")) || bytes.Contains(stored, []byte("secret")) {
		t.Fatalf("stored value is not encrypted: %q", stored)
	}
	got, err := c.Get(ctx, "api.example.test")
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("round trip: got %q, %v", got, err)
	}

	t.Run("another instance with the same KEK reads it", func(t *testing.T) {
		got, err := transport.SealedCache(inner, newKEK(t, 1)).Get(ctx, "api.example.test")
		if err != nil || !bytes.Equal(got, secret) {
			t.Errorf("got %q, %v", got, err)
		}
	})
	t.Run("a wrong KEK is an error, not a miss", func(t *testing.T) {
		_, err := transport.SealedCache(inner, newKEK(t, 2)).Get(ctx, "api.example.test")
		if err == nil || err == autocert.ErrCacheMiss {
			t.Errorf("got %v, want an error other than ErrCacheMiss (a miss would order a new certificate)", err)
		}
	})
	t.Run("a row moved to another name does not open", func(t *testing.T) {
		inner.Put(ctx, "evil.example.test", stored)
		if _, err := c.Get(ctx, "evil.example.test"); err == nil || err == autocert.ErrCacheMiss {
			t.Errorf("got %v, want an error", err)
		}
	})
	t.Run("a sealed signing key does not open here", func(t *testing.T) {
		inner.Put(ctx, "kid1", kek.Seal("kid1", secret))
		if _, err := c.Get(ctx, "kid1"); err == nil {
			t.Error("a value sealed for the signing-key table opened as an ACME entry")
		}
	})
	t.Run("tampering is detected", func(t *testing.T) {
		bad := bytes.Clone(stored)
		bad[len(bad)-1] ^= 1
		inner.Put(ctx, "api.example.test", bad)
		if _, err := c.Get(ctx, "api.example.test"); err == nil {
			t.Error("tampered value opened")
		}
	})
	t.Run("delete", func(t *testing.T) {
		c.Put(ctx, "x.example.test", []byte("v"))
		if err := c.Delete(ctx, "x.example.test"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctx, "x.example.test"); err != autocert.ErrCacheMiss {
			t.Errorf("after Delete: got %v, want ErrCacheMiss", err)
		}
	})
}

func TestNewACMEManager(t *testing.T) {
	cache := transport.SealedCache(&memCache{}, newKEK(t, 1))
	m, err := transport.NewACMEManager(transport.ACME{Domains: []string{"api.example.test", "www.example.test"}, Email: "ops@example.test", Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	if m.Client.DirectoryURL != transport.LetsEncryptURL {
		t.Errorf("got directory %q, want Let's Encrypt production by default", m.Client.DirectoryURL)
	}
	ctx := context.Background()
	for _, ok := range []string{"api.example.test", "www.example.test", "api.example.test:5002"} {
		if err := m.HostPolicy(ctx, ok); err != nil {
			t.Errorf("HostPolicy(%q): %v", ok, err)
		}
	}
	// Names outside --acme-domain never cause an order.
	for _, bad := range []string{"evil.example.test", "example.test", "127.0.0.1", "evil.example.test:443", "api.example.test.evil.example"} {
		if err := m.HostPolicy(ctx, bad); err == nil {
			t.Errorf("HostPolicy(%q): got nil, want refusal", bad)
		}
	}

	for _, tc := range []struct {
		name string
		c    transport.ACME
	}{
		{"no domain", transport.ACME{Cache: cache}},
		{"bad domain", transport.ACME{Domains: []string{"localhost"}, Cache: cache}},
		{"no cache", transport.ACME{Domains: []string{"api.example.test"}}},
		{"plain-HTTP directory", transport.ACME{Domains: []string{"api.example.test"}, Cache: cache, DirectoryURL: "http://acme.example/dir"}},
		{"bad email", transport.ACME{Domains: []string{"api.example.test"}, Cache: cache, Email: "nobody"}},
	} {
		if _, err := transport.NewACMEManager(tc.c); err == nil {
			t.Errorf("%s: got nil error", tc.name)
		}
	}
}
