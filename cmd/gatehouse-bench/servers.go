package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/internal/loadtest"
)

// process is a server started by the tool: gatehouse or the baseline.
type process struct {
	name    string
	cmd     *exec.Cmd
	args    []string
	url     string
	logPath string
	exited  chan struct{}
	waitErr error
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// start runs bin with args, output to logPath, and waits until GET
// url+/healthz answers 200.
func start(ctx context.Context, name, bin string, args, env []string, addr, logPath string) (*process, error) {
	logFile, err := os.Create(logPath) // #nosec G304 -- a file in the temporary directory bench made
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child holds its own descriptor
	p := &process{name: name, args: args, url: "http://" + addr, logPath: logPath, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...) // #nosec G204 G702 -- the --bin the operator named, or this executable, with our arguments
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.waitErr = p.cmd.Wait(); close(p.exited) }()

	if err := loadtest.WaitHealthy(ctx, p.url, p.exited, 20*time.Second); err != nil {
		p.stop()
		if errors.Is(err, loadtest.ErrExited) {
			err = fmt.Errorf("%w (%v)", err, p.waitErr)
		}
		return nil, fmt.Errorf("%s %w:\n%s", name, err, loadtest.LogTail(logPath, 20))
	}
	return p, nil
}

// stop ends the process gracefully (SIGTERM, then SIGKILL after 10 s).
func (p *process) stop() {
	if p == nil || p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM) // an error means it has exited: <-p.exited returns
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// loopbackAddr is a free 127.0.0.1 address.
func loopbackAddr() (string, error) {
	port, err := loadtest.FreePort()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}

// serverArgs lift every request-rate limit that a single-address benchmark
// would otherwise measure instead of the server: the per-user limit ("*")
// and the per-IP limits of the anonymous routes the scenarios call. The
// access tokens, minted once before the runs, live past the longest run
// (--runs 15 × --duration 60s over every scenario).
var serverArgs = []string{
	"--rate-limit=*=1000000/second",
	"--rate-limit=POST /v1/auth/token=1000000/second",
	"--access-token-ttl=3h",
}

// startGatehouse creates the accounts in a fresh data directory under dir,
// with a KEK file, then starts `gatehouse serve` on a free loopback port.
func startGatehouse(ctx context.Context, c *config, dir string, usernames []string, pw string) (*process, error) {
	bin, err := filepath.Abs(c.bin)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(bin); err != nil { // #nosec G703 -- --bin names the binary to measure: the operator's choice
		return nil, fmt.Errorf("--bin: %w", err)
	}
	kek := make([]byte, 32)
	rand.Read(kek)
	kekPath := filepath.Join(dir, "kek")
	if err := os.WriteFile(kekPath, []byte(base64.StdEncoding.EncodeToString(kek)+"\n"), 0o600); err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, "data")
	env := loadtest.ChildEnv(c.serverEnv)
	for _, u := range usernames {
		create := exec.CommandContext(ctx, bin, "user", "create", "--data-dir", dataDir, "--secret-key-file", kekPath, // #nosec G204 G702 -- runs the --bin the operator named, with our arguments
			"--username", u, "--email", u+"@example.com", "--age", "30")
		create.Env = env
		create.Stdin = strings.NewReader(pw + "\n")
		if out, err := create.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("gatehouse user create: %v: %s", err, bytes.TrimSpace(out))
		}
	}
	addr, err := loopbackAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--addr", addr, "--data-dir", dataDir, "--secret-key-file", kekPath,
		"--hash-concurrency", strconv.Itoa(c.hashConc)}
	args = append(args, serverArgs...)
	args = append(args, c.serverArgs...)
	return start(ctx, "gatehouse", bin, args, env, addr, filepath.Join(dir, "gatehouse.log"))
}

// startBaseline starts this executable in baseline mode.
func startBaseline(ctx context.Context, dir string) (*process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, err := loopbackAddr()
	if err != nil {
		return nil, err
	}
	return start(ctx, "baseline", self, []string{"baseline", "--addr", addr}, loadtest.ChildEnv(nil), addr, filepath.Join(dir, "baseline.log"))
}
