package secheaders_test

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/gatehouse/gatehouse/secheaders"
)

func Example() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Server", "gatehouse") // removed by the middleware
		fmt.Fprintln(w, `{"status":"ok"}`)
	})

	sh := secheaders.New()
	// Over TLS, send HSTS for two years and ask to be preloaded.
	if err := sh.SetHSTS(secheaders.HSTS{
		MaxAge:            2 * secheaders.DefaultHSTSMaxAge,
		IncludeSubDomains: true,
		Preload:           true,
	}); err != nil {
		log.Fatal(err)
	}
	handler := sh.Handler(mux)

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	h := rec.Result().Header
	for _, k := range []string{
		"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy",
		"X-Frame-Options", "Cross-Origin-Opener-Policy", "Cross-Origin-Resource-Policy",
		"Strict-Transport-Security", "Server",
	} {
		fmt.Printf("%s: %q\n", k, h.Get(k))
	}
	// Output:
	// Content-Security-Policy: "default-src 'none'; frame-ancestors 'none'"
	// X-Content-Type-Options: "nosniff"
	// Referrer-Policy: "no-referrer"
	// X-Frame-Options: "DENY"
	// Cross-Origin-Opener-Policy: "same-origin"
	// Cross-Origin-Resource-Policy: "same-origin"
	// Strict-Transport-Security: ""
	// Server: ""
}

func ExampleCSPHandler() {
	// The interactive docs page is a document, not JSON: give that route
	// its own policy. Headers.Handler wraps the whole mux, so it runs first
	// and CSPHandler replaces its default for this route only.
	docs := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "<!doctype html><title>API docs</title>")
	})
	mux := http.NewServeMux()
	mux.Handle("GET /docs", secheaders.CSPHandler(docs,
		"default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"))
	handler := secheaders.New().Handler(mux)

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", "/docs", nil))
	fmt.Println(rec.Result().Header.Get("Content-Security-Policy"))
	// Output:
	// default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'
}

func ExampleHeaders_SetTLSTerminated() {
	// Behind a TLS-terminating proxy the server sees plain HTTP. Trust the
	// proxy's word only for connections that come from the proxy itself.
	const proxyAddr = "10.0.0.5"
	sh := secheaders.New()
	sh.SetTLSTerminated(func(r *http.Request) bool {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		return host == proxyAddr && r.Header.Get("X-Forwarded-Proto") == "https"
	})
	handler := sh.Handler(http.NotFoundHandler())

	for _, remote := range []string{proxyAddr + ":41000", "203.0.113.9:41000"} {
		req := httptest.NewRequest("GET", "http://api.example/v1/notes", nil)
		req.RemoteAddr = remote
		req.Header.Set("X-Forwarded-Proto", "https")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Printf("from %s: %q\n", remote, rec.Result().Header.Get("Strict-Transport-Security"))
	}
	// Output:
	// from 10.0.0.5:41000: "max-age=31536000; includeSubDomains"
	// from 203.0.113.9:41000: ""
}
