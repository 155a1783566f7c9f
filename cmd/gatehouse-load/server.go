package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
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
func childEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// startServer creates the account in a fresh data directory, then starts
// `gatehouse serve` on a free loopback port and waits for /healthz.
func startServer(ctx context.Context, c *config, usernames []string, pw string, logf func(string, ...any)) (_ *server, err error) {
	bin, err := filepath.Abs(c.bin)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(bin); err != nil {
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
		create := exec.CommandContext(ctx, bin, "user", "create", "--data-dir", dataDir,
			"--username", username, "--email", username+"@example.com")
		create.Env = env
		create.Stdin = strings.NewReader(pw + "\n")
		if out, err := create.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("gatehouse user create: %v: %s", err, bytes.TrimSpace(out))
		}
	}

	help, _ := exec.CommandContext(ctx, bin, "serve", "--help").CombinedOutput()
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
	s.cmd = exec.Command(bin, append([]string{"serve"}, s.args...)...)
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
			resp.Body.Close()
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

// freePort asks the kernel for a free loopback port. Another process could
// take it before the server binds it; the server then fails at start and
// says so.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// stop ends the server gracefully (SIGTERM, then SIGKILL after 10 s) and
// removes the data directory unless asked to keep it.
func (s *server) stop(logf func(string, ...any)) {
	if s.cmd != nil && s.cmd.Process != nil {
		select {
		case <-s.exited:
		default:
			s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.exited:
			case <-time.After(10 * time.Second):
				logf("the server did not stop within 10 s of SIGTERM; killing it")
				s.cmd.Process.Kill()
				<-s.exited
			}
		}
	}
	if s.keep {
		logf("kept the data directory and server log in %s", s.dataDir)
		return
	}
	os.RemoveAll(s.dataDir)
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

// rssSampler reads a process's resident memory every interval.
type rssSampler struct {
	pid   int
	done  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
	mu    sync.Mutex
	res   rssResult
	final rssResult
}

// rssResult is what the sampler saw, in KiB.
type rssResult struct {
	samples   int
	maxRSS    int64 // the highest VmRSS sample
	hwm       int64 // VmHWM at the end: the kernel's own peak
	finalRSS  int64
	readError error
}

func startRSS(pid int, every time.Duration) (*rssSampler, error) {
	if _, err := readStatus(pid); err != nil {
		return nil, fmt.Errorf("sample the server's memory: %w", err)
	}
	r := &rssSampler{pid: pid, done: make(chan struct{})}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			r.sample()
			select {
			case <-r.done:
				return
			case <-t.C:
			}
		}
	}()
	return r, nil
}

func (r *rssSampler) sample() {
	st, err := readStatus(r.pid)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.res.readError = err
		return
	}
	r.res.samples++
	r.res.maxRSS = max(r.res.maxRSS, st["VmRSS"])
	r.res.hwm = st["VmHWM"]
	r.res.finalRSS = st["VmRSS"]
}

// stop takes a last sample, stops sampling and returns the result; later
// calls return the same.
func (r *rssSampler) stop() rssResult {
	r.once.Do(func() {
		close(r.done)
		r.wg.Wait()
		r.sample()
		r.mu.Lock()
		r.final = r.res
		r.mu.Unlock()
	})
	return r.final
}

// readStatus reads the kB fields of /proc/PID/status.
func readStatus(pid int) (map[string]int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseStatus(f)
}

func parseStatus(r io.Reader) (map[string]int64, error) {
	out := map[string]int64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 2 && f[1] == "kB" {
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				out[k] = n
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if _, ok := out["VmRSS"]; !ok {
		return nil, errors.New("no VmRSS in /proc/PID/status")
	}
	return out, nil
}

// procStat is a process's CPU time and page faults, from /proc/PID/stat.
type procStat struct {
	user, sys time.Duration
	minFaults int64
}

// processStat reads /proc/PID/stat: minflt (field 10), utime and stime
// (fields 14 and 15, in clock ticks of 1/100 s, the value of USER_HZ on
// every Linux architecture Go supports).
func processStat(pid int) (procStat, error) {
	if pid == 0 {
		return procStat{}, errors.New("no pid")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// f[0] is field 3.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errors.New("malformed stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return procStat{}, errors.New("malformed stat")
	}
	minflt, err1 := strconv.ParseInt(f[7], 10, 64)
	utime, err2 := strconv.ParseInt(f[11], 10, 64)
	stime, err3 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procStat{}, errors.New("malformed stat")
	}
	const tick = 10 * time.Millisecond
	return procStat{user: time.Duration(utime) * tick, sys: time.Duration(stime) * tick, minFaults: minflt}, nil
}

func (a procStat) sub(b procStat) procStat {
	return procStat{user: a.user - b.user, sys: a.sys - b.sys, minFaults: a.minFaults - b.minFaults}
}

// machineStat is the CPU time of the whole machine, from the first line of
// /proc/stat, in clock ticks of 1/100 s.
type machineStat struct {
	busy, steal time.Duration // busy includes steal
}

func readMachineStat() (machineStat, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineStat{}, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return machineStat{}, errors.New("malformed /proc/stat")
	}
	var v [8]int64 // user nice system idle iowait irq softirq steal
	for i := range v {
		n, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return machineStat{}, errors.New("malformed /proc/stat")
		}
		v[i] = n
	}
	const tick = 10 * time.Millisecond
	busy := v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
	return machineStat{busy: time.Duration(busy) * tick, steal: time.Duration(v[7]) * tick}, nil
}
