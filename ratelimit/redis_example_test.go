package ratelimit_test

import (
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/ratelimit"
)

// Several instances of a server share one budget per client by keeping the
// state in Redis. This example needs a Redis server, so it is compiled but
// not run.
func ExampleNewRedisStore() {
	client := redis.NewClient(&redis.Options{
		Addr: "localhost:6379",
		// Bound the wait: a Limiter whose store does not answer fails
		// closed (503) by default, after these timeouts.
		DialTimeout:  time.Second,
		ReadTimeout:  500 * time.Millisecond,
		WriteTimeout: 500 * time.Millisecond,
	})
	defer client.Close()

	store := ratelimit.NewRedisStore(client, "gatehouse:ratelimit:")
	l, err := ratelimit.New("token", ratelimit.Rate{Limit: 5, Period: time.Minute}, store)
	if err != nil {
		log.Fatal(err)
	}
	token := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, `{"access_token":"..."}`)
	})
	mux := http.NewServeMux()
	mux.Handle("POST /v1/auth/token", l.Handler(token))
	log.Fatal(http.ListenAndServe("localhost:8080", mux))
}
