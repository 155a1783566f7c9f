package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/loadtest"
)

// highLimits lift every rate limit far above what the checks send, except
// sign-up: POST /v1/users keeps 5/minute for the shared-limit check, and
// every other registration comes from a source address of its own (see
// client.from). The general per-user limit is lifted too, so that the
// benchmark measures the API and not the limiter.
const highLimits = "POST /v1/users=5/minute,POST /v1/auth/token=1000000/second,POST /v1/auth/revoke=1000000/second," +
	"POST /v1/auth/session=1000000/second,*=1000000/second"

// issuer is the one issuer every instance shares, as a deployment behind one
// name would: a token from any instance is valid on all.
const issuer = "http://gatehouse-cluster.test"

// env is what the instances share: a PostgreSQL schema, a Redis database,
// a key-encryption key, and a working directory.
type env struct {
	bin      string
	dir      string
	kekFile  string
	dbURL    string // with search_path set to the schema
	baseDB   string
	schema   string
	redisURL string // with the database number chosen
	redisDB  int
	logf     func(string, ...any)
}

// newEnv creates the schema, claims an empty Redis database and writes a
// KEK. close undoes all three.
func newEnv(ctx context.Context, c *config, logf func(string, ...any)) (_ *env, err error) {
	dir, err := os.MkdirTemp("", "gatehouse-cluster-")
	if err != nil {
		return nil, err
	}
	e := &env{bin: c.bin, dir: dir, baseDB: c.postgresURL, redisDB: -1, logf: logf}
	defer func() {
		if err != nil {
			e.close(c.keep)
		}
	}()
	// The KEK: 32 random bytes, base64, readable by the owner only; every
	// instance and the keys CLI get the same file.
	kek := make([]byte, 32)
	rand.Read(kek)
	e.kekFile = filepath.Join(dir, "kek")
	if err := os.WriteFile(e.kekFile, []byte(base64.StdEncoding.EncodeToString(kek)+"\n"), 0o600); err != nil {
		return nil, err
	}

	// A schema of our own, as internal/postgres/pgtest makes for tests,
	// selected through search_path in the URL: the run sees no other rows
	// and leaves none behind.
	b := make([]byte, 6)
	rand.Read(b)
	schema := "gatehouse_cluster_" + hex.EncodeToString(b)
	if err := pgExec(ctx, c.postgresURL, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return nil, fmt.Errorf("PostgreSQL at --postgres-url: %w", err)
	}
	e.schema = schema
	// Three instances, a CLI and PostgreSQL's own limit (100 by default,
	// shared with whatever else runs): 10 connections each are plenty.
	e.dbURL = withParams(c.postgresURL, "search_path", schema, "pool_max_conns", "10", "application_name", "gatehouse-cluster")

	db, err := claimRedisDB(ctx, c.redisURL)
	if err != nil {
		return nil, err
	}
	e.redisDB = db
	u, err := url.Parse(c.redisURL)
	if err != nil {
		return nil, err
	}
	u.Path = "/" + strconv.Itoa(db)
	e.redisURL = u.String()
	return e, nil
}

// redisClaimKey marks a Redis database as taken by a run of this tool.
const redisClaimKey = "gatehouse-cluster:claimed"

// claimRedisDB picks an empty Redis database (15 down to 1; 0 is the
// tests' own) and marks it, so that rate-limit budgets and login back-off
// counts start from nothing and no other user of the server sees ours.
// gatehouse's key prefixes are fixed, so a database of our own is the way
// to get a fresh namespace. Pub/sub channels are not per database: other
// gatehouse processes on the same server receive our revocation notices,
// which name sessions they do not have.
func claimRedisDB(ctx context.Context, rawURL string) (int, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return 0, fmt.Errorf("--redis-url: %w", err)
	}
	for db := 15; db >= 1; db-- {
		o := *opt
		o.DB = db
		rc := redis.NewClient(&o)
		ok, err := rc.SetNX(ctx, redisClaimKey, strconv.Itoa(os.Getpid()), time.Hour).Result()
		if err == nil && ok {
			// Empty apart from our mark? Otherwise someone else uses it.
			if n, err := rc.DBSize(ctx).Result(); err == nil && n == 1 {
				_ = rc.Close()
				return db, nil
			}
			rc.Del(ctx, redisClaimKey)
		}
		_ = rc.Close()
		if err != nil {
			return 0, fmt.Errorf("redis at --redis-url: %w", err)
		}
	}
	return 0, errors.New("redis at --redis-url: no empty database among 1-15")
}

