package storetest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/acme/autocert"
)

// ACMECache checks the autocert.Cache of the store, alone and shared by two
// instances.
func ACMECache(t *testing.T, newDB NewDB) {
	t.Run("one instance", func(t *testing.T) {
		ctx := context.Background()
		c := migrated(t, newDB).ACMECache()

		// autocert compares with ==, so the miss must be the sentinel itself.
		if _, err := c.Get(ctx, "api.example.test"); err != autocert.ErrCacheMiss {
			t.Fatalf("Get of a missing key: got %v, want autocert.ErrCacheMiss itself", err)
		}
		for _, tc := range []struct{ name, key, value string }{
			{"certificate", "api.example.test", "cert and key"},
			{"rsa certificate", "api.example.test+rsa", "rsa cert"},
			{"account key", "acme_account+key", "account"},
			{"http-01 token", "tok_EN-123+http-01", "token.thumbprint"},
			{"empty value", "empty.example.test", ""},
			{"longest key", strings.Repeat("a", 255), "long"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := c.Put(ctx, tc.key, []byte(tc.value)); err != nil {
					t.Fatalf("Put: %v", err)
				}
				got, err := c.Get(ctx, tc.key)
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				if string(got) != tc.value {
					t.Errorf("Get: got %q, want %q", got, tc.value)
				}
			})
		}
		t.Run("nil value", func(t *testing.T) {
			if err := c.Put(ctx, "nil.example.test", nil); err != nil {
				t.Fatal(err)
			}
			if got, err := c.Get(ctx, "nil.example.test"); err != nil || len(got) != 0 {
				t.Errorf("got %q, %v; want an empty value", got, err)
			}
		})
		t.Run("put replaces", func(t *testing.T) {
			if err := c.Put(ctx, "api.example.test", []byte("renewed")); err != nil {
				t.Fatal(err)
			}
			if got, _ := c.Get(ctx, "api.example.test"); string(got) != "renewed" {
				t.Errorf("got %q, want %q", got, "renewed")
			}
		})
		t.Run("delete", func(t *testing.T) {
			if err := c.Delete(ctx, "api.example.test"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Get(ctx, "api.example.test"); err != autocert.ErrCacheMiss {
				t.Errorf("Get after Delete: got %v, want autocert.ErrCacheMiss", err)
			}
			if err := c.Delete(ctx, "never.example.test"); err != nil {
				t.Errorf("Delete of a missing key: got %v, want nil", err)
			}
			if got, _ := c.Get(ctx, "api.example.test+rsa"); string(got) != "rsa cert" {
				t.Errorf("Delete removed a neighbour: got %q, want %q", got, "rsa cert")
			}
		})
		t.Run("binary values", func(t *testing.T) {
			v := []byte{0, 1, 2, 0xff, 0xfe, 0}
			if err := c.Put(ctx, "bin", v); err != nil {
				t.Fatal(err)
			}
			if got, _ := c.Get(ctx, "bin"); !bytes.Equal(got, v) {
				t.Errorf("got %x, want %x", got, v)
			}
		})
		t.Run("bad keys refused", func(t *testing.T) {
			for _, k := range []string{"", strings.Repeat("a", 256), "a b", "a\nb", "é.example", "a\x00b", "\xff"} {
				if err := c.Put(ctx, k, []byte("x")); !isRefusal(err) {
					t.Errorf("Put(%q): got %v, want a refusal", k, err)
				}
				if _, err := c.Get(ctx, k); !isRefusal(err) || err == autocert.ErrCacheMiss {
					t.Errorf("Get(%q): got %v, want a refusal", k, err)
				}
				if err := c.Delete(ctx, k); !isRefusal(err) {
					t.Errorf("Delete(%q): got %v, want a refusal", k, err)
				}
			}
		})
		t.Run("keys are data", func(t *testing.T) {
			k := "x');DROP/**/TABLE/**/acme_cache;--"
			if err := c.Put(ctx, k, []byte("v")); err != nil {
				t.Fatal(err)
			}
			if got, _ := c.Get(ctx, k); string(got) != "v" {
				t.Errorf("got %q, want %q", got, "v")
			}
			if got, _ := c.Get(ctx, "bin"); got == nil {
				t.Error("the table lost its rows")
			}
			if _, err := c.Get(ctx, "%"); err != autocert.ErrCacheMiss {
				t.Errorf("Get(%q): got %v, want a miss", "%", err)
			}
		})
	})

	// Several instances on one store share the account and the
	// certificates, and concurrent writers (renewals on two instances) do
	// not fail.
	t.Run("shared between instances", func(t *testing.T) {
		ctx := context.Background()
		sa, sb := migratedPair(t, newDB)
		a, b := sa.ACMECache(), sb.ACMECache()
		if err := a.Put(ctx, "acme_account+key", []byte("account")); err != nil {
			t.Fatal(err)
		}
		if got, err := b.Get(ctx, "acme_account+key"); err != nil || string(got) != "account" {
			t.Fatalf("other instance: got %q, %v; want %q", got, err, "account")
		}
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := range 20 {
			for j, c := range []autocert.Cache{a, b} {
				wg.Go(func() { errs <- c.Put(ctx, "api.example.test", fmt.Appendf(nil, "v%d-%d", i, j)) })
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent Put: %v", err)
			}
		}
		ga, _ := a.Get(ctx, "api.example.test")
		gb, _ := b.Get(ctx, "api.example.test")
		if !bytes.Equal(ga, gb) || !bytes.HasPrefix(ga, []byte("v")) {
			t.Errorf("instances disagree after concurrent writes: %q vs %q", ga, gb)
		}
	})
}
