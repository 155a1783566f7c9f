package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/cors"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/postgres"
	"github.com/gatehouse/gatehouse/internal/sqlite"
	"github.com/gatehouse/gatehouse/internal/transport"
	"github.com/gatehouse/gatehouse/problem"
	"github.com/gatehouse/gatehouse/reqid"
	"github.com/gatehouse/gatehouse/reqlog"
	"github.com/gatehouse/gatehouse/secheaders"
)

// newFlagSet returns a flag set that prints its usage to stderr and
// returns errors instead of exiting.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: gatehouse %s\n\nFlags (each also read from GATEHOUSE_<FLAG>; the flag wins):\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// envName is the environment variable that backs a flag.
func envName(flagName string) string {
	return "GATEHOUSE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags parses args, then fills every flag not given on the command
// line from its GATEHOUSE_ variable. Bad values name the flag or variable.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	_, err := parseFlagSources(fs, args, getenv)
	return err
}

// Where a flag's value came from, as `config check` reports it.
const (
	fromDefault = "default"
	fromFlag    = "flag"
	fromEnv     = "env"
)

// parseFlagSources is parseFlags that also reports the source of every
// flag's value: fromFlag, fromEnv or (absent from the map) fromDefault.
func parseFlagSources(fs *flag.FlagSet, args []string, getenv func(string) string) (map[string]string, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	sources := map[string]string{}
	fs.Visit(func(f *flag.Flag) { sources[f.Name] = fromFlag })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if sources[f.Name] != "" || err != nil {
			return
		}
		v := getenv(envName(f.Name))
		if v == "" {
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = usageError{fmt.Sprintf("invalid value for %s: %v", envName(f.Name), e)}
			return
		}
		sources[f.Name] = fromEnv
	})
	return sources, err
}

// storeFlags are shared by every command that opens the store.
type storeFlags struct {
	dataDir       string
	databaseURL   string
	redisURL      string
	secretKeyFile string
}

func (sf *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&sf.dataDir, "data-dir", "./data", "directory for the embedded SQLite database and development secrets")
	fs.StringVar(&sf.databaseURL, "database-url", "", "database to use (default: SQLite file gatehouse.db in --data-dir)")
	fs.StringVar(&sf.redisURL, "redis-url", "", "Redis (redis://...) shared by instances for rate limits, login back-off and revocation notices (optional; without it each instance keeps its own, and revocations spread through the database within about a second)")
	fs.StringVar(&sf.secretKeyFile, "secret-key-file", "", "file holding the key-encryption key for private signing keys: base64 of at least 32 random bytes (or GATEHOUSE_SECRET_KEY); generated into --data-dir for development when neither is set")
}

// errPostgres is sqlitePath's answer for a postgres:// --database-url.
var errPostgres = usageError{"--database-url: PostgreSQL support is not available in this version"}

// sqlitePath is the SQLite file the store flags name.
func (sf *storeFlags) sqlitePath() (string, error) {
	path := filepath.Join(sf.dataDir, "gatehouse.db")
	switch {
	case sf.databaseURL == "":
	case strings.HasPrefix(sf.databaseURL, "sqlite:"):
		path = strings.TrimPrefix(strings.TrimPrefix(sf.databaseURL, "sqlite:"), "//")
		if path == "" {
			return "", usageError{"--database-url: sqlite: needs a file path, as in sqlite:/var/lib/gatehouse/gatehouse.db"}
		}
	case isPostgresURL(sf.databaseURL):
		return "", errPostgres
	default:
		return "", usageError{"--database-url: must start with sqlite: (or be empty for the default file)"}
	}
	return path, nil
}

func isPostgresURL(u string) bool {
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}

// backend is what every command needs of a store, whichever database.
type backend interface {
	gatehouse.Store
	gatehouse.AuditStore
	Migrate(ctx context.Context) (applied []string, err error)
	ACMECache() autocert.Cache
}

// openStore opens the configured store: SQLite in the data directory by
// default, PostgreSQL for a postgres:// URL. It does not migrate.
func (sf *storeFlags) openStore() (backend, error) {
	if isPostgresURL(sf.databaseURL) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		st, err := postgres.Open(ctx, sf.databaseURL)
		if err != nil {
			return nil, fmt.Errorf("--database-url: %w", err)
		}
		return st, nil
	}
	path, err := sf.sqlitePath()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(sf.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create --data-dir: %w", err)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	return sqlite.Open(path)
}

