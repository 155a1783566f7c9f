// Command gatehouse is a secure-by-default OAuth2 and JWT API server.
//
// Run `gatehouse help` for the subcommands, and `gatehouse serve --help` for
// the server's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "gatehouse:", err)
		}
		os.Exit(exitCode(err))
	}
}

// exitCode is 2 for usage errors, 1 for everything else.
func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

// usageError is a bad command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const usage = `gatehouse: a secure-by-default OAuth2 and JWT API server

Usage:
  gatehouse serve [flags]                 run the API server
  gatehouse migrate [flags]               apply database migrations (idempotent)
  gatehouse user create [flags]           create an account; the password is read from stdin
  gatehouse keys rotate [flags]           create a new signing key
  gatehouse keys list [flags]             list the signing keys
  gatehouse audit verify [flags]          check the audit trail's hash chain
  gatehouse audit export [flags]          write the audit trail as JSON lines
  gatehouse config check [serve flags]    print the effective configuration and its risks; exit 1 when serve would refuse it
  gatehouse backup --out FILE [flags]     copy the SQLite database while servers run
  gatehouse restore --from FILE [flags]   replace the SQLite database with a backup (servers stopped)
  gatehouse version                       print version, commit, Go toolchain and module versions

Run "gatehouse COMMAND --help" for the flags of a command. Every flag can also
be set with an environment variable GATEHOUSE_<FLAG> (e.g. GATEHOUSE_DATA_DIR);
a flag on the command line wins.
`

// run is the whole program, with its environment injected so tests can run
// it in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{"no command given"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, getenv, stdout, stderr)
	case "user":
		return runUser(ctx, rest, getenv, stdin, stdout, stderr)
	case "keys":
		return runKeys(ctx, rest, getenv, stdout, stderr)
	case "audit":
		return runAudit(ctx, rest, getenv, stdout, stderr)
	case "config":
		return runConfig(ctx, rest, getenv, stdout, stderr)
	case "backup":
		return runBackup(ctx, rest, getenv, stdout, stderr)
	case "restore":
		return runRestore(ctx, rest, getenv, stdout, stderr)
	case "version", "--version":
		return runVersion(rest, stdout, stderr)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}
