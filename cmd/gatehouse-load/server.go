package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/internal/loadtest"
)

// defaultServerArgs lift the server's request-rate limits, which would
// otherwise answer most of a single-address flood with 429 and measure the
// limiter instead of the login path. Each is passed only when the binary's
// `serve --help` lists its flag, so that the tool works before and after
// the flag exists; --server-arg adds more, --no-default-server-args drops
// these.
var defaultServerArgs = []struct{ flag, arg string }{
	{"rate-limit", "--rate-limit=POST /v1/auth/token=1000000/second"},
}

// server is a gatehouse process started by the tool.
type server struct {
	cmd     *exec.Cmd
	url     string
	args    []string
	dataDir string
	keep    bool
	logPath string
	exited  chan struct{}
	waitErr error
}

// childEnv is the tool's environment without GATEHOUSE_ variables, which
// would silently change the server's configuration, plus the extras.
func childEnv(extra []string) []string { return loadtest.ChildEnv(extra) }

// startServer creates the account in a fresh data directory, then starts
// `gatehouse serve` on a free loopback port and waits for /healthz.
func startServer(ctx context.Context, c *config, usernames []string, pw string, logf func(string, ...any)) (_ *server, err error) {
	bin, err := filepath.Abs(c.bin)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(bin); err != nil { // #nosec G703 -- --bin names the binary to test: the operator's choice
		return nil, fmt.Errorf("--bin: %w", err)
	}
	dir, err := os.MkdirTemp("", "gatehouse-load-")
	if err != nil {
		return nil, err
	}
	s := &server{dataDir: dir, keep: c.keepData, logPath: filepath.Join(dir, "server.log"), exited: make(chan struct{})}
	defer func() {
		if err != nil {
			s.stop(logf)
		}
	}()
	env := childEnv(c.serverEnv)
	dataDir := filepath.Join(dir, "data")

	for _, username := range usernames {
		create := exec.CommandContext(ctx, bin, "user", "create", "--data-dir", dataDir, // #nosec G204 G702 -- runs the --bin the operator named, with our arguments
			"--username", username, "--email", username+"@example.com")
		create.Env = env
		create.Stdin = strings.NewReader(pw + "\n")
		if out, err := create.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("gatehouse user create: %v: %s", err, bytes.TrimSpace(out))
		}
	}

	help, _ := exec.CommandContext(ctx, bin, "serve", "--help").CombinedOutput() // #nosec G204 G702 -- runs the --bin the operator named
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.args = []string{"--addr", addr, "--data-dir", dataDir,
		"--hash-concurrency", strconv.Itoa(c.hashConc), "--hash-queue", strconv.Itoa(c.hashQueue)}
	if !c.noDefaultArgs {
		for _, d := range defaultServerArgs {
			if bytes.Contains(help, []byte("-"+d.flag+" ")) || bytes.Contains(help, []byte("-"+d.flag+"\n")) {
				s.args = append(s.args, d.arg)
			} else {
				logf("the server has no --%s flag; not lifting that limit", d.flag)
			}
		}
	}
	s.args = append(s.args, c.serverArgs...)

	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child holds its own descriptor

	s.cmd = exec.Command(bin, append([]string{"serve"}, s.args...)...) // #nosec G204 G702 -- runs the --bin the operator named, with our arguments
	s.cmd.Env = env
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the server: %w", err)
	}
	go func() { s.waitErr = s.cmd.Wait(); close(s.exited) }()
	s.url = "http://" + addr
	logf("started %s serve %s (pid %d)", bin, strings.Join(s.args, " "), s.cmd.Process.Pid)

	// Wait for /healthz, at most 20 s.
	deadline := time.Now().Add(20 * time.Second)
	hc := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("the server exited at start (%v):\n%s", s.waitErr, s.logTail(20))
		case <-ctx.Done():
			return nil, ctx.Err()
		default:
		}
		if resp, err := hc.Get(s.url + "/healthz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the server did not answer /healthz within 20 s:\n%s", s.logTail(20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) { return loadtest.FreePort() }

// stop ends the server gracefully (SIGTERM, then SIGKILL after 10 s) and
// removes the data directory unless asked to keep it.
func (s *server) stop(logf func(string, ...any)) {
	if s.cmd != nil && s.cmd.Process != nil {
		select {
		case <-s.exited:
		default:
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.exited:
			case <-time.After(10 * time.Second):
				logf("the server did not stop within 10 s of SIGTERM; killing it")
				_ = s.cmd.Process.Kill()
				<-s.exited
			}
		}
	}
	if s.keep {
		logf("kept the data directory and server log in %s", s.dataDir)
		return
	}
	_ = os.RemoveAll(s.dataDir) // #nosec G703 -- the temporary directory startServer made
}

// logTail returns the last n lines of the server log.
func (s *server) logTail(n int) string {
	b, _ := os.ReadFile(s.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// The measurements below are internal/loadtest's (shared with
// cmd/gatehouse-bench), under the names this tool's report uses.

// rssSampler reads a process's resident memory every interval.
type rssSampler struct{ s *loadtest.RSSSampler }

// rssResult is what the sampler saw, in KiB.
type rssResult struct {
	samples   int
	maxRSS    int64 // the highest VmRSS sample
	hwm       int64 // VmHWM at the end: the kernel's own peak
	finalRSS  int64
	readError error
}

func startRSS(pid int, every time.Duration) (*rssSampler, error) {
	s, err := loadtest.StartRSS(pid, every)
	if err != nil {
		return nil, err
	}
	return &rssSampler{s}, nil
}

// stop takes a last sample, stops sampling and returns the result; later
// calls return the same.
func (r *rssSampler) stop() rssResult {
	x := r.s.Stop()
	return rssResult{samples: x.Samples, maxRSS: x.Max, hwm: x.HWM, finalRSS: x.Final, readError: x.Err}
}

func parseStatus(r io.Reader) (map[string]int64, error) { return loadtest.ParseStatus(r) }

// procStat is a process's CPU time and page faults, from /proc/PID/stat.
type procStat struct {
	user, sys time.Duration
	minFaults int64
}

func processStat(pid int) (procStat, error) {
	c, err := loadtest.ProcessCPU(pid)
	return procStat{user: c.User, sys: c.Sys, minFaults: c.MinorFaults}, err
}

func (a procStat) sub(b procStat) procStat {
	return procStat{user: a.user - b.user, sys: a.sys - b.sys, minFaults: a.minFaults - b.minFaults}
}

// machineStat is the CPU time of the whole machine, from /proc/stat.
type machineStat struct {
	busy, steal time.Duration // busy includes steal
}

func readMachineStat() (machineStat, error) {
	m, err := loadtest.MachineCPU()
	return machineStat{busy: m.Busy, steal: m.Steal}, err
}
