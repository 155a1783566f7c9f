// Command gatehouse-cluster runs three `gatehouse serve` processes as one
// deployment (one PostgreSQL schema, one Redis database, one KEK, one
// issuer) and checks what a deployment of several instances needs: a rate
// limit shared across them, refresh-token reuse and session revocation seen
// by all, key rotation picked up by all, one account from concurrent
// sign-ups, no acknowledged write lost when an instance is killed; then it
// measures reads across the three against one instance on SQLite.
//
// It builds nothing: give it a built binary. scripts/cluster-test builds
// both and runs it. See docs/POSTGRES.md.
//
//	go build -o /tmp/gatehouse ./cmd/gatehouse
//	go run ./cmd/gatehouse-cluster --bin /tmp/gatehouse \
//	  --postgres-url 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable' \
//	  --redis-url redis://127.0.0.1:6379/0
//
// The exit status is 0 when every check passes, 1 when one fails and 2 when
// the run could not be made.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitPass   = 0
	exitFailed = 1
	exitError  = 2
)

type config struct {
	bin         string
	postgresURL string
	redisURL    string
	report      string
	workers     int
	duration    time.Duration
	keep        bool
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("gatehouse-cluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: gatehouse-cluster --bin PATH [flags]

Runs three gatehouse instances on one PostgreSQL schema and one Redis
database, checks that they behave as one deployment, and compares their
read throughput with one instance on SQLite. Loopback only.

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.bin, "bin", "", "the gatehouse binary to run")
	fs.StringVar(&c.postgresURL, "postgres-url", getenv("GATEHOUSE_TEST_POSTGRES_URL"), "PostgreSQL server; the run creates a schema there and drops it at the end (default: $GATEHOUSE_TEST_POSTGRES_URL)")
	fs.StringVar(&c.redisURL, "redis-url", getenv("GATEHOUSE_TEST_REDIS_URL"), "Redis server; the run claims an empty database 1-15 and empties it at the end (default: $GATEHOUSE_TEST_REDIS_URL)")
	fs.StringVar(&c.report, "report", "", "also write the report to this file")
	fs.IntVar(&c.workers, "workers", 32, "concurrent readers in the benchmark (1 to 512)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured time of each benchmark (1s to 60s)")
	fs.BoolVar(&c.keep, "keep", false, "keep the working directory with the server logs")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case c.bin == "":
		return nil, errors.New("--bin is required")
	case c.postgresURL == "" || c.redisURL == "":
		return nil, errors.New("--postgres-url and --redis-url are required (or GATEHOUSE_TEST_POSTGRES_URL and GATEHOUSE_TEST_REDIS_URL)")
	case c.workers < 1 || c.workers > 512:
		return nil, errors.New("--workers must be 1 to 512")
	case c.duration < time.Second || c.duration > time.Minute:
		return nil, errors.New("--duration must be 1s to 60s")
	}
	bin, err := filepath.Abs(c.bin)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("--bin: %w", err)
	}
	c.bin = bin
	return c, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	c, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitPass
	}
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse-cluster:", err)
		return exitError
	}
	logf := func(f string, a ...any) {
		fmt.Fprintf(stderr, "%s gatehouse-cluster: %s\n", time.Now().UTC().Format("15:04:05.000"), fmt.Sprintf(f, a...))
	}
	// A bound on the whole run, so that a hung server cannot hold CI.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	rep, err := runChecks(ctx, c, logf)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse-cluster:", err)
		return exitError
	}
	text := rep.String()
	fmt.Fprint(stdout, text)
	if c.report != "" {
		// A report for CI's artefacts: nothing secret in it.
		err := os.MkdirAll(filepath.Dir(c.report), 0o750)
		if err == nil {
			err = os.WriteFile(c.report, []byte(text), 0o600) // #nosec G703 -- the --report path the operator named
		}
		if err != nil {
			fmt.Fprintln(stderr, "gatehouse-cluster: write the report:", err)
			return exitError
		}
	}
	if !rep.pass() {
		return exitFailed
	}
	return exitPass
}

// report is what a run found.
type report struct {
	started time.Time
	elapsed time.Duration
	checks  []check
	cluster benchResult
	single  benchResult
	workers int
}

