// Command gatehouse-load floods a gatehouse server's token endpoint with
// valid password logins and checks that it degrades the way it should:
// only 200, 429 and 503 answers, a bounded peak memory, and a login rate
// close to the raw argon2id hash rate of the same machine.
//
// It builds nothing. Give it a built server with --bin (it starts the server
// on a free loopback port with a fresh data directory and creates the
// account) or a running server on a loopback address with --url. See
// docs/LOAD.md.
//
//	go build -o /tmp/gatehouse ./cmd/gatehouse
//	go run ./cmd/gatehouse-load --bin /tmp/gatehouse
//
// The exit status is 0 when every target is met, 1 when one is missed and 2
// when the test could not run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitPass   = 0
	exitMissed = 1
	exitError  = 2
)

// Bounds on the run, so that a typo cannot start an hour-long flood.
const (
	maxConcurrency = 5000
	maxDuration    = 40 * time.Second
	maxWarmup      = 5 * time.Second
	maxHashTime    = 10 * time.Second
)

// config is the validated command line.
type config struct {
	bin, url      string
	username      string
	accounts      int
	pid           int
	concurrency   int
	duration      time.Duration
	warmup        time.Duration
	hashTime      time.Duration
	hashConc      int
	hashQueue     int
	serverArgs    []string
	serverEnv     []string
	noDefaultArgs bool
	retryAfter    bool
	sourceIPs     int
	maxRSSMiB     float64
	minRatio      float64
	keepData      bool
}

// repeated collects a repeatable string flag.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, " ") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("gatehouse-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: gatehouse-load --bin PATH [flags]
       gatehouse-load --url http://127.0.0.1:PORT --username U [--pid PID] [flags] < password

Floods POST /v1/auth/token with valid password logins from many concurrent
clients and reports the login rate against the raw argon2id hash rate,
the answers, and the server's peak memory. Loopback only.

Flags:
`)
		fs.PrintDefaults()
	}
	var serverArgs, serverEnv repeated
	fs.StringVar(&c.bin, "bin", "", "a built gatehouse binary to start and test")
	fs.StringVar(&c.url, "url", "", "a running server to test instead, on a loopback address")
	fs.StringVar(&c.username, "username", "", "with --url: an existing account (the password is read from stdin)")
	fs.IntVar(&c.accounts, "accounts", 1, "with --bin: accounts to create and log in to, clients spread over them (1 to 64); see docs/LOAD.md on the login throttle")
	fs.IntVar(&c.pid, "pid", 0, "with --url: the server's process ID, to sample its memory")
	fs.IntVar(&c.concurrency, "concurrency", 500, fmt.Sprintf("concurrent clients (1 to %d)", maxConcurrency))
	fs.DurationVar(&c.duration, "duration", 20*time.Second, fmt.Sprintf("measured flood time (1s to %s)", maxDuration))
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, fmt.Sprintf("flood time before measuring (0 to %s)", maxWarmup))
	fs.DurationVar(&c.hashTime, "hash-time", 5*time.Second, fmt.Sprintf("time to measure the raw hash rate (1s to %s)", maxHashTime))
	fs.IntVar(&c.hashConc, "hash-concurrency", 2, "the server's --hash-concurrency, and the raw measurement's")
	fs.IntVar(&c.hashQueue, "hash-queue", 0, "the server's --hash-queue (default 16 per hashing slot, as the server's)")
	fs.Var(&serverArgs, "server-arg", "an extra argument for `gatehouse serve` (repeatable), such as --server-arg=--rate-limit='POST /v1/auth/token=1000000/second'")
	fs.Var(&serverEnv, "server-env", "an extra NAME=VALUE in the server's environment (repeatable), such as GOMEMLIMIT=200MiB")
	fs.BoolVar(&c.noDefaultArgs, "no-default-server-args", false, "do not add the default server arguments that lift rate limits (see docs/LOAD.md)")
	fs.BoolVar(&c.retryAfter, "retry-after", true, "clients wait as Retry-After says after a 429 or 503; false hammers without pause")
	fs.IntVar(&c.sourceIPs, "source-ips", 1, "spread the clients over this many source addresses 127.0.0.1, 127.0.0.2, ... (1 to 250)")
	fs.Float64Var(&c.maxRSSMiB, "max-rss-mib", 256, "target: the server's peak RSS stays under this many MiB")
	fs.Float64Var(&c.minRatio, "min-ratio", 0.9, "target: logins/s at least this fraction of the raw hash rate")
	fs.BoolVar(&c.keepData, "keep-data", false, "keep the data directory and server log")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c.serverArgs, c.serverEnv = serverArgs, serverEnv
	return c, c.validate()
}

func (c *config) validate() error {
	switch {
	case (c.bin == "") == (c.url == ""):
		return errors.New("give exactly one of --bin and --url")
	case c.url != "" && c.username == "":
		return errors.New("--url needs --username (and the password on stdin)")
	case c.bin != "" && (c.username != "" || c.pid != 0):
		return errors.New("--username and --pid go with --url; --bin creates its own account")
	case c.accounts < 1 || c.accounts > 64:
		return errors.New("--accounts must be 1 to 64")
	case c.url != "" && c.accounts != 1:
		return errors.New("--accounts goes with --bin; --url logs in to --username")
	case c.concurrency < 1 || c.concurrency > maxConcurrency:
		return fmt.Errorf("--concurrency must be 1 to %d", maxConcurrency)
	case c.duration < time.Second || c.duration > maxDuration:
		return fmt.Errorf("--duration must be 1s to %s", maxDuration)
	case c.warmup < 0 || c.warmup > maxWarmup:
		return fmt.Errorf("--warmup must be 0 to %s", maxWarmup)
	case c.hashTime < time.Second || c.hashTime > maxHashTime:
		return fmt.Errorf("--hash-time must be 1s to %s", maxHashTime)
	case c.hashConc < 1 || c.hashConc > 256:
		return errors.New("--hash-concurrency must be 1 to 256")
	case c.hashQueue < 0 || c.hashQueue > 100000:
		return errors.New("--hash-queue must be 0 to 100000")
	case c.sourceIPs < 1 || c.sourceIPs > 250:
		return errors.New("--source-ips must be 1 to 250")
	case c.maxRSSMiB <= 0 || c.minRatio <= 0:
		return errors.New("--max-rss-mib and --min-ratio must be positive")
	}
	if c.hashQueue == 0 {
		c.hashQueue = 16 * c.hashConc
	}
	for _, kv := range c.serverEnv {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("--server-env %q: want NAME=VALUE", kv)
		}
	}
	if c.url != "" {
		u, err := url.Parse(c.url)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			return fmt.Errorf("--url %q: want http://HOST:PORT", c.url)
		}
		ip := net.ParseIP(u.Hostname())
		if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("--url %q: only loopback addresses may be flooded", c.url)
		}
		c.url = strings.TrimSuffix(c.url, "/")
	}
	return nil
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitPass
	}
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse-load:", err)
		return exitError
	}
	rep, err := loadTest(ctx, c, stdin, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse-load:", err)
		return exitError
	}
	if !rep.print(stdout) {
		return exitMissed
	}
	return exitPass
}
