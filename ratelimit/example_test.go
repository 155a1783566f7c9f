package ratelimit_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gatehouse/gatehouse/clientip"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/reqid"
)

func ExampleLimiter_Handler() {
	// The value of --rate-limit.
	pattern, rate, err := ratelimit.ParseRule("POST /v1/auth/token=2/minute")
	if err != nil {
		log.Fatal(err)
	}
	l, err := ratelimit.New("token", rate, ratelimit.NewMemoryStore(0))
	if err != nil {
		log.Fatal(err)
	}
	// A fixed clock keeps the output stable; leave it out in production.
	l.SetNow(func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) })

	token := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, `{"access_token":"..."}`)
	})
	mux := http.NewServeMux()
	mux.Handle(pattern, l.Handler(token)) // keyed by client IP (ByClientIP)
	var ips clientip.Resolver             // socket address only: no proxy trusted
	srv := reqid.Handler(ips.Handler(mux))

	for range 3 {
		r := httptest.NewRequest("POST", "/v1/auth/token", nil)
		r.RemoteAddr = "198.51.100.7:40000"
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		fmt.Println(w.Code)
		for _, k := range []string{"RateLimit-Policy", "RateLimit", "Retry-After"} {
			if v := w.Header().Get(k); v != "" {
				fmt.Printf("  %s: %s\n", k, v)
			}
		}
	}
	// Output:
	// 200
	//   RateLimit-Policy: "token";q=2;w=60
	//   RateLimit: "token";r=1;t=30
	// 200
	//   RateLimit-Policy: "token";q=2;w=60
	//   RateLimit: "token";r=0;t=30
	// 429
	//   RateLimit-Policy: "token";q=2;w=60
	//   RateLimit: "token";r=0;t=30
	//   Retry-After: 30
}

func ExampleLimiter_SetKey() {
	// Authenticated routes draw on a budget per user. userID stands for
	// what the authentication middleware stored in the context.
	userID := func(r *http.Request) string { return r.Header.Get("X-Example-User") }

	l, err := ratelimit.New("notes-write", ratelimit.Rate{Limit: 1, Period: time.Second}, ratelimit.NewMemoryStore(0))
	if err != nil {
		log.Fatal(err)
	}
	l.SetNow(func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) })
	l.SetKey(func(r *http.Request) (string, bool) {
		id := userID(r)
		return id, id != ""
	})
	h := l.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))

	for _, user := range []string{"u1", "u1", "u2"} {
		r := httptest.NewRequest("POST", "/v1/notes", nil)
		r.Header.Set("X-Example-User", user)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(user, w.Code)
	}
	// Output:
	// u1 200
	// u1 429
	// u2 200
}

func ExampleParseRate() {
	for _, s := range []string{"5/minute", "100/h", "0/minute", "5/week"} {
		rate, err := ratelimit.ParseRate(s)
		fmt.Println(rate, err)
	}
	// Output:
	// 5/minute <nil>
	// 100/hour <nil>
	// 0/0s invalid rate "0/minute": count "0" is not a number from 1 to 1000000
	// 0/0s invalid rate "5/week": unit "week" is not second, minute, hour or day
}