func (r *report) pass() bool {
	for _, c := range r.checks {
		if !c.ok {
			return false
		}
	}
	return len(r.checks) > 0
}

func (r *report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gatehouse cluster test, %s (%s)\n", r.started.UTC().Format(time.RFC3339), r.elapsed.Round(time.Second))
	fmt.Fprintln(&b, "three instances on one PostgreSQL schema and one Redis database, one KEK and issuer")
	for _, c := range r.checks {
		v := "PASS"
		if !c.ok {
			v = "FAIL"
		}
		fmt.Fprintf(&b, "%s  %s: %s\n", v, c.name, c.detail)
	}
	if r.cluster.elapsed > 0 && r.single.elapsed > 0 {
		fmt.Fprintf(&b, "\nGET /v1/notes/{id}, %d workers, same client and duration (2 CPUs shared by servers, databases and client):\n", r.workers)
		fmt.Fprintf(&b, "  %s\n  %s\n", r.cluster, r.single)
		fmt.Fprintf(&b, "  ratio cluster/single: %.2f× throughput, %.2f× p99\n", r.cluster.rps()/r.single.rps(), float64(r.cluster.p99)/float64(r.single.p99))
	}
	if r.pass() {
		fmt.Fprintln(&b, "result: PASS")
	} else {
		fmt.Fprintln(&b, "result: FAIL")
	}
	return b.String()
}

// runChecks sets up the environment, runs every check and the benchmarks,
// and tears everything down. An error means the run could not be made; a
// failed check is in the report.
func runChecks(ctx context.Context, c *config, logf func(string, ...any)) (_ *report, err error) {
	rep := &report{started: time.Now(), workers: c.workers}
	e, err := newEnv(ctx, c, logf)
	if err != nil {
		return nil, err
	}
	logf("schema %s, Redis database %d, working directory %s", e.schema, e.redisDB, e.dir)
	cl := &cluster{env: e, c: newClient()}
	defer func() {
		for _, in := range cl.in {
			in.stop()
		}
		if err != nil {
			for _, in := range cl.in {
				if in != nil {
					logf("log of %s:\n%s", in.name, in.logTail(15))
				}
			}
		}
		e.close(c.keep)
		rep.elapsed = time.Since(rep.started)
	}()
	// A reads signing keys every second, B and C every 10 s (the
	// default): after a rotation A signs with the new key long before
	// B and C would read it on their own.
	for i, name := range []string{"A", "B", "C"} {
		var extra []string
		if i == 0 {
			extra = []string{"--key-poll-interval", "1s"}
		}
		in, err := e.start(ctx, name, true, extra...)
		if err != nil {
			return nil, err
		}
		cl.in = append(cl.in, in)
	}
	for _, f := range []func(context.Context) check{cl.sharedLimit, cl.refreshReuse, cl.sessionRevoke, cl.keyRotation, cl.oneAccount} {
		ch := f(ctx)
		logf("%s: %v", ch.name, ch.ok)
		rep.checks = append(rep.checks, ch)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}

	// Reads: the three instances, then one on SQLite, alike.
	token, id, err := benchSetup(ctx, cl.c, cl.in[0], "bea")
	if err != nil {
		return nil, err
	}
	logf("benchmark: %d workers over A,B,C for %s", c.workers, c.duration)
	rep.cluster = bench(ctx, "3 instances, PostgreSQL+Redis", cl.in, token, id, c.workers, c.duration)
	single, err := e.start(ctx, "single", false)
	if err != nil {
		return nil, err
	}
	token, id, err = benchSetup(ctx, cl.c, single, "bea")
	if err != nil {
		single.stop()
		return nil, err
	}
	logf("benchmark: %d workers on one SQLite instance for %s", c.workers, c.duration)
	rep.single = bench(ctx, "1 instance, SQLite", []*instance{single}, token, id, c.workers, c.duration)
	single.stop()
	if rep.cluster.other > 0 || rep.single.other > 0 {
		rep.checks = append(rep.checks, check{"benchmark reads all answered 200", false,
			fmt.Sprintf("cluster %d, single %d answers not 200", rep.cluster.other, rep.single.other)})
	}

	// Last, as it leaves two instances.
	ch := cl.crash(ctx, 2)
	logf("%s: %v", ch.name, ch.ok)
	rep.checks = append(rep.checks, ch)
	return rep, nil
}
