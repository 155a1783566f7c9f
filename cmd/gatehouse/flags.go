package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/sqlite"
	"github.com/gatehouse/gatehouse/reqlog"
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
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		v := getenv(envName(f.Name))
		if v == "" {
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = usageError{fmt.Sprintf("invalid value for %s: %v", envName(f.Name), e)}
		}
	})
	return err
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
	fs.StringVar(&sf.redisURL, "redis-url", "", "Redis for limits and revocations shared across instances (optional; not supported yet)")
	fs.StringVar(&sf.secretKeyFile, "secret-key-file", "", "file holding the key-encryption key for private signing keys: base64 of at least 32 random bytes (or GATEHOUSE_SECRET_KEY); generated into --data-dir for development when neither is set")
}

// openStore opens (and migrates) the configured store.
func (sf *storeFlags) openStore() (*sqlite.Store, error) {
	if sf.redisURL != "" {
		return nil, usageError{"--redis-url: Redis support is not available in this version"}
	}
	path := filepath.Join(sf.dataDir, "gatehouse.db")
	switch {
	case sf.databaseURL == "":
	case strings.HasPrefix(sf.databaseURL, "sqlite:"):
		path = strings.TrimPrefix(strings.TrimPrefix(sf.databaseURL, "sqlite:"), "//")
		if path == "" {
			return nil, usageError{"--database-url: sqlite: needs a file path, as in sqlite:/var/lib/gatehouse/gatehouse.db"}
		}
	case strings.HasPrefix(sf.databaseURL, "postgres://"), strings.HasPrefix(sf.databaseURL, "postgresql://"):
		return nil, usageError{"--database-url: PostgreSQL support is not available in this version"}
	default:
		return nil, usageError{"--database-url: must start with sqlite: (or be empty for the default file)"}
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
