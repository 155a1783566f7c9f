package api_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"go/importer"
	"go/token"
	"go/types"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const modulePath = "github.com/gatehouse/gatehouse"

// packages are the public packages whose exported API is recorded in
// api/<dir>.txt, by directory under the module root.
var packages = []string{"auth", "clientip", "cors", "jsonbody", "problem", "ratelimit", "reqid", "reqlog", "sanitize", "secheaders"}

// notPublic are the packages outside internal/, cmd/ and examples/ that
// make no promise of a stable API, with the reason.
var notPublic = map[string]string{
	".":            "the domain model of the gatehouse server, not part of the toolkit",
	"api":          "this package: snapshots and their test",
	"scripts/sbom": "a build tool (package main) run by scripts/release",
}

// skipDirs are trees that hold no public package: internal/ by Go's rules,
// commands and examples because they are package main.
var skipDirs = map[string]bool{"internal": true, "cmd": true, "examples": true, "testdata": true, "vendor": true, "node_modules": true}

func updating() bool { return os.Getenv("UPDATE_API") == "1" }

const howTo = "If the change is intended, run\n\tGOTOOLCHAIN=go1.27.3 UPDATE_API=1 go test ./api/\nto rewrite the snapshot, then add the line it prints under \"## Unreleased\" in CHANGELOG.md, saying what changed."

// TestEveryPublicPackageIsRecorded fails when a package is added outside
// internal/, cmd/ and examples/ without a snapshot, so that no public API
// escapes the check.
func TestEveryPublicPackageIsRecorded(t *testing.T) {
	var found []string
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != ".." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || skipDirs[name]) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			rel, err := filepath.Rel("..", filepath.Dir(path))
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			if !slices.Contains(found, rel) {
				found = append(found, rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range found {
		if _, ok := notPublic[dir]; !ok && !slices.Contains(packages, dir) {
			t.Errorf("package %s/%s is public (not under internal/) but has no API snapshot: add %q to packages in api/api_test.go and run UPDATE_API=1 go test ./api/, or move it under internal/", modulePath, dir, dir)
		}
	}
	for _, p := range packages {
		if !slices.Contains(found, p) {
			t.Errorf("got no Go files in %s, want the public package listed in api/api_test.go", p)
		}
	}
}

// TestAPI fails when the exported API of a public package differs from its
// snapshot.
func TestAPI(t *testing.T) {
	imp := exportImporter(t)
	for _, dir := range packages {
		t.Run(dir, func(t *testing.T) {
			pkg, err := imp.Import(modulePath + "/" + dir)
			if err != nil {
				t.Fatalf("import %s: %v", dir, err)
			}
			got := snapshot(pkg)
			file := dir + ".txt"
			want, err := os.ReadFile(file)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			if bytes.Equal(got, want) {
				return
			}
			if updating() {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote api/%s", file)
				return
			}
			t.Errorf("the exported API of %s differs from api/%s:\n%s\n%s", dir, file, diff(want, got), howTo)
		})
	}
}

// entryRE matches a changelog line that records a package's API hash.
var entryRE = regexp.MustCompile(`^\s*[-*] ([a-z0-9/]+): api sha256:([0-9a-f]{16})\b`)

// TestChangelog runs after TestAPI (tests run in the order of the source),
// so that with UPDATE_API=1 it checks the snapshots just written.
//
// TestChangelog fails when the snapshot of a package differs from the one
// whose hash the newest (topmost) line for that package in CHANGELOG.md
// names: a change of API needs a changelog entry.
func TestChangelog(t *testing.T) {
	newest := map[string]string{}
	f, err := os.Open("../CHANGELOG.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := entryRE.FindStringSubmatch(sc.Text()); m != nil {
			if _, seen := newest[m[1]]; !seen {
				newest[m[1]] = m[2]
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, dir := range packages {
		snap, err := os.ReadFile(dir + ".txt")
		if err != nil {
			t.Errorf("api/%s.txt: %v\n%s", dir, err, howTo)
			continue
		}
		h := hash(snap)
		switch got, ok := newest[dir]; {
		case !ok:
			t.Errorf("CHANGELOG.md has no API line for %s; add under \"## Unreleased\":\n\t- %s: api sha256:%s — <what changed>", dir, dir, h)
		case got != h:
			t.Errorf("api/%s.txt changed (sha256:%s) since the newest CHANGELOG.md line for %s (sha256:%s); add under \"## Unreleased\", above the older lines:\n\t- %s: api sha256:%s — <what changed>", dir, h, dir, got, dir, h)
		}
	}
}

// hash is the short digest recorded in CHANGELOG.md: the first 16 hex
// digits of the SHA-256 of a snapshot. It detects changes; it is not a
// security check.
func hash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}

// exportImporter returns an importer that reads the compiler's export data
// of the public packages and their dependencies, as `go list -export`
// builds it from the current source. The go command is the one running the
// test (go test puts its GOROOT/bin first on PATH).
func exportImporter(t *testing.T) types.Importer {
	t.Helper()
	trackSources(t)
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build export data: %v", err)
	}
	args := []string{"list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}"}
	for _, p := range packages {
		args = append(args, "./"+p)
	}
	cmd := exec.Command(goCmd, args...)
	cmd.Dir = ".."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -export: %v\n%s", err, stderr.Bytes())
	}
	exports := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		path, file, _ := strings.Cut(line, "\t")
		if file != "" {
			exports[path] = file
		}
	}
	return importer.ForCompiler(token.NewFileSet(), "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(file)
	})
}

