// Command gatehouse-bench measures gatehouse's request rate, latency, CPU
// time per request and memory, scenario by scenario, against a minimal
// net/http JSON server measured in the same run on the same machine with the
// same load generator, and prints a Markdown table of the figures and their
// ratios to that baseline. See docs/PERFORMANCE.md.
//
//	go build -o /tmp/gatehouse ./cmd/gatehouse
//	go build -o /tmp/gatehouse-bench ./cmd/gatehouse-bench
//	/tmp/gatehouse-bench --bin /tmp/gatehouse
//
// The load generator is wrk (Debian package wrk), driven by an embedded Lua
// script. `gatehouse-bench baseline --addr ADDR` is the baseline server; the
// tool starts itself in that mode.
//
// The exit status is 0 when every target is met, 1 when one is missed and 2
// when the benchmark could not run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitPass   = 0
	exitMissed = 1
	exitError  = 2
)

// config is the validated command line.
type config struct {
	bin         string
	wrk         string
	duration    time.Duration
	warmup      time.Duration
	runs        int
	connections int
	threads     int
	hashConc    int
	hashTime    time.Duration
	coldTokens  int
	scenarios   []string // names to run; nil: all
	serverArgs  []string
	serverEnv   []string
	keepData    bool
}

// repeated collects a repeatable string flag.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, " ") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("gatehouse-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: gatehouse-bench --bin PATH [flags]

Starts the gatehouse binary PATH and a minimal net/http JSON server on
loopback, loads each with wrk scenario by scenario, and prints a Markdown
table: median requests/s, p50/p99 latency, server CPU per request and peak
RSS, each also as a ratio to the baseline server measured in the same run.

Scenarios: %s

Flags:
`, strings.Join(scenarioNames(), ", "))
		fs.PrintDefaults()
	}
	var serverArgs, serverEnv repeated
	var only string
	fs.StringVar(&c.bin, "bin", "", "the gatehouse binary to measure (required)")
	fs.StringVar(&c.wrk, "wrk", "wrk", "the wrk load generator (Debian: apt-get install wrk)")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "length of one measured run (1s to 60s)")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured run of each scenario before the first measured one (0 to 30s)")
	fs.IntVar(&c.runs, "runs", 3, "measured runs per scenario, interleaved round by round; the table shows the median (1 to 15)")
	fs.IntVar(&c.connections, "connections", 32, "wrk connections, kept alive, the same for every scenario (1 to 60: the server allows 64 requests in flight per client IP)")
	fs.IntVar(&c.threads, "threads", 2, "wrk threads (1 to 64, at most --connections)")
	fs.IntVar(&c.hashConc, "hash-concurrency", runtime.NumCPU(), "the server's --hash-concurrency (its default is the number of CPUs), and the raw argon2id measurement's")
	fs.DurationVar(&c.hashTime, "hash-time", 3*time.Second, "time to measure the raw argon2id rate, before and after the login scenario (1s to 10s)")
	fs.IntVar(&c.coldTokens, "cold-tokens", 30000, "distinct access tokens for the cold-verify scenario, sent in turn: more than the verifier's cache of 10000 (10000 to 500000)")
	fs.StringVar(&only, "scenarios", "", "comma-separated scenario names to run (default: all; the baseline always runs)")
	fs.Var(&serverArgs, "server-arg", "an extra argument for `gatehouse serve` (repeatable)")
	fs.Var(&serverEnv, "server-env", "an extra NAME=VALUE in the server's environment (repeatable), such as GOGC=200")
	fs.BoolVar(&c.keepData, "keep-data", false, "keep the temporary directory (data, KEK, server log, wrk inputs)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c.serverArgs, c.serverEnv = serverArgs, serverEnv
	if only != "" {
		c.scenarios = strings.Split(only, ",")
	}
	return c, c.validate()
}

func (c *config) validate() error {
	switch {
	case c.bin == "":
		return errors.New("--bin is required: a built gatehouse binary (go build -o /tmp/gatehouse ./cmd/gatehouse)")
	case c.duration < time.Second || c.duration > time.Minute:
		return errors.New("--duration must be 1s to 60s")
	case c.warmup < 0 || c.warmup > 30*time.Second:
		return errors.New("--warmup must be 0 to 30s")
	case c.runs < 1 || c.runs > 15:
		return errors.New("--runs must be 1 to 15")
	case c.connections < 1 || c.connections > 60:
		return errors.New("--connections must be 1 to 60")
	case c.threads < 1 || c.threads > 64 || c.threads > c.connections:
		return errors.New("--threads must be 1 to 64 and at most --connections")
	case c.hashConc < 1 || c.hashConc > 256:
		return errors.New("--hash-concurrency must be 1 to 256")
	case c.hashTime < time.Second || c.hashTime > 10*time.Second:
		return errors.New("--hash-time must be 1s to 10s")
	case c.coldTokens < 10000 || c.coldTokens > 500000:
		return errors.New("--cold-tokens must be 10000 to 500000")
	}
	for _, name := range c.scenarios {
		if !slices.Contains(scenarioNames(), name) {
			return fmt.Errorf("--scenarios: unknown scenario %q (known: %s)", name, strings.Join(scenarioNames(), ", "))
		}
	}
	for _, kv := range c.serverEnv {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("--server-env %q: want NAME=VALUE", kv)
		}
	}
	return nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "baseline" {
		if err := runBaseline(ctx, args[1:], stderr); err != nil {
			fmt.Fprintln(stderr, "gatehouse-bench baseline:", err)
			return exitError
		}
		return exitPass
	}
	c, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitPass
	}
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse-bench:", err)
		return exitError
	}
	rep, err := bench(ctx, c, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse-bench:", err)
		return exitError
	}
	if !rep.print(stdout) {
		return exitMissed
	}
	return exitPass
}
