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
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/clientip"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/revocation"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/throttle"
	"github.com/gatehouse/gatehouse/internal/transport"
	"github.com/gatehouse/gatehouse/ratelimit"
)

// serveConfig is the validated configuration of `gatehouse serve`.
type serveConfig struct {
	storeFlags
	tlsFlags
	addr            string
	issuer          string
	audience        string
	accessTokenTTL  time.Duration
	passwordMinLen  int
	hashConcurrency int
	hashQueue       int
	keyPoll         time.Duration
	refreshGrace    time.Duration
	rateLimits      rateLimitFlag
	trustedProxies  string
	refreshIdleTTL  time.Duration
	refreshMaxTTL   time.Duration
	auditRetention  time.Duration
	shutdownTimeout time.Duration
	logLevel        string
	logFormat       string
	// behindProxy says a reverse proxy in front ends TLS (see posture.go).
	behindProxy bool
	// docs serves the OpenAPI document at /openapi.json and the
	// interactive reference at /docs (Swagger UI, embedded). docsPublic allows
	// it on an exposed server (posture.go).
	docs       bool
	docsPublic bool
	// metricsAddr is the address of the separate metrics listener; "":
	// none (the default).
	metricsAddr string

	flags   *flag.FlagSet     // for `config check`
	sources map[string]string // flag name → fromFlag or fromEnv
}

func parseServe(args []string, getenv func(string) string, stderr io.Writer) (*serveConfig, error) {
	return parseServeAs("serve", "serve [flags]", args, getenv, stderr)
}

// parseServeAs parses and validates serve's flags for the command name
// (serve, or config check, which takes the same flags).
func parseServeAs(name, synopsis string, args []string, getenv func(string) string, stderr io.Writer) (*serveConfig, error) {
	c := &serveConfig{}
	fs := newFlagSet(name, synopsis, stderr)
	c.storeFlags.register(fs)
	c.tlsFlags.register(fs)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&c.issuer, "issuer", "", "exact iss of issued tokens, an http(s) URL (default: http://ADDR, or https://ADDR with TLS, https://DOMAIN with --acme-domain)")
	fs.StringVar(&c.audience, "audience", "", "aud of issued tokens (default: the issuer)")
	fs.DurationVar(&c.accessTokenTTL, "access-token-ttl", 15*time.Minute, "lifetime of access tokens (1m to 24h)")
	fs.IntVar(&c.passwordMinLen, "password-min-length", 15, "minimum password length in characters (8 to 64; NIST SP 800-63B-4)")
	fs.IntVar(&c.hashConcurrency, "hash-concurrency", 0, "password hashes computed at once (default: the number of CPUs)")
	fs.IntVar(&c.hashQueue, "hash-queue", 0, "password hashes allowed to wait for a slot before 503 (default: 16 per hashing slot)")
	fs.DurationVar(&c.keyPoll, "key-poll-interval", 10*time.Second, "how often signing keys are reloaded from the store (1s to 5m)")
	fs.Var(&c.rateLimits, "rate-limit", "per-route limit 'METHOD /path=N/second|minute|hour|day' (repeatable; '*=N/period' sets the general per-user limit); keyed by client IP on anonymous routes, by user on authenticated ones")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", "", "comma-separated CIDRs of proxies whose X-Forwarded-For is believed (default: none; the client IP is the socket's)")
	fs.DurationVar(&c.refreshGrace, "refresh-grace", 5*time.Second, "how long a rotated refresh token may be retried and get the same answer (0 to 1m; 0 treats any retry as reuse)")
	fs.DurationVar(&c.refreshIdleTTL, "refresh-idle-ttl", 14*24*time.Hour, "a session ends after this long without a refresh (1h to 365 days)")
	fs.DurationVar(&c.auditRetention, "audit-retention", 400*24*time.Hour, "audit events older than this are pruned daily; the chain stays verifiable from an anchor (30 days to 10 years)")
	fs.DurationVar(&c.refreshMaxTTL, "refresh-max-ttl", 90*24*time.Hour, "a session ends this long after login, whatever its use (1h to 365 days, at least --refresh-idle-ttl)")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 8*time.Second, "how long in-flight requests may finish after SIGTERM")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "json", "json or text")
	fs.BoolVar(&c.behindProxy, "behind-proxy", false, "a reverse proxy in front ends TLS: allows plain HTTP on a non-loopback --addr (needs --trusted-proxies and an https:// --issuer; the proxy must send HSTS)")
	fs.BoolVar(&c.docs, "docs", false, "serve the OpenAPI document at /openapi.json and the interactive reference at /docs (embedded Swagger UI)")
	fs.BoolVar(&c.docsPublic, "docs-public", false, "allow --docs on a non-loopback --addr or with --behind-proxy")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "address of a separate listener serving Prometheus metrics at /metrics, e.g. 127.0.0.1:9090 (default: none; keep it on loopback or a private interface)")
	sources, err := parseFlagSources(fs, args, getenv)
	if err != nil {
		return nil, err
	}
	c.flags, c.sources = fs, sources
	return c, c.validate()
}

