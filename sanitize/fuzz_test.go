package sanitize_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/sanitize"
)

// FuzzHTML checks the invariants of problems (allow-listed elements and
// attributes only, no event handlers or style, only http, https, mailto or
// relative URLs, every link with rel="nofollow noopener noreferrer") on
// arbitrary input, and that sanitizing is idempotent: a second pass over the
// output changes nothing, so stored notes that are sanitized again (after an
// edit, or by a newer version) stay as they are. Seeds: testdata/xss.txt
// and testdata/fuzz/FuzzHTML.
func FuzzHTML(f *testing.F) {
	for _, p := range corpus(f) {
		f.Add(p)
	}
	s := sanitize.New()
	f.Fuzz(func(t *testing.T, in string) {
		out := s.HTML(in)
		for _, p := range problems(out) {
			t.Errorf("HTML(%q) = %q: %s", in, out, p)
		}
		if again := s.HTML(out); again != out {
			t.Errorf("HTML(HTML(%q)): got %q, want %q (not idempotent)", in, again, out)
		}
		if txt := sanitize.Text(in); strings.ContainsAny(txt, `<>"'`) {
			t.Errorf("Text(%q) = %q: got markup characters, want none", in, txt)
		}
	})
}

func BenchmarkHTML(b *testing.B) {
	doc := benchDoc()
	s := sanitize.New()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		s.HTML(doc)
	}
}

// benchDoc returns a note of about 10 KB: ordinary formatting with links,
// a table and code, sprinkled with markup the policy removes.
func benchDoc() string {
	const block = `<h2>Meeting notes</h2>
<p>Discussed the <b>release plan</b> and the <em>migration</em>; see <a href="https://example.com/plan?id=42&amp;v=2" target="_blank">the plan</a>.</p>
<ul><li>Ship <code>v1.2</code></li><li onclick="x()">Rotate keys</li><li>Write docs</li></ul>
<blockquote cite="https://example.com/q">Quality is not an act, it is a habit.</blockquote>
<table><thead><tr><th>Task</th><th>Owner</th></tr></thead><tbody><tr><td>API</td><td style="color:red">Ana</td></tr></tbody></table>
<pre><code>func main() { fmt.Println("hi &lt;3") }</code></pre>
<img src="https://example.com/chart.png" alt="chart" onerror="alert(1)"><script>alert(1)</script>
`
	var b strings.Builder
	for b.Len() < 10*1024 {
		b.WriteString(block)
	}
	return b.String()
}
