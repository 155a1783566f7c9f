package problem_test

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/gatehouse/gatehouse/problem"
	"github.com/gatehouse/gatehouse/reqid"
	"github.com/gatehouse/gatehouse/reqlog"
)

// exampleLogger writes access-log lines without the time and duration, so
// that the examples' output is stable.
func exampleLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" {
				return slog.Attr{}
			}
			return reqlog.Redact(groups, a)
		},
	}))
}

// get sends a GET with a fixed request ID to h and prints the response.
func get(h http.Handler) {
	r := httptest.NewRequest("GET", "/v1/notes", nil)
	r.Header.Set("X-Request-ID", "req-1")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("Content-Type"))
	if ra := w.Header().Get("Retry-After"); ra != "" {
		fmt.Println("Retry-After:", ra)
	}
	fmt.Println(w.Body)
}

func ExampleWrite() {
	h := reqid.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, r, problem.New(http.StatusTooManyRequests, "Too many requests; try again later.").
			With("Retry-After", "30"))
	}))
	get(h)
	// Output:
	// 429 application/problem+json
	// Retry-After: 30
	// {"type":"about:blank","title":"Too Many Requests","status":429,"detail":"Too many requests; try again later.","request_id":"req-1"}
}

func ExampleWrite_validation() {
	h := reqid.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, r, problem.Validation(
			problem.FieldError{Location: "body.email", Message: "must be a valid email address"},
			problem.FieldError{Location: "body.age", Message: "must be at least 13"},
		))
	}))
	get(h)
	// Output:
	// 422 application/problem+json
	// {"type":"about:blank","title":"Unprocessable Entity","status":422,"detail":"The request has invalid fields; see errors.","request_id":"req-1","errors":[{"location":"body.email","message":"must be a valid email address"},{"location":"body.age","message":"must be at least 13"}]}
}

func ExampleRespond() {
	errNoNote := problem.New(http.StatusNotFound, "No such note.")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/notes", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("case") {
		case "public":
			// A *Problem, even wrapped, reaches the client as it is.
			problem.Respond(w, r, fmt.Errorf("load note: %w", errNoNote))
		default:
			// Anything else is logged, and the client gets a generic 500.
			problem.Respond(w, r, errors.New("query notes: database is locked"))
		}
	})
	h := reqid.Handler(reqlog.Handler(exampleLogger(), mux))

	for _, c := range []string{"public", "internal"} {
		r := httptest.NewRequest("GET", "/v1/notes?case="+c, nil)
		r.Header.Set("X-Request-ID", "req-"+c)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Body)
	}
	// Output:
	// {"level":"INFO","msg":"request","method":"GET","route":"GET /v1/notes","path":"/v1/notes","status":404,"bytes":106,"request_id":"req-public"}
	// 404 {"type":"about:blank","title":"Not Found","status":404,"detail":"No such note.","request_id":"req-public"}
	// {"level":"ERROR","msg":"request","method":"GET","route":"GET /v1/notes","path":"/v1/notes","status":500,"bytes":191,"request_id":"req-internal","error":"query notes: database is locked"}
	// 500 {"type":"about:blank","title":"Internal Server Error","status":500,"detail":"The server could not complete the request. Quote the request_id when reporting this.","request_id":"req-internal"}
}

func ExampleRecover() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			switch a.Key {
			case slog.TimeKey, "duration":
				return slog.Attr{}
			case "error":
				// The real line holds the panic value and the whole stack;
				// keep only the first line here.
				s := a.Value.String()
				for i := range len(s) {
					if s[i] == '\n' {
						return slog.String(a.Key, s[:i]+" ...")
					}
				}
			}
			return a
		},
	}))
	h := reqid.Handler(reqlog.Handler(logger, problem.Recover(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var notes map[string]string
		//lint:ignore SA5000 the panic is the point of the example
		notes["n1"] = "oops" // a bug: assignment to a nil map
	}))))
	get(h)
	// Output:
	// {"level":"ERROR","msg":"request","method":"GET","route":"","path":"/v1/notes","status":500,"bytes":184,"request_id":"req-1","error":"panic: assignment to entry in nil map ..."}
	// 500 application/problem+json
	// {"type":"about:blank","title":"Internal Server Error","status":500,"detail":"The server could not complete the request. Quote the request_id when reporting this.","request_id":"req-1"}
}
