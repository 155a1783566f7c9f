package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// version is set at release time with -ldflags "-X main.version=v1.2.3"
// (scripts/release). Without it, the module version from the build info is
// used (set by `go install module@version`), else "dev".
var version = "dev"

// commit is set at release time with -ldflags "-X main.commit=SHA" when the
// build has no VCS information of its own (-buildvcs=false, or a source
// tree without .git, as in the container build).
var commit = ""

// buildInfo is what `gatehouse version` reports, all of it from the
// binary's embedded build information (runtime/debug.ReadBuildInfo), the
// same data `go version -m` and the release SBOM read.
type buildInfo struct {
	Version   string            `json:"version"`
	Commit    string            `json:"commit"`
	CommitAt  string            `json:"commit_time,omitempty"`
	Modified  bool              `json:"modified"`
	GoVersion string            `json:"go"`
	Platform  string            `json:"platform"`
	Settings  map[string]string `json:"build_settings"`
	Module    string            `json:"module"`
	Deps      []moduleInfo      `json:"modules"`
}

type moduleInfo struct {
	Path    string `json:"path"`
	Version string `json:"version"`
	Sum     string `json:"sum,omitempty"`
	Replace string `json:"replace,omitempty"`
}

func readBuildInfo() buildInfo {
	out := buildInfo{Version: version, Commit: "unknown", Settings: map[string]string{}}
	if commit != "" {
		out.Commit = commit
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return out
	}
	if out.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		out.Version = bi.Main.Version
	}
	out.GoVersion = bi.GoVersion
	out.Module = bi.Main.Path
	var goos, goarch string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			out.Commit = s.Value
		case "vcs.time":
			out.CommitAt = s.Value
		case "vcs.modified":
			out.Modified = s.Value == "true"
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		case "CGO_ENABLED", "-trimpath", "-buildmode", "-tags", "GOAMD64", "GOARM64":
			out.Settings[s.Key] = s.Value
		}
	}
	out.Platform = goos + "/" + goarch
	for _, m := range bi.Deps {
		d := moduleInfo{Path: m.Path, Version: m.Version, Sum: m.Sum}
		if m.Replace != nil {
			d.Replace = m.Replace.Path + " " + m.Replace.Version
			d.Sum = m.Replace.Sum
		}
		out.Deps = append(out.Deps, d)
	}
	return out
}

func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "version [--json]", stderr)
	asJSON := fs.Bool("json", false, "print the build information as JSON")
	if err := parseFlags(fs, args, func(string) string { return "" }); err != nil {
		return err
	}
	info := readBuildInfo()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	commit := info.Commit
	if info.Modified {
		commit += " (modified)"
	}
	if info.CommitAt != "" {
		commit += " " + info.CommitAt
	}
	fmt.Fprintf(stdout, "gatehouse %s\n", info.Version)
	fmt.Fprintf(stdout, "commit: %s\n", commit)
	fmt.Fprintf(stdout, "go: %s %s\n", info.GoVersion, info.Platform)
	var settings []string
	for _, k := range []string{"CGO_ENABLED", "-trimpath", "-buildmode", "-tags", "GOAMD64", "GOARM64"} {
		if v, ok := info.Settings[k]; ok {
			settings = append(settings, k+"="+v)
		}
	}
	fmt.Fprintf(stdout, "build: %s\n", strings.Join(settings, " "))
	fmt.Fprintf(stdout, "module: %s\n", info.Module)
	for _, m := range info.Deps {
		line := m.Path + " " + m.Version
		if m.Replace != "" {
			line += " => " + m.Replace
		}
		if m.Sum != "" {
			line += " " + m.Sum
		}
		fmt.Fprintf(stdout, "dep: %s\n", line)
	}
	return nil
}