// openMigrated opens the store and applies pending migrations, for the
// commands that work on a store that may not have been set up yet.
func (sf *storeFlags) openMigrated(ctx context.Context) (backend, error) {
	store, err := sf.openStore()
	if err != nil {
		return nil, err
	}
	if _, err := store.Migrate(ctx); err != nil {
		_ = store.Close()
		return nil, err
	}
	return store, nil
}

// loadKEK loads the key-encryption key and warns loudly about a generated
// development key.
func (sf *storeFlags) loadKEK(getenv func(string) string, log *slog.Logger) (*keys.KEK, error) {
	if err := os.MkdirAll(sf.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create --data-dir: %w", err)
	}
	kek, created, err := keys.LoadKEK(sf.secretKeyFile, getenv("GATEHOUSE_SECRET_KEY"), sf.dataDir)
	if err != nil {
		return nil, err
	}
	if kek.Source == "dev" {
		msg := "using the DEVELOPMENT key-encryption key from the data directory; set --secret-key-file or GATEHOUSE_SECRET_KEY in production"
		if created {
			msg = "GENERATED a DEVELOPMENT key-encryption key in the data directory (mode 0600); set --secret-key-file or GATEHOUSE_SECRET_KEY in production"
		}
		log.Warn(msg, "path", kek.Path)
	}
	return kek, nil
}

// newLogger builds the process logger. Every handler redacts attributes
// whose names look like secrets.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Sprintf("--log-level: %q is not one of debug, info, warn, error", level)}
	}
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: reqlog.Redact}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Sprintf("--log-format: %q is not json or text", format)}
}

// tlsFlags are the transport flags of serve: TLS (from files, for
// development, or over ACME), the plain-HTTP redirect listener, HSTS and
// CORS. See docs/TLS.md.
type tlsFlags struct {
	tlsCert, tlsKey       string
	devTLS                bool
	acmeDomain            string // comma list, parsed into acmeDomains
	acmeEmail             string
	acmeDirectory         string
	httpRedirectAddr      string
	corsOrigins           string // comma list, parsed into origins
	hstsIncludeSubdomains bool
	hstsPreload           bool

	acmeDomains []string
	origins     []string
}

func (tf *tlsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&tf.tlsCert, "tls-cert", "", "PEM certificate chain (server certificate first) to serve HTTPS with; reloaded when the file changes or on SIGHUP (needs --tls-key)")
	fs.StringVar(&tf.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.BoolVar(&tf.devTLS, "dev-tls", false, "serve HTTPS with a self-signed certificate for localhost, made once in --data-dir (development only; loopback --addr only)")
	fs.StringVar(&tf.acmeDomain, "acme-domain", "", "comma-separated domain names to obtain certificates for automatically over ACME (RFC 8555); accepts the CA's terms of service")
	fs.StringVar(&tf.acmeEmail, "acme-email", "", "contact e-mail address given to the ACME CA (optional)")
	fs.StringVar(&tf.acmeDirectory, "acme-directory", transport.LetsEncryptURL, "ACME directory URL (any RFC 8555 CA; its certificate is checked against the system roots, SSL_CERT_FILE on Linux)")
	fs.StringVar(&tf.httpRedirectAddr, "http-redirect-addr", "", "also listen on this address for plain HTTP: answers ACME HTTP-01 challenges, redirects GET/HEAD to HTTPS (308), refuses other methods (e.g. :80)")
	fs.StringVar(&tf.corsOrigins, "cors-origins", "", "comma-separated exact origins (https://app.example.com) whose scripts may call the API, with credentials; \"*\" lets any origin read without credentials")
	fs.BoolVar(&tf.hstsIncludeSubdomains, "hsts-include-subdomains", true, "add includeSubDomains to Strict-Transport-Security (RFC 6797 §6.1.2)")
	fs.BoolVar(&tf.hstsPreload, "hsts-preload", false, "add preload to Strict-Transport-Security: consent to hstspreload.org (needs --hsts-include-subdomains; hard to undo)")
}

