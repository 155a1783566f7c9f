package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/jsonbody"
	"github.com/gatehouse/gatehouse/problem"
	"github.com/gatehouse/gatehouse/reqlog"
)

type statusResponse struct {
	Status string `json:"status"`
}

// handleHealthz answers while the process runs (liveness).
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jsonbody.Write(w, http.StatusOK, statusResponse{Status: "ok"})
	})
}

// handleReadyz answers 200 only when every backing store answers, so a load
// balancer stops sending traffic to an instance that cannot serve it.
func handleReadyz(store gatehouse.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := store.Ping(ctx); err != nil {
			p := problem.New(http.StatusServiceUnavailable, "A backing store does not answer.").With("Retry-After", "5")
			fail(w, r, p, err)
			return
		}
		jsonbody.Write(w, http.StatusOK, statusResponse{Status: "ready"})
	})
}

// fail sends the public problem p and records the internal cause in the
// request's log line, never in the response.
func fail(w http.ResponseWriter, r *http.Request, p *problem.Problem, cause error) {
	reqlog.SetError(r.Context(), cause)
	problem.Write(w, r, p)
}

// respond answers err: a store that cannot be reached now is 503 with
// Retry-After (never a 500 with a driver message); everything else goes
// through problem.Respond.
func respond(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, gatehouse.ErrUnavailable) {
		fail(w, r, problem.New(http.StatusServiceUnavailable, "A backing store does not answer; retry shortly.").With("Retry-After", "5"), err)
		return
	}
	problem.Respond(w, r, err)
}
