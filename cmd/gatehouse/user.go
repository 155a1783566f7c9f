package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/problem"
)

// rolesFlag collects repeated --role flags.
type rolesFlag []string

func (r *rolesFlag) String() string { return strings.Join(*r, ",") }
func (r *rolesFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s != gatehouse.RoleUser && s != gatehouse.RoleAdmin {
			return fmt.Errorf("unknown role %q (roles: user, admin)", s)
		}
		*r = append(*r, s)
	}
	return nil
}

func runUser(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "Usage: gatehouse user create --username U --email E [--role admin] [--age N]  (password on stdin)")
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			return nil
		}
		return usageError{"user needs a subcommand: create"}
	}
	var sf storeFlags
	var username, email string
	var age, minLen int
	var roles rolesFlag
	fs := newFlagSet("user create", "user create --username U --email E [--role ROLE]... < password", stderr)
	sf.register(fs)
	fs.StringVar(&username, "username", "", "username (required)")
	fs.StringVar(&email, "email", "", "email address (required)")
	fs.Var(&roles, "role", "role to grant: user or admin (repeatable; default user)")
	fs.IntVar(&age, "age", 18, "age recorded for the account (13 to 150)")
	fs.IntVar(&minLen, "password-min-length", 15, "minimum password length, as for serve")
	if err := parseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	if username == "" || email == "" {
		return usageError{"--username and --email are required"}
	}
	if len(roles) == 0 {
		roles = rolesFlag{gatehouse.RoleUser}
	}
	pw, err := readPassword(stdin, stderr)
	if err != nil {
		return err
	}
	store, err := sf.openMigrated(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	hasher := &password.Hasher{Params: password.DefaultParams}
	u, err := server.CreateUser(ctx, store, hasher, minLen, username, email, pw, age, roles)
	if err != nil {
		var p *problem.Problem
		if errors.As(err, &p) {
			msg := p.Detail
			for _, fe := range p.Errors {
				msg += "\n  " + strings.TrimPrefix(fe.Location, "body.") + ": " + fe.Message
			}
			return errors.New(msg)
		}
		return err
	}
	fmt.Fprintf(stdout, "created user %s (id %s, roles %s)\n", u.Username, u.ID, strings.Join(u.Roles, ","))
	return nil
}

// readPassword reads the password from stdin: without echo, twice, from a
// terminal; the first line otherwise. It never comes from a flag, which
// would leave it in shell history and the process list.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(stderr, "Repeat password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the passwords do not match")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", usageError{"no password on standard input"}
	}
	return line, nil
}
