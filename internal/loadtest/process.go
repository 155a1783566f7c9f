package loadtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
)

// FreePort asks the kernel for a free loopback port. Another process could
// take it before the server binds it; the server then fails at start and
// says so.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// ChildEnv is this process's environment without GATEHOUSE_ variables,
// which would silently change a server's configuration, plus extra.
func ChildEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// HashRun is one measurement of the raw password-hash rate.
type HashRun struct {
	Hashes  int64
	Elapsed time.Duration
	CPU     time.Duration // this process's CPU time during the run
}

// Rate is hashes per second.
func (r HashRun) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Hashes) / r.Elapsed.Seconds()
}

// RawHashRate runs password verifications with password.DefaultParams (the
// work of one login) on conc goroutines in this process for d, and returns
// how many completed, how long they took and the CPU time they used.
func RawHashRate(ctx context.Context, conc int, d time.Duration, pw string) HashRun {
	p := password.DefaultParams
	enc, err := password.Hash(pw, p)
	if err != nil {
		panic(err) // DefaultParams are valid
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	cpu0, _ := ProcessCPU(os.Getpid())
	start := time.Now()
	deadline := start.Add(d)
	for range conc {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if ok, _, err := password.Verify(enc, pw, p); ok && err == nil {
					n.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, _ := ProcessCPU(os.Getpid())
	return HashRun{Hashes: n.Load(), Elapsed: elapsed, CPU: cpu1.Sub(cpu0).Total()}
}

// ErrExited is WaitHealthy's error when the process exited before it
// answered.
var ErrExited = errors.New("exited at start")

// WaitHealthy polls GET url+"/healthz" every 50 ms until it answers 200 and
// returns nil; it returns ErrExited when exited is closed first, ctx.Err()
// when ctx ends, and an error naming timeout when that passes. The caller
// stops the process on an error.
func WaitHealthy(ctx context.Context, url string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-exited:
			return ErrExited
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := hc.Get(url + "/healthz"); err == nil { // #nosec G107 G704 -- a loopback server this process started
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("did not answer /healthz within %s", timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// LogTail returns the last n lines of the log file at path, indented, for
// an error message.
func LogTail(path string, n int) string {
	b, _ := os.ReadFile(path) // #nosec G304 -- a server log in a directory this process made
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}
