package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

// version is set at release time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func runVersion(stdout io.Writer) error {
	fmt.Fprintf(stdout, "gatehouse %s\n", version)
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	fmt.Fprintf(stdout, "go: %s\n", bi.GoVersion)
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision", "vcs.time", "vcs.modified", "CGO_ENABLED", "GOOS", "GOARCH":
			fmt.Fprintf(stdout, "%s: %s\n", s.Key, s.Value)
		}
	}
	for _, m := range bi.Deps {
		v := m.Version
		if m.Replace != nil {
			v += " => " + m.Replace.Path + " " + m.Replace.Version
		}
		fmt.Fprintf(stdout, "dep: %s %s\n", m.Path, v)
	}
	return nil
}
