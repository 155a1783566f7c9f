package cors_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gatehouse/gatehouse/cors"
)

func Example() {
	api := http.NewServeMux()
	api.HandleFunc("PATCH /v1/notes/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"id":"1"}`)
	})

	c := cors.New() // allows nothing until told
	for _, origin := range []string{"https://app.example.com", "http://localhost:3000"} {
		if err := c.AddOrigin(origin); err != nil {
			log.Fatal(err)
		}
	}
	c.SetAllowCredentials(true) // for the listed origins only
	if err := c.SetAllowedMethods("PUT", "PATCH", "DELETE"); err != nil {
		log.Fatal(err)
	}
	if err := c.SetAllowedHeaders("Authorization", "Content-Type"); err != nil {
		log.Fatal(err)
	}
	if err := c.SetMaxAge(time.Hour); err != nil {
		log.Fatal(err)
	}
	handler := c.Handler(api) // outside the router: it answers preflights

	// The browser's preflight before a PATCH with a JSON body and a token.
	req := httptest.NewRequest("OPTIONS", "https://api.example.com/v1/notes/1", nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "PATCH")
	req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println(rec.Code)
	for _, k := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Max-Age"} {
		fmt.Printf("%s: %s\n", k, rec.Header().Get(k))
	}

	// An origin that is not listed gets no CORS headers: the browser keeps
	// the response from the script.
	req = httptest.NewRequest("PATCH", "https://api.example.com/v1/notes/1", nil)
	req.Header.Set("Origin", "https://evil.example")
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Printf("%d, Access-Control-Allow-Origin: %q\n", rec.Code, rec.Header().Get("Access-Control-Allow-Origin"))

	// Output:
	// 204
	// Access-Control-Allow-Origin: https://app.example.com
	// Access-Control-Allow-Credentials: true
	// Access-Control-Allow-Methods: PUT, PATCH, DELETE
	// Access-Control-Allow-Headers: Authorization, Content-Type
	// Access-Control-Max-Age: 3600
	// 200, Access-Control-Allow-Origin: ""
}
