package jsonbody_test

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/jsonbody"
	"github.com/gatehouse/gatehouse/problem"
	"github.com/gatehouse/gatehouse/reqid"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		v           any
		wantStatus  int
		wantType    string
		wantBody    string // exact, when set
		wantNoBody  bool
		wantProblem bool
	}{
		{name: "object", status: 201, v: map[string]string{"status": "ok"}, wantStatus: 201, wantType: jsonbody.ContentType, wantBody: `{"status":"ok"}`},
		{name: "html is escaped", status: 200, v: "<script>&", wantStatus: 200, wantType: jsonbody.ContentType, wantBody: `"\u003cscript\u003e\u0026"`},
		{name: "nil", status: 200, v: nil, wantStatus: 200, wantType: jsonbody.ContentType, wantBody: `null`},
		{name: "no content", status: 204, v: map[string]int{"x": 1}, wantStatus: 204, wantNoBody: true},
		{name: "not modified", status: 304, v: "x", wantStatus: 304, wantNoBody: true},
		{name: "unencodable", status: 200, v: math.Inf(1), wantStatus: 500, wantType: problem.ContentType, wantProblem: true},
		{name: "unencodable type", status: 201, v: map[string]any{"c": make(chan int)}, wantStatus: 500, wantType: problem.ContentType, wantProblem: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			rec.Header().Set(reqid.Header, "req-1")
			rec.Header().Set("Content-Encoding", "gzip") // stale; must not survive
			jsonbody.Write(rec, tt.status, tt.v)
			res := rec.Result()
			if res.StatusCode != tt.wantStatus {
				t.Errorf("got status %d, want %d", res.StatusCode, tt.wantStatus)
			}
			body := rec.Body.String()
			if tt.wantNoBody {
				if body != "" || res.Header.Get("Content-Type") != "" {
					t.Errorf("got body %q and type %q, want neither", body, res.Header.Get("Content-Type"))
				}
				return
			}
			if got := res.Header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("got Content-Type %q, want %q", got, tt.wantType)
			}
			if got, want := res.Header.Get("Content-Length"), strconv.Itoa(len(body)); got != want {
				t.Errorf("got Content-Length %q, want %q", got, want)
			}
			if got := res.Header.Get("Content-Encoding"); got != "" {
				t.Errorf("got Content-Encoding %q, want none", got)
			}
			if tt.wantBody != "" && body != tt.wantBody {
				t.Errorf("got body %s, want %s", body, tt.wantBody)
			}
			if tt.wantProblem {
				var p problem.Problem
				if err := json.Unmarshal([]byte(body), &p); err != nil {
					t.Fatalf("got body %s, want a problem: %v", body, err)
				}
				if p.Status != 500 || p.RequestID != "req-1" {
					t.Errorf("got status %d and request_id %q, want 500 and req-1", p.Status, p.RequestID)
				}
				if strings.Contains(body, "json") || strings.Contains(body, "chan") || strings.Contains(body, "Inf") {
					t.Errorf("got body %s, want no library error in it", body)
				}
			}
		})
	}
}

// TestWriteHeadersBeforeStatus checks that headers are in place when
// WriteHeader is called, not set afterwards where they would be lost.
func TestWriteHeadersBeforeStatus(t *testing.T) {
	w := &headerSnapshot{ResponseWriter: httptest.NewRecorder()}
	jsonbody.Write(w, 200, []int{1, 2})
	if got := w.atWriteHeader.Get("Content-Type"); got != jsonbody.ContentType {
		t.Errorf("got Content-Type %q at WriteHeader, want %q", got, jsonbody.ContentType)
	}
	if got := w.atWriteHeader.Get("Content-Length"); got != "5" {
		t.Errorf("got Content-Length %q at WriteHeader, want %q", got, "5")
	}
}

type headerSnapshot struct {
	http.ResponseWriter
	atWriteHeader http.Header
}

func (w *headerSnapshot) WriteHeader(code int) {
	w.atWriteHeader = w.Header().Clone()
	w.ResponseWriter.WriteHeader(code)
}
