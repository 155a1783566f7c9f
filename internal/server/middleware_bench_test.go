package server_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/reqlog"
)

// maxMiddlewareCPU is the target for BenchmarkMiddlewareChain: what the
// middleware other than signature verification may cost per request
// (issue #9).
const maxMiddlewareCPU = 5 * time.Microsecond

// BenchmarkMiddlewareChain runs a request through every middleware of an
// authenticated route around a handler that does nothing: request ID,
// client IP, access log, security headers, recovery, the concurrency
// bounds, routing, bearer-token authentication from the verification
// cache (one repeated token: no signature check) with the session check,
// and the per-user rate limit. cpu-ns/op is the process's CPU time per
// request, which other work on the machine hardly changes; ns/op is wall
// time.
func BenchmarkMiddlewareChain(b *testing.B) {
	e := newEnvWith(b, func(d *server.Deps) {
		server.WithNoopUserRoute(d)
		// The access log as `gatehouse serve` configures it (JSON, secrets
		// redacted), writing to nothing: the cost of the write itself
		// depends on where the log goes.
		d.Logger = slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{ReplaceAttr: reqlog.Redact}))
	})
	_, tok := e.user(b, "bench", gatehouse.RoleUser)
	req := httptest.NewRequest("GET", "/bench/noop", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, req) // the first verification fills the cache
	if w.Code != http.StatusNoContent {
		b.Fatalf("got %d, want 204: %s", w.Code, w.Body)
	}
	b.ReportAllocs()
	cpu := startCPU(b)
	for b.Loop() {
		w := &discardWriter{header: make(http.Header)}
		e.srv.ServeHTTP(w, req)
		if w.code != http.StatusNoContent {
			b.Fatalf("got %d, want 204", w.code)
		}
	}
	if per := cpu.stop(); per > maxMiddlewareCPU {
		b.Logf("middleware CPU per request %s, target ≤ %s", per, maxMiddlewareCPU)
	}
}

// discardWriter is the least a ResponseWriter does: a fresh header map per
// request, as net/http's own, and nothing written anywhere (unlike
// httptest.ResponseRecorder, which copies the header map).
type discardWriter struct {
	header http.Header
	code   int
}

func (w *discardWriter) Header() http.Header { return w.header }
func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *discardWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(b), nil
}

// cpuTimer measures the process's CPU time (user and system, every
// thread: garbage collection included) over a benchmark loop.
type cpuTimer struct {
	b     *testing.B
	start time.Duration
}

func startCPU(b *testing.B) cpuTimer { return cpuTimer{b: b, start: processCPU()} }

// stop reports cpu-ns/op and returns the CPU time per iteration.
func (c cpuTimer) stop() time.Duration {
	used := processCPU() - c.start
	if c.b.N == 0 {
		return 0
	}
	per := used / time.Duration(c.b.N)
	c.b.ReportMetric(float64(used.Nanoseconds())/float64(c.b.N), "cpu-ns/op")
	return per
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