// close drops the schema and empties the Redis database.
func (e *env) close(keep bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if e.schema != "" {
		if err := pgExec(ctx, e.baseDB, "DROP SCHEMA "+pgx.Identifier{e.schema}.Sanitize()+" CASCADE"); err != nil {
			e.logf("drop schema %s: %v", e.schema, err)
		}
	}
	if e.redisDB > 0 {
		if opt, err := redis.ParseURL(e.redisURL); err == nil {
			rc := redis.NewClient(opt)
			// The database was empty when we claimed it: everything in it
			// is ours.
			if err := rc.FlushDB(ctx).Err(); err != nil {
				e.logf("flush Redis database %d: %v", e.redisDB, err)
			}
			_ = rc.Close()
		}
	}
	if keep {
		e.logf("kept the working directory (server logs) in %s", e.dir)
		return
	}
	_ = os.RemoveAll(e.dir) // #nosec G703 -- our own temporary directory
}

func pgExec(ctx context.Context, rawURL, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, rawURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// withParams appends query parameters to a PostgreSQL URL, percent-encoded
// as libpq reads them ("+" is not a space to libpq).
func withParams(rawURL string, params ...string) string {
	for i := 0; i+1 < len(params); i += 2 {
		sep := "?"
		if strings.Contains(rawURL, "?") {
			sep = "&"
		}
		rawURL += sep + url.PathEscape(params[i]) + "=" + strings.ReplaceAll(url.QueryEscape(params[i+1]), "+", "%20")
	}
	return rawURL
}

// instance is one `gatehouse serve` process.
type instance struct {
	name    string
	url     string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error
}

// start runs `gatehouse serve` on a free loopback port and waits for
// /healthz. shared: on the cluster's PostgreSQL and Redis; otherwise on
// SQLite in a data directory of its own.
func (e *env) start(ctx context.Context, name string, shared bool, extra ...string) (*instance, error) {
	port, err := loadtest.FreePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	dataDir := filepath.Join(e.dir, name)
	args := []string{"serve", "--addr", addr, "--data-dir", dataDir, "--secret-key-file", e.kekFile,
		"--issuer", issuer, "--rate-limit", highLimits, "--log-format", "json", "--hash-concurrency", "1"}
	if shared {
		// --refresh-grace 0: a rotated refresh token presented again is
		// reuse at once, so the replay check needs no waiting.
		args = append(args, "--database-url", e.dbURL, "--redis-url", e.redisURL, "--refresh-grace", "0")
	}
	args = append(args, extra...)
	in := &instance{name: name, url: "http://" + addr, logPath: filepath.Join(e.dir, name+".log"), exited: make(chan struct{})}
	logFile, err := os.Create(in.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()                 // the child holds its own descriptor
	in.cmd = exec.Command(e.bin, args...) // #nosec G204 G702 -- the gatehouse binary the operator named, with our arguments
	in.cmd.Env = loadtest.ChildEnv(nil)
	in.cmd.Stdout, in.cmd.Stderr = logFile, logFile
	if err := in.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { in.waitErr = in.cmd.Wait(); close(in.exited) }()
	if err := loadtest.WaitHealthy(ctx, in.url, in.exited, 30*time.Second); err != nil {
		in.stop()
		if errors.Is(err, loadtest.ErrExited) {
			err = fmt.Errorf("%w (%v)", err, in.waitErr)
		}
		return nil, fmt.Errorf("%s %w:\n%s", name, err, in.logTail(20))
	}
	e.logf("%s listening on %s (pid %d)", name, in.url, in.cmd.Process.Pid)
	return in, nil
}

// kill ends the process at once, as a crash or an OOM kill would: no
// graceful shutdown, no flushing.
func (in *instance) kill() {
	_ = in.cmd.Process.Signal(syscall.SIGKILL)
	<-in.exited
}

// stop ends the process gracefully (SIGTERM, then SIGKILL after 10 s).
func (in *instance) stop() {
	if in == nil || in.cmd == nil || in.cmd.Process == nil {
		return
	}
	select {
	case <-in.exited:
		return
	default:
	}
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.exited:
	case <-time.After(10 * time.Second):
		_ = in.cmd.Process.Kill()
		<-in.exited
	}
}

func (in *instance) logTail(n int) string { return loadtest.LogTail(in.logPath, n) }

// rotateKey runs `gatehouse keys rotate` on the shared database and returns
// the new kid.
func (e *env) rotateKey(ctx context.Context) (string, error) {
	cmd := exec.CommandContext( // #nosec G204 -- the gatehouse binary the operator named, with our arguments
		ctx, e.bin, "keys", "rotate", "--database-url", e.dbURL,
		"--secret-key-file", e.kekFile, "--data-dir", filepath.Join(e.dir, "cli"))
	cmd.Env = loadtest.ChildEnv(nil)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("gatehouse keys rotate: %v: %s", err, bytes.TrimSpace(out))
	}
	// "created signing key KID, active from ..."
	f := strings.Fields(string(out))
	for i := 0; i+3 < len(f); i++ {
		if f[i] == "created" && f[i+1] == "signing" && f[i+2] == "key" {
			return strings.TrimSuffix(f[i+3], ","), nil
		}
	}
	return "", fmt.Errorf("gatehouse keys rotate: no kid in its output: %s", bytes.TrimSpace(out))
}
