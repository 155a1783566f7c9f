package sanitize_test

import (
	"fmt"

	"github.com/gatehouse/gatehouse/sanitize"
)

func ExampleSanitizer_HTML() {
	s := sanitize.New() // build once, share between handlers and goroutines
	fmt.Println(s.HTML(`<p onclick="steal()">Hi <b>there</b><script>alert(1)</script></p>`))
	fmt.Println(s.HTML(`<a href="https://example.com/" target="_blank">docs</a> <a href="javascript:alert(1)">click</a>`))
	// Output:
	// <p>Hi <b>there</b></p>
	// <a href="https://example.com/" rel="nofollow noopener noreferrer">docs</a> click
}

func ExampleText() {
	fmt.Println(sanitize.Text(`<h1>Tom &amp; Jerry</h1><script>alert(1)</script>`))
	// Output:
	// Tom &amp; Jerry
}
