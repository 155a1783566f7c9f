package main

import (
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"
)

func TestPURL(t *testing.T) {
	cases := []struct{ path, version, want string }{
		{"github.com/google/uuid", "v1.6.0", "pkg:golang/github.com/google/uuid@v1.6.0?type=module"},
		{"example.com/old", "v2.0.0+incompatible", "pkg:golang/example.com/old@v2.0.0%2Bincompatible?type=module"},
		{"example.com/x", "", "pkg:golang/example.com/x?type=module"},
	}
	for _, c := range cases {
		if got := purl(c.path, c.version); got != c.want {
			t.Errorf("purl(%q, %q): got %q, want %q", c.path, c.version, got, c.want)
		}
	}
}

func TestFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.27.3",
		Main:      debug.Module{Path: "github.com/gatehouse/gatehouse", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "github.com/google/uuid", Version: "v1.6.0", Sum: "h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0="},
			{Path: "example.com/a", Version: "v1.0.0", Replace: &debug.Module{Path: "example.com/fork", Version: "v1.0.1"}},
		},
		Settings: []debug.BuildSetting{{Key: "CGO_ENABLED", Value: "0"}, {Key: "GOOS", Value: "linux"}},
	}
	doc := fromBuildInfo(bi, "1700000000", "v1.2.3")
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		`"bomFormat":"CycloneDX"`, `"specVersion":"1.5"`, `"timestamp":"2023-11-14T22:13:20Z"`,
		`"purl":"pkg:golang/github.com/gatehouse/gatehouse@v1.2.3?type=module"`,
		`"name":"go:build:CGO_ENABLED","value":"0"`,
		`"purl":"pkg:golang/std@go1.27.3"`,
		// h1: is base64 of SHA-256; the SBOM gives it as hex.
		`{"alg":"SHA-256","content":"348bda24330eb231c0f27d630212d2833ac0cf2d4782bfa136b6f9edefbde05d"}`,
		`"purl":"pkg:golang/example.com/fork@v1.0.1?type=module"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the SBOM lacks %s:\n%s", want, s)
		}
	}
	if len(doc.Dependencies) != 1 || len(doc.Dependencies[0].DependsOn) != 3 {
		t.Errorf("got dependencies %+v, want the main module depending on std and both modules", doc.Dependencies)
	}
	if d := fromBuildInfo(bi, "", ""); d.Metadata.Timestamp != "" || d.Metadata.Component.Version != "(devel)" {
		t.Errorf("without SOURCE_DATE_EPOCH and VERSION: got timestamp %q, version %q", d.Metadata.Timestamp, d.Metadata.Component.Version)
	}
}
