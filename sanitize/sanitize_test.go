package sanitize_test

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/sanitize"
)

// corpus reads testdata/xss.txt: one payload per line, "#" comments, and
// "go:" lines holding a Go string literal for payloads with control bytes.
func corpus(t testing.TB) []string {
	t.Helper()
	f, err := os.Open("testdata/xss.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var payloads []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case line == "", strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, "go:"):
			s, err := strconv.Unquote(strings.TrimPrefix(line, "go:"))
			if err != nil {
				t.Fatalf("xss.txt:%d: %v", n, err)
			}
			line = s
		}
		payloads = append(payloads, line)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return payloads
}

func TestXSSCorpus(t *testing.T) {
	payloads := corpus(t)
	if got, want := len(payloads), 80; got < want {
		t.Fatalf("got %d payloads in testdata/xss.txt, want at least %d", got, want)
	}
	s := sanitize.New()
	for i, in := range payloads {
		t.Run(strconv.Itoa(i+1), func(t *testing.T) {
			out := s.HTML(in)
			for _, p := range problems(out) {
				t.Errorf("HTML(%q) = %q: %s", in, out, p)
			}
			if again := s.HTML(out); again != out {
				t.Errorf("HTML(HTML(%q)): got %q, want %q (not idempotent)", in, again, out)
			}
		})
	}
}

// TestDangerousRemoved pins the exact result for some payloads of each
// kind, so that a change in what survives (text kept or dropped) is seen in
// review, not only whether it is safe.
func TestDangerousRemoved(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"script", `<p>hi<script>alert(1)</script></p>`, `<p>hi</p>`},
		{"nested script", `<scr<script>ipt>alert(1)</script>`, `ipt&gt;alert(1)`},
		{"img onerror", `<img src=x onerror=alert(1)>`, `<img src="x">`},
		{"svg onload", `<svg onload=alert(1)>`, ``},
		{"body onload", `<body onload=alert(1)>text`, `text`},
		{"iframe srcdoc", `<iframe srcdoc="<script>alert(1)</script>"></iframe>x`, `x`},
		{"javascript href", `<a href="javascript:alert(1)">x</a>`, `x`},
		{"tab in scheme", `<a href="jav&#x09;ascript:alert(1)">x</a>`, `x`},
		{"entity scheme", `<a href="&#106;avascript:alert(1)">x</a>`, `x`},
		{"mixed case scheme", `<a href="JaVaScRiPt:alert(1)">x</a>`, `x`},
		{"NUL in scheme", "<a href=\"java\x00script:alert(1)\">x</a>", `x`},
		{"vbscript", `<a href="vbscript:msgbox(1)">x</a>`, `x`},
		{"data html", `<a href="data:text/html,<script>alert(1)</script>">x</a>`, `x`},
		{"data image", `<img src="data:image/png;base64,iVBORw0KGgo=">`, ``},
		{"meta refresh", `<meta http-equiv="refresh" content="0;url=javascript:alert(1)">`, ``},
		{"style attribute", `<p style="width: expression(alert(1))">x</p>`, `<p>x</p>`},
		{"style element", `<style>p{background:url(javascript:alert(1))}</style>x`, `x`},
		{"class and id", `<p class="admin" id="csrf-token">x</p>`, `<p>x</p>`},
		{"target", `<a href="http://example.com/" target="_top">x</a>`, `<a href="http://example.com/" rel="nofollow noopener noreferrer">x</a>`},
		{"user rel", `<a href="/x" rel="opener">x</a>`, `<a href="/x" rel="nofollow noopener noreferrer">x</a>`},
		{"textarea mxss", `<textarea><img src=x onerror=alert(1)></textarea>`, `&lt;img src=x onerror=alert(1)&gt;`},
		{"noscript mxss", `<noscript><p title="</noscript><img src=x onerror=alert(1)>">`, `<img src="x">&#34;&gt;`},
		{"form", `<form action="/x"><input name=a><button>go</button></form>`, `go`},
		{"base", `<base href="http://evil.example/">`, ``},
		{"link", `<link rel=stylesheet href="http://evil.example/x.css">`, ``},
		{"object", `<object data="x.swf"><embed src="x.swf"></object>`, ``},
		{"comment", `a<!-- <img src=x onerror=alert(1)> -->b`, `ab`},
	}
	s := sanitize.New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.HTML(tt.in); got != tt.want {
				t.Errorf("HTML(%q): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestFormattingKept(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"paragraphs", `<p>one</p><p>two</p>`, `<p>one</p><p>two</p>`},
		{"bold italic", `<b>b</b> <i>i</i> <em>em</em> <strong>strong</strong>`, `<b>b</b> <i>i</i> <em>em</em> <strong>strong</strong>`},
		{"lists", `<ul><li>a</li></ul><ol><li>b</li></ol>`, `<ul><li>a</li></ul><ol><li>b</li></ol>`},
		{"link", `<a href="https://example.com/a?b=1&amp;c=2">x</a>`, `<a href="https://example.com/a?b=1&amp;c=2" rel="nofollow noopener noreferrer">x</a>`},
		{"relative link", `<a href="/notes/1">x</a>`, `<a href="/notes/1" rel="nofollow noopener noreferrer">x</a>`},
		{"mailto", `<a href="mailto:a@example.com">x</a>`, `<a href="mailto:a@example.com" rel="nofollow noopener noreferrer">x</a>`},
		{"code pre", `<pre><code>if a &lt; b {}</code></pre>`, `<pre><code>if a &lt; b {}</code></pre>`},
		{"blockquote", `<blockquote cite="https://example.com/">q</blockquote>`, `<blockquote cite="https://example.com/">q</blockquote>`},
		{"headings", `<h1>1</h1><h2>2</h2><h3>3</h3><h4>4</h4><h5>5</h5><h6>6</h6>`, `<h1>1</h1><h2>2</h2><h3>3</h3><h4>4</h4><h5>5</h5><h6>6</h6>`},
		{"table", `<table><thead><tr><th>h</th></tr></thead><tbody><tr><td colspan="2">d</td></tr></tbody></table>`, `<table><thead><tr><th>h</th></tr></thead><tbody><tr><td colspan="2">d</td></tr></tbody></table>`},
		{"image", `<img src="https://example.com/a.png" alt="a">`, `<img src="https://example.com/a.png" alt="a">`},
		{"title and lang", `<span title="t" lang="pt-BR">x</span>`, `<span title="t" lang="pt-BR">x</span>`},
		{"text escaped", `a < b & "c"`, `a &lt; b &amp; &#34;c&#34;`},
		{"unicode", `<p>héllo 世界 🙂</p>`, `<p>héllo 世界 🙂</p>`},
	}
	s := sanitize.New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.HTML(tt.in)
			if got != tt.want {
				t.Errorf("HTML(%q): got %q, want %q", tt.in, got, tt.want)
			}
			for _, p := range problems(got) {
				t.Errorf("HTML(%q) = %q: %s", tt.in, got, p)
			}
		})
	}
}