// tlsOn reports whether the API listener serves HTTPS.
func (tf *tlsFlags) tlsOn() bool { return tf.tlsCert != "" || tf.devTLS || tf.acmeDomain != "" }

// validate checks the transport flags, naming the flag at fault. addr is
// the (already checked) --addr.
func (tf *tlsFlags) validate(addr string) error {
	if (tf.tlsCert == "") != (tf.tlsKey == "") {
		return usageError{"--tls-cert and --tls-key go together: give both files"}
	}
	modes := 0
	for _, on := range []bool{tf.tlsCert != "", tf.devTLS, tf.acmeDomain != ""} {
		if on {
			modes++
		}
	}
	if modes > 1 {
		return usageError{"choose one source of certificates: --tls-cert/--tls-key, --dev-tls or --acme-domain"}
	}
	host, port, _ := net.SplitHostPort(addr)
	if tf.devTLS && !loopbackHost(host) {
		return usageError{fmt.Sprintf("--dev-tls: the self-signed development certificate is for loopback addresses only, not --addr %q; use --tls-cert/--tls-key or --acme-domain", addr)}
	}
	tf.acmeDomains = nil
	if tf.acmeDomain != "" {
		for _, d := range strings.Split(tf.acmeDomain, ",") {
			d = strings.TrimSpace(d)
			if err := transport.ValidateDomain(d); err != nil {
				return usageError{"--acme-domain: " + err.Error()}
			}
			if slices.Contains(tf.acmeDomains, d) {
				return usageError{fmt.Sprintf("--acme-domain: %q is listed twice", d)}
			}
			tf.acmeDomains = append(tf.acmeDomains, d)
		}
		if tf.httpRedirectAddr == "" && port != "443" {
			// TLS-ALPN-01 (RFC 8737) reaches the HTTPS listener on port
			// 443 and HTTP-01 (RFC 8555 §8.3) the plain one on port 80:
			// with neither, no certificate can ever be issued.
			return usageError{"--acme-domain: the CA must reach this server to check the domain: give --http-redirect-addr (HTTP-01, port 80) or listen on port 443 with --addr (TLS-ALPN-01)"}
		}
	} else if tf.acmeEmail != "" || tf.acmeDirectory != transport.LetsEncryptURL {
		return usageError{"--acme-email and --acme-directory need --acme-domain"}
	}
	if tf.acmeEmail != "" {
		if err := transport.ValidateEmail(tf.acmeEmail); err != nil {
			return usageError{"--acme-email: " + err.Error()}
		}
	}
	if err := transport.ValidateDirectoryURL(tf.acmeDirectory); err != nil {
		return usageError{"--acme-directory: " + err.Error()}
	}
	if tf.httpRedirectAddr != "" {
		if !tf.tlsOn() {
			return usageError{"--http-redirect-addr redirects to HTTPS: it needs --tls-cert/--tls-key, --dev-tls or --acme-domain"}
		}
		if _, _, err := net.SplitHostPort(tf.httpRedirectAddr); err != nil {
			return usageError{fmt.Sprintf("--http-redirect-addr %q: %v", tf.httpRedirectAddr, err)}
		}
		if tf.httpRedirectAddr == addr {
			return usageError{"--http-redirect-addr must differ from --addr"}
		}
	}
	if tf.hstsPreload && !tf.hstsIncludeSubdomains {
		return usageError{"--hsts-preload needs --hsts-include-subdomains (the preload list requires it)"}
	}
	tf.origins = nil
	if tf.corsOrigins != "" {
		for _, o := range strings.Split(tf.corsOrigins, ",") {
			o = strings.TrimSpace(o)
			if err := cors.New().AddOrigin(o); err != nil {
				return usageError{"--cors-origins: " + strings.TrimPrefix(err.Error(), "cors: ")}
			}
			if !slices.Contains(tf.origins, o) {
				tf.origins = append(tf.origins, o)
			}
		}
	}
	return nil
}

// loopbackHost reports whether host (from --addr) names only loopback
// interfaces; "" (every interface) does not.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// hsts is the Strict-Transport-Security policy the flags ask for: one
// year (ASVS 5.0 3.4.1, the preload list's minimum), subdomains and
// preload as flagged.
func (tf *tlsFlags) hsts() secheaders.HSTS {
	return secheaders.HSTS{MaxAge: secheaders.DefaultHSTSMaxAge, IncludeSubDomains: tf.hstsIncludeSubdomains, Preload: tf.hstsPreload}
}

