package transport_test

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/transport"
)

// serveTLS runs an HTTPS server with transport.ServerConfig on loopback
// and returns its address.
func serveTLS(t *testing.T, getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, r.Proto)
		}),
		TLSConfig:         transport.ServerConfig(getCert),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          nil,
	}
	srv.ErrorLog = quietLog()
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func handshake(addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.ConnectionState(), nil
}

// servePermissive runs a TLS server that accepts everything Go can speak,
// the control that shows a refusal comes from ServerConfig, not from the
// client.
func servePermissive(t *testing.T, cert *testCert) string {
	t.Helper()
	var all []uint16
	for _, s := range tls.CipherSuites() {
		all = append(all, s.ID)
	}
	for _, s := range tls.InsecureCipherSuites() {
		all = append(all, s.ID)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{cert.tls},
		MinVersion:   tls.VersionTLS10,
		CipherSuites: all,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

func TestServerConfigRefusesOldProtocolsAndWeakSuites(t *testing.T) {
	ec := newCert(t, certOpts{})
	rsaCert := newCert(t, certOpts{rsa: true})
	ecAddr := serveTLS(t, transport.Static(&ec.tls))
	rsaAddr := serveTLS(t, transport.Static(&rsaCert.tls))
	control := map[string]string{ecAddr: servePermissive(t, ec), rsaAddr: servePermissive(t, rsaCert)}

	for _, tc := range []struct {
		name    string
		addr    string
		pool    *testCert
		version uint16
		suite   uint16
	}{
		{"TLS 1.0", ecAddr, ec, tls.VersionTLS10, 0},
		{"TLS 1.1", ecAddr, ec, tls.VersionTLS11, 0},
		{"TLS 1.0 RSA", rsaAddr, rsaCert, tls.VersionTLS10, 0},
		{"TLS 1.1 RSA", rsaAddr, rsaCert, tls.VersionTLS11, 0},
		{"CBC ECDSA SHA1", ecAddr, ec, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA},
		{"CBC ECDSA SHA256", ecAddr, ec, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256},
		{"CBC ECDSA AES256", ecAddr, ec, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA},
		{"CBC RSA", rsaAddr, rsaCert, tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA},
		{"RSA key exchange GCM (no forward secrecy)", rsaAddr, rsaCert, tls.VersionTLS12, tls.TLS_RSA_WITH_AES_128_GCM_SHA256},
		{"RSA key exchange CBC", rsaAddr, rsaCert, tls.VersionTLS12, tls.TLS_RSA_WITH_AES_128_CBC_SHA},
		{"3DES", rsaAddr, rsaCert, tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA},
		{"RC4", rsaAddr, rsaCert, tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &tls.Config{RootCAs: tc.pool.pool(), ServerName: "localhost", MinVersion: tc.version, MaxVersion: tc.version}
			if tc.suite != 0 {
				cfg.CipherSuites = []uint16{tc.suite}
			}
			if _, err := handshake(control[tc.addr], cfg); err != nil {
				t.Skipf("this Go cannot speak it even to a permissive server (%v); nothing to prove", err)
			}
			st, err := handshake(tc.addr, cfg)
			if err == nil {
				t.Fatalf("handshake succeeded with %s %s, want it refused", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
			}
			// The server's alert, as the client sees it: protocol_version
			// for old versions, handshake_failure for no common suite
			// (RFC 8446 §6.2, RFC 5246 §7.2.2).
			want := "remote error: tls: handshake failure"
			if tc.suite == 0 {
				want = "remote error: tls: protocol version not supported"
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("got error %q, want the server's alert %q", err, want)
			}
		})
	}
}

func TestServerConfigAcceptsModernClients(t *testing.T) {
	ec := newCert(t, certOpts{})
	rsaCert := newCert(t, certOpts{rsa: true})
	ecAddr := serveTLS(t, transport.Static(&ec.tls))
	rsaAddr := serveTLS(t, transport.Static(&rsaCert.tls))

	t.Run("default client gets TLS 1.3, hybrid post-quantum key exchange and h2", func(t *testing.T) {
		st, err := handshake(ecAddr, &tls.Config{RootCAs: ec.pool(), ServerName: "localhost", NextProtos: []string{"h2", "http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		if st.Version != tls.VersionTLS13 {
			t.Errorf("got %s, want TLS 1.3", tls.VersionName(st.Version))
		}
		if st.CurveID != tls.X25519MLKEM768 {
			t.Errorf("got key exchange %v, want X25519MLKEM768 (Go's default hybrid kept)", st.CurveID)
		}
		if st.NegotiatedProtocol != "h2" {
			t.Errorf("got ALPN %q, want h2", st.NegotiatedProtocol)
		}
	})
	t.Run("classical-only client still connects", func(t *testing.T) {
		st, err := handshake(ecAddr, &tls.Config{RootCAs: ec.pool(), ServerName: "localhost", CurvePreferences: []tls.CurveID{tls.X25519}})
		if err != nil {
			t.Fatal(err)
		}
		if st.CurveID != tls.X25519 {
			t.Errorf("got %v, want X25519", st.CurveID)
		}
	})
	t.Run("HTTP/1.1-only client", func(t *testing.T) {
		st, err := handshake(ecAddr, &tls.Config{RootCAs: ec.pool(), ServerName: "localhost", NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		if st.NegotiatedProtocol != "http/1.1" {
			t.Errorf("got ALPN %q, want http/1.1", st.NegotiatedProtocol)
		}
	})
	for _, suite := range transport.CipherSuites {
		name := tls.CipherSuiteName(suite)
		t.Run("TLS 1.2 "+name, func(t *testing.T) {
			addr, pool := ecAddr, ec
			if slices.Contains([]uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}, suite) {
				addr, pool = rsaAddr, rsaCert
			}
			st, err := handshake(addr, &tls.Config{RootCAs: pool.pool(), ServerName: "localhost", MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{suite}, NextProtos: []string{"h2"}})
			if err != nil {
				t.Fatal(err)
			}
			if st.Version != tls.VersionTLS12 || st.CipherSuite != suite {
				t.Errorf("got %s %s, want TLS 1.2 %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), name)
			}
			// Every allowed suite is fine for HTTP/2 (RFC 9113 §9.2.2).
			if st.NegotiatedProtocol != "h2" {
				t.Errorf("got ALPN %q, want h2", st.NegotiatedProtocol)
			}
		})
	}
	t.Run("HTTP/2 end to end", func(t *testing.T) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ec.pool()}, ForceAttemptHTTP2: true}}
		defer c.CloseIdleConnections()
		resp, err := c.Get("https://" + ecAddr + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.ProtoMajor != 2 || string(b) != "HTTP/2.0" {
			t.Errorf("got %s (server saw %q), want HTTP/2", resp.Proto, b)
		}
	})
}

func TestServerConfigIsIndependent(t *testing.T) {
	a := transport.ServerConfig(nil)
	a.NextProtos = append(a.NextProtos, "acme-tls/1")
	a.CipherSuites[0] = 0
	b := transport.ServerConfig(nil)
	if len(b.NextProtos) != 2 || b.CipherSuites[0] == 0 || transport.CipherSuites[0] == 0 {
		t.Errorf("changing one config changed another: %v %v", b.NextProtos, b.CipherSuites)
	}
	if b.MinVersion != tls.VersionTLS12 {
		t.Errorf("got MinVersion %x, want TLS 1.2", b.MinVersion)
	}
	if b.CurvePreferences != nil {
		t.Errorf("got CurvePreferences %v, want nil (Go's defaults, hybrid post-quantum first)", b.CurvePreferences)
	}
}