func TestInvalidUTF8(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"invalid byte", "a\xffb", "a\uFFFDb"},
		{"NUL", "a\x00b", "a\uFFFDb"},
	}
	s := sanitize.New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.HTML(tt.in); got != tt.want {
				t.Errorf("HTML(%q): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestZeroValue(t *testing.T) {
	const in = `<p onclick="alert(1)"><a href="/x">x</a></p>`
	want := sanitize.New().HTML(in)
	var zero sanitize.Sanitizer
	if got := zero.HTML(in); got != want {
		t.Errorf("zero Sanitizer HTML(%q): got %q, want %q", in, got, want)
	}
	var nilS *sanitize.Sanitizer
	if got := nilS.HTML(in); got != want {
		t.Errorf("nil *Sanitizer HTML(%q): got %q, want %q", in, got, want)
	}
}

// TestConcurrent runs the sanitizer from many goroutines; with -race it
// shows that the shared policy is only read.
func TestConcurrent(t *testing.T) {
	s := sanitize.New()
	payloads := corpus(t)
	want := make([]string, len(payloads))
	for i, p := range payloads {
		want[i] = s.HTML(p)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for i, p := range payloads {
				if got := s.HTML(p); got != want[i] {
					t.Errorf("HTML(%q) concurrently: got %q, want %q", p, got, want[i])
				}
			}
		})
	}
	wg.Wait()
}

func TestText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "Shopping list", "Shopping list"},
		{"tags removed", "<b>bold</b> and <a href='/x'>link</a>", "bold and link"},
		{"script dropped", "a<script>alert(1)</script>b", "ab"},
		{"escaped", `Tom & "Jerry" <3`, "Tom &amp; &#34;Jerry&#34; &lt;3"},
		{"entity kept escaped", "&lt;script&gt;", "&lt;script&gt;"},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sanitize.Text(tt.in)
			if got != tt.want {
				t.Errorf("Text(%q): got %q, want %q", tt.in, got, tt.want)
			}
			if strings.ContainsAny(got, `<>"'`) {
				t.Errorf("Text(%q) = %q: got markup characters, want none", tt.in, got)
			}
		})
	}
}

func TestTextCorpus(t *testing.T) {
	for i, in := range corpus(t) {
		got := sanitize.Text(in)
		if strings.ContainsAny(got, `<>"'`) {
			t.Errorf("payload %d: Text(%q) = %q: got markup characters, want none", i+1, in, got)
		}
	}
}
