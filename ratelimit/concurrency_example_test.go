package ratelimit_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/gatehouse/gatehouse/ratelimit"
)

func ExampleConcurrency_Handler() {
	// At most 2 requests in progress, at most 1 per client IP.
	c, err := ratelimit.NewConcurrency(2, 1)
	if err != nil {
		log.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
	}))

	send := func(path, remote string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		r.RemoteAddr = remote
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	hold := func(remote string) chan struct{} {
		done := make(chan struct{})
		go func() { send("/slow", remote); close(done) }()
		<-entered
		return done
	}
	show := func(who string, w *httptest.ResponseRecorder) {
		if ra := w.Header().Get("Retry-After"); ra != "" {
			fmt.Println(who, w.Code, "Retry-After:", ra)
			return
		}
		fmt.Println(who, w.Code)
	}

	doneA := hold("198.51.100.7:1000") // one slow request from A
	show("A again:", send("/fast", "198.51.100.7:1001"))
	show("B:", send("/fast", "203.0.113.9:1000"))
	doneB := hold("203.0.113.9:1000") // A and B each hold one: the server is full
	show("C:", send("/fast", "192.0.2.1:1000"))
	close(release)
	<-doneA
	<-doneB
	show("C later:", send("/fast", "192.0.2.1:1000"))
	// Output:
	// A again: 429 Retry-After: 1
	// B: 200
	// C: 503 Retry-After: 1
	// C later: 200
}
