package reqid_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gatehouse/gatehouse/reqid"
)

func ExampleHandler() {
	var seen string
	h := reqid.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = reqid.FromContext(r.Context()) // for problem details and the log
	}))

	// A well-formed ID from the client (or a proxy) is kept ...
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Request-ID", "checkout-7f3a")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println("kept:", w.Header().Get("X-Request-ID"), seen)

	// ... anything else is replaced by a fresh random one, so that it cannot
	// forge a log line.
	r = httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Request-ID", "x\nlevel=ERROR msg=forged")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	id := w.Header().Get("X-Request-ID")
	fmt.Println("replaced:", id == seen, reqid.Valid(id), len(id))
	// Output:
	// kept: checkout-7f3a checkout-7f3a
	// replaced: true true 16
}
