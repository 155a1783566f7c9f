package docsui_test

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/docsui"
	"github.com/gatehouse/gatehouse/secheaders"
)

// newMux serves the UI as routes.go does.
func newMux(t *testing.T) (*http.ServeMux, *docsui.UI) {
	t.Helper()
	ui, err := docsui.New(docsui.Config{SpecURL: "openapi.json", ClientID: "gatehouse"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /docs", ui.Page())
	mux.Handle("GET /docs/{asset}", ui.Asset())
	return mux, ui
}

func get(h http.Handler, path string, header map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", path, nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestPage(t *testing.T) {
	mux, ui := newMux(t)
	w := get(mux, "/docs", nil)
	if w.Code != http.StatusOK {
		t.Fatalf("GET /docs: got %d, want 200", w.Code)
	}
	for k, want := range map[string]string{
		"Content-Security-Policy": docsui.CSP,
		"Content-Type":            "text/html; charset=utf-8",
		"Cache-Control":           "no-cache",
	} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s: got %q, want %q", k, got, want)
		}
	}
	body := w.Body.String()
	// Every linked asset is served; nothing else is linked.
	links := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(body, -1)
	var linked int
	for _, l := range links {
		switch u := l[1]; {
		case u == "openapi.json" || u == "data:,":
		case strings.HasPrefix(u, "docs/"):
			linked++
			if a := get(mux, "/"+u, nil); a.Code != http.StatusOK {
				t.Errorf("the page links %s, which answers %d", u, a.Code)
			}
		default:
			t.Errorf("the page links %q, outside the embedded assets", u)
		}
	}
	if linked != len(ui.AssetNames()) {
		t.Errorf("the page links %d assets, want %d", linked, len(ui.AssetNames()))
	}
	// No inline script or style: the CSP would refuse it.
	for _, bad := range []string{"<script>", "<style", " style=", "javascript:"} {
		if strings.Contains(body, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	if m := regexp.MustCompile(`\son[a-z]+=`).FindString(body); m != "" {
		t.Errorf("the page has an inline event handler %q", m)
	}
	if !strings.Contains(body, `data-openapi-url="openapi.json"`) || !strings.Contains(body, `data-client-id="gatehouse"`) {
		t.Errorf("the page does not carry its configuration: %s", body)
	}
	// Revalidation.
	if w2 := get(mux, "/docs", map[string]string{"If-None-Match": w.Header().Get("ETag")}); w2.Code != http.StatusNotModified {
		t.Errorf("GET /docs with its ETag: got %d, want 304", w2.Code)
	}
}

func TestCSP(t *testing.T) {
	if err := secheaders.ValidateCSP(docsui.CSP); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*", "http:", "https:"} {
		if strings.Contains(docsui.CSP, bad) {
			t.Errorf("the CSP allows %q", bad)
		}
	}
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"} {
		if !strings.Contains(docsui.CSP, want) {
			t.Errorf("the CSP lacks %q", want)
		}
	}
}

func TestAssets(t *testing.T) {
	mux, ui := newMux(t)
	hashed := regexp.MustCompile(`^[a-z-]+\.[0-9a-f]{12}\.(js|css)$`)
	for _, name := range ui.AssetNames() {
		t.Run(name, func(t *testing.T) {
			if !hashed.MatchString(name) {
				t.Errorf("name %q carries no content hash", name)
			}
			w := get(mux, "/docs/"+name, nil)
			if w.Code != http.StatusOK {
				t.Fatalf("got %d, want 200", w.Code)
			}
			if got := w.Header().Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
				t.Errorf("Cache-Control: got %q", got)
			}
			wantType := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}[filepath.Ext(name)]
			if got := w.Header().Get("Content-Type"); got != wantType {
				t.Errorf("Content-Type: got %q, want %q", got, wantType)
			}
			tag := w.Header().Get("ETag")
			if tag == "" {
				t.Fatal("no ETag")
			}
			if w2 := get(mux, "/docs/"+name, map[string]string{"If-None-Match": tag}); w2.Code != http.StatusNotModified {
				t.Errorf("with If-None-Match: got %d, want 304", w2.Code)
			}
			// The name's hash is of the content.
			sum := sha256.Sum256(w.Body.Bytes())
			if !strings.Contains(name, hex.EncodeToString(sum[:6])) {
				t.Errorf("the name's hash is not the content's")
			}
			if name[:4] != "docs" {
				// gzip for the large vendored files, with its own ETag.
				z := get(mux, "/docs/"+name, map[string]string{"Accept-Encoding": "gzip, br"})
				if z.Header().Get("Content-Encoding") != "gzip" {
					t.Fatalf("Accept-Encoding gzip: got Content-Encoding %q", z.Header().Get("Content-Encoding"))
				}
				if z.Header().Get("ETag") == tag {
					t.Errorf("the gzip representation shares the ETag of the identity one")
				}
				if !strings.Contains(z.Header().Get("Vary"), "Accept-Encoding") {
					t.Errorf("Vary: got %q", z.Header().Get("Vary"))
				}
				zr, err := gzip.NewReader(z.Body)
				if err != nil {
					t.Fatal(err)
				}
				plain, _ := io.ReadAll(zr)
				if string(plain) != w.Body.String() {
					t.Errorf("the gzip body does not decompress to the asset")
				}
				if q := get(mux, "/docs/"+name, map[string]string{"Accept-Encoding": "gzip;q=0"}); q.Header().Get("Content-Encoding") != "" {
					t.Errorf("gzip;q=0: got Content-Encoding %q", q.Header().Get("Content-Encoding"))
				}
			}
		})
	}
}

func TestUnknownAsset(t *testing.T) {
	mux, _ := newMux(t)
	for _, p := range []string{"/docs/swagger-ui-bundle.js", "/docs/swagger-ui-bundle.000000000000.js", "/docs/index.html", "/docs/LICENSE", "/docs/..%2fdocsui.go"} {
		w := get(mux, p, nil)
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s: got %d, want 404", p, w.Code)
		}
		if ct := w.Header().Get("Content-Type"); w.Code == http.StatusNotFound && ct != "application/problem+json" {
			t.Errorf("GET %s: Content-Type %q, want problem details", p, ct)
		}
	}
}

// TestVendoredFiles checks the vendored Swagger UI files against the
// checksums SOURCES.md records, so that a changed file is not shipped
// without its provenance being updated.
func TestVendoredFiles(t *testing.T) {
	f, err := os.Open("SOURCES.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line := regexp.MustCompile("^\\| `(swagger-ui/[^`]+)` \\| `([0-9a-f]{64})` \\|")
	listed := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := line.FindStringSubmatch(sc.Text()); m != nil {
			listed[m[1]] = m[2]
		}
	}
	entries, err := os.ReadDir("assets/swagger-ui")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(listed) {
		t.Errorf("assets/swagger-ui has %d files, SOURCES.md lists %d", len(entries), len(listed))
	}
	for _, e := range entries {
		name := "swagger-ui/" + e.Name()
		b, err := os.ReadFile(filepath.Join("assets", name))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != listed[name] {
			t.Errorf("%s: sha256 %s, SOURCES.md says %q", name, got, listed[name])
		}
	}
}