// trackSources reads the source of the public packages and go.mod. The
// test reads them only through `go list`, a child process whose reads the
// test cache does not see; reading them here makes a change to any of them
// invalidate a cached result of `go test ./api/`, which would otherwise
// pass without looking at the new code.
func trackSources(t *testing.T) {
	t.Helper()
	if _, err := os.ReadFile("../go.mod"); err != nil {
		t.Fatal(err)
	}
	for _, dir := range packages {
		entries, err := os.ReadDir(filepath.Join("..", dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if name := e.Name(); strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
				if _, err := os.ReadFile(filepath.Join("..", dir, name)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// snapshot lists the exported API of pkg, one sorted line per constant,
// variable, function, type, struct field, interface method and method, in
// a format close to that of the Go project's api/*.txt files. Parameter
// names are left out of top-level signatures: renaming one changes no
// caller.
func snapshot(pkg *types.Package) []byte {
	q := types.RelativeTo(pkg)
	var lines []string
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		switch o := scope.Lookup(name).(type) {
		case *types.Const:
			if o.Exported() {
				lines = append(lines, fmt.Sprintf("const %s %s = %s", name, types.TypeString(o.Type(), q), o.Val().ExactString()))
			}
		case *types.Var:
			if o.Exported() {
				lines = append(lines, fmt.Sprintf("var %s %s", name, types.TypeString(o.Type(), q)))
			}
		case *types.Func:
			if o.Exported() {
				lines = append(lines, "func "+name+signature(o.Type().(*types.Signature), q))
			}
		case *types.TypeName:
			if o.Exported() {
				lines = append(lines, typeLines(o, q)...)
			}
		}
	}
	slices.Sort(lines)
	lines = slices.Compact(lines)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s: exported API, written by UPDATE_API=1 go test ./api/ (do not edit by hand)\n", pkg.Path())
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// typeLines describes a type, its exported fields or interface methods,
// and its exported methods (promoted ones included: they are callable).
func typeLines(o *types.TypeName, q types.Qualifier) []string {
	name := o.Name()
	if o.IsAlias() {
		return []string{"type " + name + " = " + types.TypeString(o.Type(), q)}
	}
	named, ok := o.Type().(*types.Named)
	if !ok {
		return []string{"type " + name + " " + types.TypeString(o.Type(), q)}
	}
	head := "type " + name + typeParams(named.TypeParams(), q)
	var lines []string
	switch u := named.Underlying().(type) {
	case *types.Struct:
		lines = append(lines, head+" struct")
		exported := false
		for i := range u.NumFields() {
			f := u.Field(i)
			if !f.Exported() {
				continue
			}
			l := head + " struct, "
			if f.Embedded() {
				l += "embedded " + types.TypeString(f.Type(), q)
			} else {
				l += f.Name() + " " + types.TypeString(f.Type(), q)
			}
			if tag := u.Tag(i); tag != "" {
				l += " `" + tag + "`"
			}
			lines = append(lines, l)
			exported = true
		}
		// Comparability is API for a struct of values (callers use == and
		// map keys); for one without exported fields it is an accident of
		// its implementation.
		if exported && types.Comparable(named) {
			lines = append(lines, head+" struct, comparable")
		}
	case *types.Interface:
		lines = append(lines, head+" interface")
		for i := range u.NumMethods() {
			m := u.Method(i)
			if !m.Exported() {
				// Other packages cannot implement it.
				lines = append(lines, head+" interface, unexported methods")
				continue
			}
			lines = append(lines, head+" interface, "+m.Name()+signature(m.Type().(*types.Signature), q))
		}
		return lines
	default:
		lines = append(lines, head+" "+types.TypeString(u, q))
	}
	byValue := types.NewMethodSet(named)
	all := types.NewMethodSet(types.NewPointer(named))
	for i := range all.Len() {
		m := all.At(i).Obj().(*types.Func)
		if !m.Exported() {
			continue
		}
		recv := "*" + name
		if byValue.Lookup(m.Pkg(), m.Name()) != nil {
			recv = name
		}
		lines = append(lines, "method ("+recv+") "+m.Name()+signature(m.Type().(*types.Signature), q))
	}
	return lines
}

// signature formats sig without its receiver and parameter names:
// "(string, ...int) (*T, error)".
func signature(sig *types.Signature, q types.Qualifier) string {
	var b strings.Builder
	b.WriteString(typeParams(sig.TypeParams(), q))
	b.WriteByte('(')
	params := sig.Params()
	for i := range params.Len() {
		if i > 0 {
			b.WriteString(", ")
		}
		typ := params.At(i).Type()
		if sig.Variadic() && i == params.Len()-1 {
			b.WriteString("...")
			typ = typ.(*types.Slice).Elem()
		}
		b.WriteString(types.TypeString(typ, q))
	}
	b.WriteByte(')')
	res := sig.Results()
	switch res.Len() {
	case 0:
	case 1:
		b.WriteString(" " + types.TypeString(res.At(0).Type(), q))
	default:
		b.WriteString(" (")
		for i := range res.Len() {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(types.TypeString(res.At(i).Type(), q))
		}
		b.WriteByte(')')
	}
	return b.String()
}

func typeParams(tp *types.TypeParamList, q types.Qualifier) string {
	if tp.Len() == 0 {
		return ""
	}
	var parts []string
	for i := range tp.Len() {
		p := tp.At(i)
		parts = append(parts, p.Obj().Name()+" "+types.TypeString(p.Constraint(), q))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// diff lists the lines only in want ("-", removed from the API) and only
// in got ("+", added). Snapshots are sorted sets of lines, so this is the
// whole difference.
func diff(want, got []byte) string {
	w := strings.Split(strings.TrimSpace(string(want)), "\n")
	g := strings.Split(strings.TrimSpace(string(got)), "\n")
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(g, l) {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}
