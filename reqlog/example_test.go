package reqlog_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/gatehouse/gatehouse/reqid"
	"github.com/gatehouse/gatehouse/reqlog"
)

func ExampleHandler() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			// Drop the time and duration so that the output is stable.
			if a.Key == slog.TimeKey || a.Key == "duration" {
				return slog.Attr{}
			}
			return reqlog.Redact(groups, a)
		},
	}))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/notes/{id}", func(w http.ResponseWriter, r *http.Request) {
		reqlog.SetUser(r.Context(), "user-42") // what an authentication layer does
		reqlog.Add(r.Context(), slog.String("note_id", r.PathValue("id")), slog.String("share_token", "s3cr3t"))
		w.Write([]byte(`{"id":"n1"}`))
	})
	h := reqid.Handler(reqlog.Handler(logger, mux))

	r := httptest.NewRequest("GET", "/v1/notes/n1?access_token=s3cr3t", nil)
	r.Header.Set("X-Request-ID", "req-1")
	h.ServeHTTP(httptest.NewRecorder(), r)
	// Output:
	// {"level":"INFO","msg":"request","method":"GET","route":"GET /v1/notes/{id}","path":"/v1/notes/n1","status":200,"bytes":11,"request_id":"req-1","user_id":"user-42","note_id":"n1","share_token":"[REDACTED]"}
}