// validate refuses a bad configuration at start, naming the flag.
func (c *serveConfig) validate() error {
	if c.auditRetention < 30*24*time.Hour || c.auditRetention > 10*366*24*time.Hour {
		return usageError{"--audit-retention must be between 720h (30 days) and 87840h (10 years)"}
	}
	if _, _, err := net.SplitHostPort(c.addr); err != nil {
		return usageError{fmt.Sprintf("--addr %q: %v", c.addr, err)}
	}
	if c.issuer != "" {
		u, err := url.Parse(c.issuer)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return usageError{"--issuer must be an http(s) URL without query or fragment (RFC 8414 §2)"}
		}
	}
	if c.accessTokenTTL < time.Minute || c.accessTokenTTL > 24*time.Hour {
		return usageError{"--access-token-ttl must be between 1m and 24h"}
	}
	// Below 8 is a posture refusal (posture.go), so that `config check`
	// lists it with the other risks.
	if c.passwordMinLen > 64 {
		return usageError{"--password-min-length must be between 8 and 64 (NIST SP 800-63B-4 §3.1.1.2 requires at least 8)"}
	}
	if c.hashConcurrency < 0 || c.hashConcurrency > 256 || c.hashQueue < 0 || c.hashQueue > 100000 {
		return usageError{"--hash-concurrency must be 0..256 and --hash-queue 0..100000"}
	}
	if _, err := clientip.ParseCIDRs(c.trustedProxies); c.trustedProxies != "" && err != nil {
		return usageError{fmt.Sprintf("--trusted-proxies: %v", err)}
	}
	if c.refreshGrace < 0 || c.refreshGrace > time.Minute {
		return usageError{"--refresh-grace must be between 0 and 1m"}
	}
	if c.refreshIdleTTL < time.Hour || c.refreshMaxTTL > 365*24*time.Hour || c.refreshIdleTTL > c.refreshMaxTTL {
		return usageError{"--refresh-idle-ttl and --refresh-max-ttl must be between 1h and 365 days, idle no longer than max"}
	}
	if c.keyPoll < time.Second || c.keyPoll > 5*time.Minute {
		return usageError{"--key-poll-interval must be between 1s and 5m"}
	}
	if c.shutdownTimeout <= 0 || c.shutdownTimeout > time.Minute {
		return usageError{"--shutdown-timeout must be between 0 and 1m"}
	}
	if err := c.tlsFlags.validate(c.addr); err != nil {
		return err
	}
	if c.behindProxy {
		// --behind-proxy is a statement about the network: TLS ends at a
		// proxy that forwards plain HTTP here. Without the proxies'
		// addresses every client would share the proxy's IP for rate
		// limits and throttling; with TLS here there is nothing to say.
		if c.trustedProxies == "" {
			return usageError{"--behind-proxy needs --trusted-proxies: the proxies' addresses (CIDRs), so that client IPs come from their X-Forwarded-For instead of the proxy's socket"}
		}
		if c.tlsOn() {
			return usageError{"--behind-proxy means TLS ends at the proxy: drop it when gatehouse serves HTTPS itself (--tls-cert, --dev-tls, --acme-domain)"}
		}
		// The default issuer would be http://ADDR, the proxy-side
		// address: tokens and the RFC 8414 metadata would name it, and
		// clients would send passwords to a plain-HTTP URL.
		if u, err := url.Parse(c.issuer); c.issuer == "" || err != nil || u.Scheme != "https" {
			return usageError{"--behind-proxy needs --issuer set to the https:// URL clients reach the proxy at (RFC 8414 §2: the issuer is an https URL)"}
		}
	}
	if c.docsPublic && !c.docs {
		return usageError{"--docs-public only applies with --docs"}
	}
	if c.metricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.metricsAddr); err != nil {
			return usageError{fmt.Sprintf("--metrics-addr %q: %v", c.metricsAddr, err)}
		}
		if c.metricsAddr == c.addr || c.metricsAddr == c.httpRedirectAddr {
			return usageError{"--metrics-addr must differ from --addr and --http-redirect-addr: metrics get a listener of their own"}
		}
	}
	return nil
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parseServe(args, getenv, stderr)
	if err != nil {
		return err
	}
	// Before anything is created or listens: a refused configuration
	// leaves no development key or database behind.
	if err := refuseUnsafe(c.posture(getenv)); err != nil {
		return err
	}
	log, err := newLogger(stderr, c.logFormat, c.logLevel)
	if err != nil {
		return err
	}
	if c.docs {
		log.Info("--docs: serving the OpenAPI document at /openapi.json and the interactive reference at /docs")
	}
	if c.behindProxy {
		log.Info("behind a TLS-terminating proxy (--behind-proxy): the proxy must serve HTTPS only and send Strict-Transport-Security", "trusted_proxies", c.trustedProxies)
	}
	kek, err := c.loadKEK(getenv, log)
	if err != nil {
		return err
	}
	store, err := c.openStore()
	if err != nil {
		return err
	}
	defer store.Close()
	if applied, err := store.Migrate(ctx); err != nil {
		return err
	} else if len(applied) > 0 {
		log.Info("applied migrations", "migrations", applied)
	}
	ring := keys.NewRing(store, kek, nil)
	// A superseded key stays published until every token it signed has
	// expired: the access-token lifetime plus the 60 s of allowed skew.
	ring.SetRetireAfter(c.accessTokenTTL + time.Minute)
	// A token signed with a key this instance has not polled yet (another
	// instance rotated, or read `keys rotate` first) reloads the ring at
	// once instead of failing until the next poll; at most once a second.
	ring.SetReloadOnUnknown(time.Second, func(err error) { log.Error("reload signing keys for an unknown kid", "error", err.Error()) })
	revs := revocation.New(store, c.accessTokenTTL+time.Minute, nil)
	if err := revs.Sync(ctx); err != nil {
		return err
	}
	if created, err := ring.Ensure(ctx); err != nil {
		return err
	} else if created {
		kid, _, _ := ring.Signer()
		log.Info("created the first signing key", "kid", kid)
	}

	fe, err := c.tlsFlags.newFrontEnd(c.dataDir, store, kek, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	fe.listening(ln.Addr())
	var redirectLn net.Listener
	if fe.redirect != nil {
		if redirectLn, err = net.Listen("tcp", c.httpRedirectAddr); err != nil {
			_ = ln.Close()
			return fmt.Errorf("--http-redirect-addr: %w", err)
		}
	}
	var metricsLn net.Listener
	if c.metricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", c.metricsAddr); err != nil {
			_ = ln.Close()
			if redirectLn != nil {
				_ = redirectLn.Close()
			}
			return fmt.Errorf("--metrics-addr: %w", err)
		}
	}
	closeListeners := func() {
		_ = ln.Close()
		if redirectLn != nil {
			_ = redirectLn.Close()
		}
		if metricsLn != nil {
			_ = metricsLn.Close()
		}
	}
	issuer := c.issuer
	if issuer == "" {
		issuer = fe.issuer(ln.Addr())
	}
	audience := c.audience
	if audience == "" {
		audience = issuer
	}
	var proxies []netip.Prefix
	if c.trustedProxies != "" {
		proxies, _ = clientip.ParseCIDRs(c.trustedProxies)
		log.Warn("trusting X-Forwarded-For from these proxies; anyone who can connect from them chooses the client IP", "trusted_proxies", c.trustedProxies)
	}
	conc, queue := c.hashConcurrency, c.hashQueue
	if conc == 0 {
		conc = runtime.NumCPU()
	}
	if queue == 0 {
		queue = 16 * conc
	}
	hasher := &password.Hasher{Params: password.DefaultParams, Limiter: password.NewLimiter(conc, queue)}
	// Metrics are collected only when something serves them.
	var apiMetrics server.Metrics
	var mets *metrics.Metrics
	if metricsLn != nil {
		mets = metrics.New(hasher.Limiter)
		apiMetrics = mets
	}
	var rateStore ratelimit.Store
	var loginThrottle *throttle.Throttle // nil: the server makes an in-memory one
	var rc *redis.Client
	if c.redisURL != "" {
		if rc, err = c.openRedis(ctx); err != nil {
			return err
		}
		defer rc.Close()
		rateStore = ratelimit.NewRedisStore(rc, "gatehouse:ratelimit:")
		// Login back-off counts are shared too; a Redis error fails
		// closed (the attempt is refused as throttled).
		loginThrottle, err = throttle.New(throttle.Config{
			Store:   throttle.NewRedisStore(rc, "gatehouse:throttle:", throttle.RedisOptions{}),
			OnError: func(err error) { log.Error("login throttle store; refusing the attempt", "error", err.Error()) },
		})
		if err != nil {
			return err
		}
		log.Info("rate limits, login back-off and revocations are shared through Redis")
	}
	api, err := server.NewServer(server.Deps{
		Config: server.Config{
			Issuer:         issuer,
			Audience:       audience,
			AccessTokenTTL: c.accessTokenTTL,
			PasswordMinLen: c.passwordMinLen,
			RefreshGrace:   c.refreshGrace,
			RateLimits:     c.rateLimits.rules,
			UserRate:       c.rateLimits.user,
			TrustedProxies: proxies,
			RefreshIdleTTL: c.refreshIdleTTL,
			RefreshMaxTTL:  c.refreshMaxTTL,
			TrustedOrigins: c.exactOrigins(),
			HSTS:           c.hsts(),
			Docs:           c.docs,
		},
		Store:     store,
		RateStore: rateStore,
		Keys:      ring,
		Hasher:    hasher,
		KEK:       kek,
		// Sessions ended by other processes on the same store are
		// picked up by the poll below.
		Revocations: revs,
		Throttle:    loginThrottle,
		Logger:      log,
		Metrics:     apiMetrics,
	})
	if err != nil {
		closeListeners()
		return err
	}
	handler, err := c.tlsFlags.wrap(api)
	if err != nil {
		closeListeners()
		return err
	}
	srv := &http.Server{
		Handler: handler,
		// HTTPS with HTTP/2 when a certificate source is configured
		// (see internal/transport.ServerConfig); nil: plain HTTP.
		TLSConfig: fe.tlsConfig,
		// Slowloris and slow-body defence; WriteTimeout leaves room for a
		// queued password hash.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	go ring.Poll(bg, c.keyPoll, func(err error) { log.Error("reload signing keys", "error", err.Error()) })
	go revs.Run(bg, time.Second, func(err error) { log.Error("sync revoked sessions", "error", err.Error()) })
	if rc != nil {
		// Revocations reach the other instances at once through Redis
		// pub/sub; the poll above is the fallback.
		revs.SetPublisher(revocation.Publisher(bg, rc, time.Second, func(err error) { log.Error("publish revoked session", "error", err.Error()) }))
		go revs.Subscribe(bg, rc, func(err error) { log.Error("revoked sessions subscription", "error", err.Error()) })
	}
	if as, ok := store.(gatehouse.AuditStore); ok {
		go pruneAudit(bg, as, kek, c.auditRetention, log)
	}

	if rl := fe.reloader; rl != nil {
		// New certificate files are picked up by polling and on SIGHUP;
		// only new handshakes use them, so no connection is dropped.
		logReload := func(how string) func(bool, error) {
			return func(changed bool, err error) {
				switch {
				case err != nil:
					log.Error("certificate files do not load; still serving the previous certificate", "trigger", how, "error", err.Error())
				case changed:
					leaf := rl.Leaf()
					log.Info("reloaded the TLS certificate", "trigger", how, "subject", leaf.Subject.String(),
						"not_after", leaf.NotAfter.UTC().Format(time.RFC3339), "fingerprint_sha256", transport.Fingerprint(leaf))
				default:
					log.Info("TLS certificate files unchanged", "trigger", how, "fingerprint_sha256", transport.Fingerprint(rl.Leaf()))
				}
			}
		}
		go rl.Watch(bg, certReloadInterval, logReload("file change"))
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for {
				select {
				case <-bg.Done():
					return
				case <-hup:
					changed, err := rl.Reload()
					logReload("SIGHUP")(changed, err)
				}
			}
		}()
	}

	errc := make(chan error, 3) // one per server
	scheme := "http"
	if fe.tlsConfig != nil {
		scheme = "https"
		go func() { errc <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { errc <- srv.Serve(ln) }()
	}
	var redirectSrv *http.Server
	if redirectLn != nil {
		redirectSrv = &http.Server{
			Handler:           fe.redirect,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      10 * time.Second,
			IdleTimeout:       30 * time.Second,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		go func() { errc <- redirectSrv.Serve(redirectLn) }()
		log.Info("listening for plain HTTP: ACME challenges, redirects to HTTPS", "addr", redirectLn.Addr().String())
	}
	var metricsSrv *http.Server
	if metricsLn != nil {
		// Only /metrics, on a listener of its own, without TLS or
		// authentication: the posture checks keep it on loopback or warn
		// (ASVS 5.0 V13.4); the firewall is the access control.
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", mets.Handler())
		metricsSrv = &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      15 * time.Second,
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		go func() { errc <- metricsSrv.Serve(metricsLn) }()
		log.Info("listening for metrics scrapes", "addr", metricsLn.Addr().String(), "path", "/metrics")
	}
	log.Info("listening", "addr", ln.Addr().String(), "scheme", scheme, "issuer", issuer, "database", c.databaseDescription())
	fe.obtain(c.acmeDomains, log)

	select {
	case err := <-errc:
		_ = srv.Close()
		if redirectSrv != nil {
			_ = redirectSrv.Close()
		}
		if metricsSrv != nil {
			_ = metricsSrv.Close()
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "timeout", c.shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
	defer cancel()
	servers := []*http.Server{srv}
	if redirectSrv != nil {
		servers = append(servers, redirectSrv)
	}
	if metricsSrv != nil {
		servers = append(servers, metricsSrv)
	}
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil {
			log.Warn("shutdown timed out; closing remaining connections", "error", err.Error())
			_ = s.Close()
		}
	}
	for range servers {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	log.Info("stopped")
	return nil
}

func (sf *storeFlags) databaseDescription() string {
	switch {
	case sf.databaseURL == "":
		return "sqlite (data dir)"
	case isPostgresURL(sf.databaseURL):
		return "postgres"
	}
	return "sqlite"
}
