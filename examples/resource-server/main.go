// Command resource-server is a small API that trusts access tokens issued by
// a gatehouse server, the way any other service of yours would.
//
// It verifies tokens through gatehouse's public keys alone (its JWKS
// document): it shares no secret and no database with gatehouse, and needs
// neither. Keys are fetched at start, again when their Cache-Control max-age
// has passed, and at once (at most every auth.RemoteRetryInterval) when a
// token names a key it does not know yet, so a key rotated on gatehouse is
// picked up without a restart.
//
// Usage:
//
//	resource-server --issuer https://id.example.com [--audience A] [--jwks-url U] [--addr 127.0.0.1:8081] [--rate-limit 600/minute]
//
// Every flag can also be set as RESOURCE_SERVER_<FLAG> (RESOURCE_SERVER_ISSUER,
// RESOURCE_SERVER_JWKS_URL, ...); a flag on the command line wins. The
// routes are listed in routes.go; docs/PROTECT-YOUR-API.md walks through
// the code.
//
// What it cannot know: gatehouse ends sessions (logout, password change,
// admin disable) in its own database, which this service does not read. A
// token of an ended session stays valid here until it expires, at most the
// access-token lifetime gatehouse is configured with (15 minutes by
// default). Keep that lifetime short for services like this one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/reqlog"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "resource-server:", err)
		if errors.As(err, new(usageError)) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a bad command line or environment variable.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// config is the validated configuration.
type config struct {
	issuer   string
	audience string
	jwksURL  string
	addr     string
	userRate ratelimit.Rate
}

// envPrefix is the prefix of the environment variables behind the flags.
const envPrefix = "RESOURCE_SERVER_"

// parseConfig reads the flags, falls back to RESOURCE_SERVER_<FLAG> for
// those not given, and validates the result once, naming the flag at fault.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("resource-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	var rate string
	fs.StringVar(&c.issuer, "issuer", "", "exact iss of the gatehouse tokens to accept, as gatehouse's --issuer (required)")
	fs.StringVar(&c.audience, "audience", "", "aud the tokens must carry, as gatehouse's --audience (default: the issuer, gatehouse's default)")
	fs.StringVar(&c.jwksURL, "jwks-url", "", "gatehouse's public keys: https, or plain http to a loopback address only (default: ISSUER/.well-known/jwks.json)")
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8081", "address to listen on (port 0 picks a free one)")
	fs.StringVar(&rate, "rate-limit", "600/minute", "requests per user over all protected routes, N/second|minute|hour|day")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(env); v != "" && !set[f.Name] && err == nil {
			if e := f.Value.Set(v); e != nil {
				err = usageError{fmt.Sprintf("%s: %v", env, e)}
			}
		}
	})
	if err != nil {
		return nil, err
	}

	u, perr := url.Parse(c.issuer)
	switch {
	case c.issuer == "":
		return nil, usageError{"--issuer is required: the exact iss of gatehouse's tokens, such as https://id.example.com"}
	case perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return nil, usageError{fmt.Sprintf("--issuer %q: want an http(s) URL", c.issuer)}
	}
	if c.audience == "" {
		c.audience = c.issuer
	}
	if c.jwksURL == "" {
		c.jwksURL = strings.TrimSuffix(c.issuer, "/") + "/.well-known/jwks.json"
	}
	if c.userRate, err = ratelimit.ParseRate(rate); err != nil {
		return nil, usageError{fmt.Sprintf("--rate-limit: %v", err)}
	}
	return &c, nil
}

// jwksClock is the clock of the key set: nil means time.Now. The
// end-to-end test steps it past auth.RemoteRetryInterval instead of
// sleeping.
var jwksClock func() time.Time

// shutdownTimeout is how long requests in progress may finish after
// SIGTERM or SIGINT.
const shutdownTimeout = 10 * time.Second

// run starts the service and serves until ctx is done, then shuts down
// gracefully. It prints the address it listens on to stdout and logs JSON
// lines to stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	// reqlog.Redact is the second line of defence: no attribute whose key
	// names a secret (token, authorization, password, ...) is written.
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{ReplaceAttr: reqlog.Redact}))

	// The keys come from gatehouse's JWKS only, never from a token (jku,
	// x5u and jwk headers are ignored). NewRemoteKeySet refuses plain http
	// except to a loopback address: keys fetched over an open network could
	// be swapped, and with them every token.
	keys, err := auth.NewRemoteKeySet(cfg.jwksURL, nil)
	if err != nil {
		return usageError{fmt.Sprintf("--jwks-url %q: %v", cfg.jwksURL, err)}
	}
	keys.SetLogger(logger)
	keys.SetClock(jwksClock)
	// Fetch the keys now to report a wrong URL early. The service starts
	// even when gatehouse is not up yet: until a fetch succeeds every token
	// is refused (fail closed), and fetches are retried as tokens arrive.
	rctx, cancel := context.WithTimeout(ctx, auth.RemoteTimeout)
	if err := keys.Refresh(rctx); err != nil {
		logger.Warn("JWKS not fetched at start; every token is refused until it is", "url", cfg.jwksURL, "error", err.Error())
	}
	cancel()

	// The checks gatehouse itself makes: alg EdDSA only, typ at+jwt, a
	// known kid, the exact issuer and audience, exp required, at most 60 s
	// of clock skew.
	v, err := auth.NewVerifier(keys, cfg.issuer, cfg.audience)
	if err != nil {
		return err
	}
	if err := v.SetLeeway(auth.MaxLeeway); err != nil {
		return err
	}
	h, err := newHandler(v, cfg.userRate, logger)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return usageError{fmt.Sprintf("--addr %q: %v", cfg.addr, err)}
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("listening", "addr", ln.Addr().String(), "issuer", cfg.issuer, "audience", cfg.audience, "jwks_url", cfg.jwksURL)
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}
