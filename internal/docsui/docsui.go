// Package docsui serves the interactive API reference (Swagger UI) from
// assets embedded in the binary: no CDN, no network access beyond the
// server itself, so it works offline and loads nothing a third party
// could change.
//
// The page is index.html with a Content-Security-Policy of its own (CSP),
// stricter than most documentation pages: scripts and styles come only
// from this origin as files, never inline, so an injected tag runs
// nothing (OWASP ASVS 5.0 3.4.3). The start-up script is docs.js rather
// than the inline snippet Swagger UI's own index.html uses.
//
// Assets are served under names that carry a hash of their content
// (swagger-ui-bundle.0123456789ab.js), so browsers and shared caches may
// keep them for a year (immutable): a new release changes the name. The
// page itself is revalidated on every load (no-cache with an ETag).
// Where the client accepts it, assets are sent gzip-compressed, made
// once on first use.
//
// The vendored Swagger UI files, their version and licence are listed in
// SOURCES.md; scripts/update-docsui copies them from npm.
package docsui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/problem"
)

// CSP is the Content-Security-Policy of the page. Each directive is as
// narrow as the Swagger UI bundle allows (scripts/docs-check loads the
// page in Chromium and fails on any violation):
//
//   - default-src 'none': whatever is not listed below is refused
//     (fonts, frames, workers, media, manifests, objects).
//   - script-src 'self': the bundle and docs.js as files; no inline
//     script, no eval.
//   - style-src 'self': the two stylesheets as files. Swagger UI (React)
//     sets styles through the DOM (element.style), which CSP does not
//     restrict, so no 'unsafe-inline' is needed.
//   - img-src 'self' data:: the stylesheet draws its icons as data: URIs
//     (and the page's empty favicon is one).
//   - connect-src 'self': the OpenAPI document, the token endpoint and
//     "Try it out" requests, all to this origin.
//   - frame-ancestors 'none', base-uri 'none', form-action 'none': no
//     framing (clickjacking), no <base> to redirect relative URLs, no
//     form submission anywhere (the UI sends requests with fetch).
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// assetCacheControl is sent with hashed assets: their content never
// changes under one name (RFC 8246 immutable).
const assetCacheControl = "public, max-age=31536000, immutable"

//go:embed assets
var files embed.FS

// pageAssets are the files the page links to, by their path under assets/.
var pageAssets = []string{"swagger-ui/swagger-ui-bundle.js", "swagger-ui/swagger-ui.css", "docs.js", "docs.css"}

// asset is one file served under its hashed name.
type asset struct {
	name        string // hashed name, such as swagger-ui.0123456789ab.css
	contentType string
	body        []byte
	etag        string

	gzipOnce sync.Once
	gz       []byte // nil: compression does not pay off
	gzETag   string
}

// UI is the docs page and its assets.
type UI struct {
	page     []byte
	pageETag string
	assets   map[string]*asset // by hashed name
}

// Config says what the page points at.
type Config struct {
	// SpecURL is the OpenAPI document's URL, relative to the page
	// (GET /docs): "openapi.json" for /openapi.json.
	SpecURL string
	// ClientID is the OAuth2 client ID that Authorize sends.
	ClientID string
}

// New prepares the page and its assets. The page links to assets as
// "docs/NAME", relative to its own URL, so routes must serve the page at
// PREFIX/docs and the assets at PREFIX/docs/{name}.
func New(c Config) (*UI, error) {
	u := &UI{assets: map[string]*asset{}}
	links := map[string]string{}
	for _, p := range pageAssets {
		body, err := files.ReadFile("assets/" + p)
		if err != nil {
			return nil, fmt.Errorf("docsui: %w", err)
		}
		a := newAsset(path.Base(p), body)
		u.assets[a.name] = a
		links[p] = "docs/" + a.name
	}
	tmpl, err := template.New("index.html").Funcs(template.FuncMap{
		"asset": func(p string) (string, error) {
			if l, ok := links[p]; ok {
				return l, nil
			}
			return "", fmt.Errorf("asset %q is not in pageAssets", p)
		},
	}).ParseFS(files, "assets/index.html")
	if err != nil {
		return nil, fmt.Errorf("docsui: %w", err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, c); err != nil {
		return nil, fmt.Errorf("docsui: %w", err)
	}
	u.page = b.Bytes()
	u.pageETag = etag(u.page, "")
	return u, nil
}

func newAsset(base string, body []byte) *asset {
	sum := sha256.Sum256(body)
	ext := path.Ext(base)
	a := &asset{
		name: strings.TrimSuffix(base, ext) + "." + hex.EncodeToString(sum[:6]) + ext,
		body: body,
		etag: etag(body, ""),
	}
	switch ext {
	case ".js":
		a.contentType = "text/javascript; charset=utf-8"
	case ".css":
		a.contentType = "text/css; charset=utf-8"
	default:
		a.contentType = "application/octet-stream"
	}
	return a
}

// etag is a strong entity tag of body; suffix tells encodings apart
// (RFC 9110 §8.8.3: each representation has its own).
func etag(body []byte, suffix string) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:16]) + suffix + `"`
}

// AssetNames lists the hashed names the page links to, sorted.
func (u *UI) AssetNames() []string {
	var names []string
	for n := range u.assets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Page serves the docs page with CSP. It holds no personal data; it is
// revalidated on every load so that a new release's asset names are seen
// at once.
func (u *UI) Page() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", u.pageETag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(u.page))
	})
}

// Asset serves the asset named by the last element of the request path;
// an unknown name (an old hash included) is a 404 problem.
func (u *UI) Asset() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := u.assets[path.Base(r.URL.Path)]
		if !ok {
			problem.Write(w, r, problem.New(http.StatusNotFound, "No such resource."))
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", assetCacheControl)
		h.Add("Vary", "Accept-Encoding")
		body, tag := a.body, a.etag
		if acceptsGzip(r) {
			if gz, gzTag := a.gzipped(); gz != nil {
				body, tag = gz, gzTag
				h.Set("Content-Encoding", "gzip")
			}
		}
		h.Set("ETag", tag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}

// gzipped compresses the asset once; it returns nil when that saves less
// than a tenth.
func (a *asset) gzipped() ([]byte, string) {
	a.gzipOnce.Do(func() {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		_, _ = zw.Write(a.body) // a bytes.Buffer does not fail
		_ = zw.Close()
		if b.Len() < len(a.body)*9/10 {
			a.gz = b.Bytes()
			a.gzETag = etag(a.body, "-gzip")
		}
	})
	return a.gz, a.gzETag
}

// acceptsGzip reports whether Accept-Encoding lists gzip with a non-zero
// weight (RFC 9110 §12.5.3).
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q := strings.ReplaceAll(strings.ToLower(params), " ", "")
			return !(q == "q=0" || strings.HasPrefix(q, "q=0.") && strings.Trim(q[4:], "0") == "")
		}
	}
	return false
}