// exactOrigins are the listed origins without "*": the ones trusted with
// credentials (and by http.CrossOriginProtection for cookie requests).
func (tf *tlsFlags) exactOrigins() []string {
	return slices.DeleteFunc(slices.Clone(tf.origins), func(o string) bool { return o == "*" })
}

// certReloadInterval is how often --tls-cert and --tls-key are checked for
// new contents.
const certReloadInterval = 2 * time.Second

// frontEnd is the network side of serve, built from tlsFlags.
type frontEnd struct {
	tlsConfig *tls.Config           // nil: plain HTTP
	reloader  *transport.Reloader   // --tls-cert
	acme      *autocert.Manager     // --acme-domain
	redirect  http.Handler          // the plain-HTTP listener's handler, or nil
	target    *transport.Redirect   // inside redirect; its port is set by listening
	issuer    func(net.Addr) string // default --issuer
}

// newFrontEnd loads or prepares the certificates. Everything that can
// fail on a bad file or setting fails here, before anything listens.
func (tf *tlsFlags) newFrontEnd(dataDir string, store interface{ ACMECache() autocert.Cache }, kek *keys.KEK, log *slog.Logger) (*frontEnd, error) {
	fe := &frontEnd{issuer: func(a net.Addr) string { return tf.defaultIssuer(a.String()) }}
	if !tf.tlsOn() {
		return fe, nil
	}
	rd := &transport.Redirect{}
	fe.target = rd
	switch {
	case tf.tlsCert != "":
		rl, err := transport.NewReloader(tf.tlsCert, tf.tlsKey)
		if err != nil {
			return nil, usageError{"--tls-cert/--tls-key: " + err.Error()}
		}
		fe.reloader = rl
		fe.tlsConfig = transport.ServerConfig(rl.GetCertificate)
		leaf := rl.Leaf()
		log.Info("serving HTTPS with the certificate from --tls-cert", "subject", leaf.Subject.String(), "dns_names", leaf.DNSNames,
			"not_after", leaf.NotAfter.UTC().Format(time.RFC3339), "fingerprint_sha256", transport.Fingerprint(leaf))
	case tf.devTLS:
		dc, err := transport.DevCertificate(dataDir)
		if err != nil {
			return nil, fmt.Errorf("--dev-tls: %w", err)
		}
		fe.tlsConfig = transport.ServerConfig(transport.Static(dc.Cert))
		msg := "using the self-signed DEVELOPMENT certificate for localhost; compare its fingerprint with what the browser shows, or give the file to curl --cacert"
		if dc.Created {
			msg = "CREATED a self-signed DEVELOPMENT certificate for localhost; compare its fingerprint with what the browser shows, or give the file to curl --cacert"
		}
		log.Warn(msg, "fingerprint_sha256", dc.Fingerprint, "cert_file", dc.CertPath, "not_after", dc.NotAfter.UTC().Format(time.RFC3339))
	default:
		m, err := transport.NewACMEManager(transport.ACME{
			Domains:      tf.acmeDomains,
			Email:        tf.acmeEmail,
			DirectoryURL: tf.acmeDirectory,
			Cache:        transport.SealedCache(store.ACMECache(), kek),
		})
		if err != nil {
			return nil, usageError{"--acme-domain: " + err.Error()}
		}
		fe.acme = m
		cfg := transport.ServerConfig(m.GetCertificate)
		cfg.NextProtos = append(cfg.NextProtos, acme.ALPNProto) // TLS-ALPN-01, RFC 8737
		fe.tlsConfig = cfg
		rd.Hosts = tf.acmeDomains
		log.Info("certificates over ACME; the CA's terms of service are accepted", "domains", tf.acmeDomains, "directory", tf.acmeDirectory)
	}
	if tf.httpRedirectAddr != "" {
		var h http.Handler = rd
		if fe.acme != nil {
			h = fe.acme.HTTPHandler(rd) // HTTP-01 challenges first
		}
		// The same request IDs, access log and security headers as the
		// API (without HSTS: secheaders never sends it over plain HTTP).
		fe.redirect = reqid.Handler(reqlog.Handler(log, secheaders.New().Handler(h)))
	}
	return fe, nil
}

