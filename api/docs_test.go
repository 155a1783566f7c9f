package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// goBlockRE matches a fenced code block whose info string is exactly "go".
var goBlockRE = regexp.MustCompile("(?ms)^```go\n(.*?)^```")

// normalize drops indentation and blank lines, so that an excerpt matches
// its source whatever its depth there.
func normalize(src string) string {
	var out []string
	for line := range strings.SplitSeq(src, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// TestDocs keeps the Go in docs/*.md true to the API: every ```go block
// that is a whole file (it starts with "package") is compiled against the
// module as it is, and every other ```go block must be an excerpt of such a
// file in the same document or of a Go file of a public package or of
// examples/, which the build and the tests check.
func TestDocs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the programs of the docs")
	}
	trackSources(t)
	docs, err := filepath.Glob("../docs/*.md")
	if err != nil || len(docs) == 0 {
		t.Fatalf("got docs %v, %v; want the Markdown files of ../docs", docs, err)
	}

	var known []string // normalized Go files that the build checks
	roots := append([]string{"../examples"}, packages...)
	for i, r := range roots {
		if i > 0 {
			r = filepath.Join("..", r)
		}
		err := filepath.WalkDir(r, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
				return err
			}
			b, err := os.ReadFile(path)
			known = append(known, normalize(string(b)))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	overlay := map[string]string{}
	var builds []string
	for _, doc := range docs {
		md, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.ToLower(strings.TrimSuffix(filepath.Base(doc), ".md"))
		var programs, excerpts []string
		for i, m := range goBlockRE.FindAllStringSubmatch(string(md), -1) {
			block := m[1]
			if !strings.HasPrefix(strings.TrimSpace(block), "package ") {
				excerpts = append(excerpts, block)
				continue
			}
			programs = append(programs, normalize(block))
			// The file goes under a directory that does not exist, inside
			// the module so that its imports resolve: `go build -overlay`
			// supplies it, and nothing is written to the work tree.
			pkg := fmt.Sprintf("api/testdata/docs/%s-%d", name, i)
			src := filepath.Join(tmp, fmt.Sprintf("%s-%d.go", name, i))
			if err := os.WriteFile(src, []byte(block), 0o644); err != nil {
				t.Fatal(err)
			}
			overlay[filepath.Join(root, pkg, "main.go")] = src
			builds = append(builds, "./"+pkg)
		}
		for _, ex := range excerpts {
			want := normalize(ex)
			found := false
			for _, src := range append(programs, known...) {
				if strings.Contains(src, want) {
					found = true
					break
				}
			}
			if !found {
				first, _, _ := strings.Cut(strings.TrimSpace(ex), "\n")
				t.Errorf("%s: the Go block starting %q is neither a whole file nor an excerpt of one in the same document, a public package or examples/; copy it from the code it shows", filepath.Base(doc), first)
			}
		}
	}
	if len(builds) == 0 {
		t.Fatal("got no Go program in docs/*.md, want at least the guide's")
	}

	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the docs' programs: %v", err)
	}
	ov, err := json.Marshal(map[string]any{"Replace": overlay})
	if err != nil {
		t.Fatal(err)
	}
	ovFile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(ovFile, ov, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goCmd, append([]string{"build", "-overlay", ovFile, "-o", os.DevNull}, builds...)...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Errorf("the Go programs in docs/*.md do not build: %v\n%s", err, out.Bytes())
	}
}
