package loadtest

import (
	"context"
	"net"
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