// defaultIssuer is the --issuer used when none is given, for the listener
// address addr: http://ADDR, https://ADDR with TLS, https://DOMAIN (plus
// :PORT unless 443) with ACME.
func (tf *tlsFlags) defaultIssuer(addr string) string {
	switch {
	case tf.acmeDomain != "" && len(tf.acmeDomains) > 0:
		if _, port, _ := net.SplitHostPort(addr); port != "443" {
			return "https://" + net.JoinHostPort(tf.acmeDomains[0], port)
		}
		return "https://" + tf.acmeDomains[0]
	case tf.tlsOn():
		return "https://" + addr
	}
	return "http://" + addr
}

// listening records the address of the HTTPS listener, whose port the
// redirects name (known only once it listens, for --addr with port 0).
func (fe *frontEnd) listening(a net.Addr) {
	if fe.target != nil {
		_, fe.target.HTTPSPort, _ = net.SplitHostPort(a.String())
	}
}

// wrap puts the CORS middleware around the API handler, and around that
// the security headers with the flags' HSTS policy, so that preflight
// answers (which never reach the API) carry them too.
func (tf *tlsFlags) wrap(api http.Handler) (http.Handler, error) {
	c := cors.New()
	for _, o := range tf.origins {
		if err := c.AddOrigin(o); err != nil {
			return nil, usageError{"--cors-origins: " + err.Error()}
		}
	}
	// Credentials only ever for the exact origins listed (cors never pairs
	// them with "*").
	c.SetAllowCredentials(true)
	if err := c.SetAllowedMethods("PUT", "PATCH", "DELETE"); err != nil {
		return nil, err
	}
	if err := c.SetAllowedHeaders("Authorization", "Content-Type", "X-Request-ID"); err != nil {
		return nil, err
	}
	if err := c.SetExposedHeaders("X-Request-ID", "WWW-Authenticate", "Location", "Retry-After", "RateLimit", "RateLimit-Policy"); err != nil {
		return nil, err
	}
	c.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, r, problem.New(http.StatusForbidden, "Cross-origin requests from this origin, or with this method or these headers, are not allowed."))
	}))
	sh := secheaders.New()
	if err := sh.SetHSTS(tf.hsts()); err != nil {
		return nil, usageError{"--hsts-preload: " + err.Error()}
	}
	return reqid.Handler(sh.Handler(c.Handler(api))), nil
}

// obtain asks for the ACME certificates as soon as the listeners are up
// (the CA's challenges need them), so that the first client does not wait
// for an order and a CA or DNS problem shows in the log at start. A
// failure is retried by the next handshake for that name.
func (fe *frontEnd) obtain(domains []string, log *slog.Logger) {
	if fe.acme == nil {
		return
	}
	for _, d := range domains {
		go func() {
			// A hello that autocert reads as ECDSA-capable: the P-256
			// certificate that every current client accepts.
			hello := &tls.ClientHelloInfo{
				ServerName:       d,
				SignatureSchemes: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
				SupportedCurves:  []tls.CurveID{tls.CurveP256},
				CipherSuites:     []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
			}
			cert, err := fe.acme.GetCertificate(hello)
			if err != nil {
				log.Error("could not obtain a certificate over ACME; the next connection for this name tries again", "domain", d, "error", err.Error())
				return
			}
			if cert.Leaf != nil {
				log.Info("ACME certificate ready", "domain", d, "not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339),
					"fingerprint_sha256", transport.Fingerprint(cert.Leaf))
			}
		}()
	}
}

// openRedis connects to --redis-url and checks that it answers, so a wrong
// address stops the start instead of failing every limited request. The
// URL, which may hold a password, is never logged or echoed.
func (sf *storeFlags) openRedis(ctx context.Context) (*redis.Client, error) {
	opt, err := redis.ParseURL(sf.redisURL)
	if err != nil {
		return nil, usageError{"--redis-url: not a valid redis:// or rediss:// URL"}
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 2*time.Second, time.Second, time.Second
	client := redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("--redis-url: Redis does not answer at %s", opt.Addr)
	}
	return client, nil
}
