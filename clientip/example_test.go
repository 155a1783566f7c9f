package clientip_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/gatehouse/gatehouse/clientip"
)

func ExampleResolver_Handler() {
	// The value of --trusted-proxies: the load balancers in front of us.
	prefixes, err := clientip.ParseCIDRs("10.0.0.0/8, 192.168.1.7")
	if err != nil {
		log.Fatal(err)
	}
	var x clientip.Resolver
	if err := x.AddTrustedProxies(prefixes...); err != nil {
		log.Fatal(err)
	}

	h := x.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip, _ := clientip.FromContext(r.Context())
		fmt.Println(ip)
	}))

	// Through the load balancer: the client wrote 6.6.6.6 itself, the
	// proxy appended the address it saw.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:5000"
	r.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.23")
	h.ServeHTTP(httptest.NewRecorder(), r)

	// Straight from the internet: the header is not believed.
	r = httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "203.0.113.9:5000"
	r.Header.Set("X-Forwarded-For", "6.6.6.6")
	h.ServeHTTP(httptest.NewRecorder(), r)

	// Output:
	// 198.51.100.23
	// 203.0.113.9
}
