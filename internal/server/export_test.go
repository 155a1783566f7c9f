package server

import "net/http"

// WithNoopUserRoute adds GET /bench/noop to d: a handler that writes 204
// and nothing else, behind the same guards as every user(...) route of
// routes.go (token authentication, the per-user rate limit), so that a
// benchmark measures the middleware chain alone.
func WithNoopUserRoute(d *Deps) {
	d.testUserRoutes = func(user func(string, http.Handler)) {
		user("GET /bench/noop", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}))
	}
}
