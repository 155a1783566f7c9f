package jsonbody

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gatehouse/gatehouse/problem"
	"github.com/gatehouse/gatehouse/reqid"
)

// ContentType is the media type of the responses Write sends. The charset is
// explicit (ASVS 5.0 §4.1.1) even though JSON is always UTF-8.
const ContentType = "application/json; charset=utf-8"

// Write sends v as a JSON response with the given status. The body is
// encoded in full before anything is sent, so the headers, Content-Length
// included, are set before WriteHeader and match the body.
//
// If v cannot be encoded, Write sends the generic 500 problem instead,
// carrying the request ID that reqid.Handler put on the response, and logs
// the encoding error with the default logger; the error never reaches the
// client. Statuses that cannot have a body (1xx, 204, 304) are sent without
// one and without content headers.
//
// encoding/json escapes <, > and & in strings, so a response cannot be
// sniffed as HTML even by a client that ignores nosniff.
func Write(w http.ResponseWriter, status int, v any) {
	if status < 200 || status == http.StatusNoContent || status == http.StatusNotModified {
		w.WriteHeader(status)
		return
	}
	ct := ContentType
	body, err := json.Marshal(v)
	if err != nil {
		id := w.Header().Get(reqid.Header)
		slog.Error("jsonbody: encode response", "request_id", id, "error", err.Error())
		p := problem.Internal()
		p.RequestID = id
		body, _ = json.Marshal(p) // a Problem always encodes
		status, ct = p.Status, problem.ContentType
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Del("Content-Encoding") // the body is not encoded; a stale header would corrupt it
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
