// Command sbom writes a CycloneDX 1.5 JSON software bill of materials for a
// Go binary, from the build information the Go linker embeds in it (the
// same data `go version -m BINARY` prints): the main module, every module
// compiled in with its version and go.sum hash, the Go standard library at
// the toolchain's version, and the build settings.
//
//	go run ./scripts/sbom BINARY > BINARY.cdx.json
//
// It reads any GOOS/GOARCH's binary (debug/buildinfo), so cross-compiled
// release binaries are described without running them. The output is
// deterministic: no serial number, and a timestamp only when
// SOURCE_DATE_EPOCH is set, so a reproducible build gets a reproducible SBOM.
// scripts/release runs it for every binary.
package main

import (
	"debug/buildinfo"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

type bom struct {
	BOMFormat    string       `json:"bomFormat"`
	SpecVersion  string       `json:"specVersion"`
	Version      int          `json:"version"`
	Metadata     metadata     `json:"metadata"`
	Components   []component  `json:"components"`
	Dependencies []dependency `json:"dependencies"`
}

type metadata struct {
	Timestamp string    `json:"timestamp,omitempty"`
	Tools     tools     `json:"tools"`
	Component component `json:"component"`
}

type tools struct {
	Components []component `json:"components"`
}

type component struct {
	Type       string     `json:"type"`
	BOMRef     string     `json:"bom-ref,omitempty"`
	Name       string     `json:"name"`
	Version    string     `json:"version,omitempty"`
	PURL       string     `json:"purl,omitempty"`
	Hashes     []hash     `json:"hashes,omitempty"`
	Properties []property `json:"properties,omitempty"`
}

type hash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

type property struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type dependency struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn,omitempty"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./scripts/sbom BINARY > BINARY.cdx.json")
		os.Exit(2)
	}
	bi, err := buildinfo.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "sbom:", err)
		os.Exit(1)
	}
	out, err := json.MarshalIndent(fromBuildInfo(bi, os.Getenv("SOURCE_DATE_EPOCH"), os.Getenv("VERSION")), "", "  ")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sbom:", err)
		os.Exit(1)
	}
	// A short write (a full disk) must fail the release, not leave a
	// truncated SBOM beside the binary.
	if _, err := os.Stdout.Write(append(out, '\n')); err != nil {
		fmt.Fprintln(os.Stderr, "sbom:", err)
		os.Exit(1)
	}
}

// fromBuildInfo builds the document. version overrides the main module's
// version, which is "(devel)" for a build from a source tree.
func fromBuildInfo(bi *debug.BuildInfo, epoch, version string) bom {
	if version == "" {
		version = bi.Main.Version
	}
	main := component{Type: "application", Name: bi.Main.Path, Version: version, PURL: purl(bi.Main.Path, version)}
	main.BOMRef = main.PURL
	for _, s := range bi.Settings {
		main.Properties = append(main.Properties, property{Name: "go:build:" + s.Key, Value: s.Value})
	}
	main.Properties = append(main.Properties, property{Name: "go:toolchain", Value: bi.GoVersion})

	doc := bom{BOMFormat: "CycloneDX", SpecVersion: "1.5", Version: 1}
	if sec, err := strconv.ParseInt(epoch, 10, 64); err == nil {
		doc.Metadata.Timestamp = time.Unix(sec, 0).UTC().Format(time.RFC3339)
	}
	doc.Metadata.Tools.Components = []component{{Type: "application", Name: "gatehouse scripts/sbom (debug/buildinfo)"}}
	doc.Metadata.Component = main

	// The standard library is compiled in too, at the toolchain's
	// version: vulnerability scanners match Go advisories against it.
	std := component{Type: "library", Name: "std", Version: bi.GoVersion, PURL: "pkg:golang/std@" + url.PathEscape(bi.GoVersion)}
	std.BOMRef = std.PURL
	doc.Components = append(doc.Components, std)
	deps := dependency{Ref: main.BOMRef, DependsOn: []string{std.BOMRef}}
	for _, m := range bi.Deps {
		path, v, sum := m.Path, m.Version, m.Sum
		c := component{Type: "library", Name: path}
		if m.Replace != nil {
			c.Properties = append(c.Properties, property{Name: "go:module:replaced-by", Value: m.Replace.Path + " " + m.Replace.Version})
			path, v, sum = m.Replace.Path, m.Replace.Version, m.Replace.Sum
		}
		c.Version = v
		c.PURL = purl(path, v)
		c.BOMRef = c.PURL
		// go.sum's h1: is base64 of a SHA-256 (over the module's file
		// hashes); given as hex, as other Go SBOM tools do.
		if h, ok := strings.CutPrefix(sum, "h1:"); ok {
			if raw, err := base64.StdEncoding.DecodeString(h); err == nil {
				c.Hashes = []hash{{Alg: "SHA-256", Content: hex.EncodeToString(raw)}}
			}
		}
		doc.Components = append(doc.Components, c)
		deps.DependsOn = append(deps.DependsOn, c.BOMRef)
	}
	doc.Dependencies = []dependency{deps}
	return doc
}

// purl is the package URL of a Go module (github.com/package-url/purl-spec,
// type golang): path segments as namespace and name, version escaped.
func purl(path, version string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	p := "pkg:golang/" + strings.Join(segs, "/")
	if version != "" {
		p += "@" + strings.ReplaceAll(url.PathEscape(version), "+", "%2B")
	}
	return p + "?type=module"
}
