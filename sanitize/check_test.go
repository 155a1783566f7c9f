package sanitize_test

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// This file holds the invariants that every output of Sanitizer.HTML must
// meet, whatever the input. They are written independently of the policy
// code (from the package documentation), and they check the output the way
// a browser would see it: parsed by an HTML5 tree builder as the content of
// a <div>, so character references are decoded exactly once and misnested
// markup is rearranged before anything is checked (mutation XSS shows up
// here, not in the token stream the sanitizer wrote).

// globalAttrs are allowed on every element.
var globalAttrs = set("dir", "lang", "title")

// allowed maps each allowed element to the attributes it may carry besides
// globalAttrs.
var allowed = map[string]map[string]bool{
	"a":          set("href", "rel"),
	"abbr":       nil,
	"acronym":    nil,
	"article":    nil,
	"aside":      nil,
	"b":          nil,
	"bdi":        nil,
	"bdo":        nil,
	"blockquote": set("cite"),
	"br":         nil,
	"caption":    nil,
	"cite":       nil,
	"code":       nil,
	"col":        set("align", "height", "width", "span", "valign"),
	"colgroup":   set("align", "height", "width", "span", "valign"),
	"dd":         nil,
	"del":        set("cite", "datetime"),
	"details":    set("open"),
	"dfn":        nil,
	"div":        nil,
	"dl":         nil,
	"dt":         nil,
	"em":         nil,
	"figcaption": nil,
	"figure":     nil,
	"h1":         nil,
	"h2":         nil,
	"h3":         nil,
	"h4":         nil,
	"h5":         nil,
	"h6":         nil,
	"hgroup":     nil,
	"hr":         nil,
	"i":          nil,
	"img":        set("align", "alt", "height", "width", "src"),
	"ins":        set("cite", "datetime"),
	"kbd":        nil,
	"li":         set("type", "value"),
	"mark":       nil,
	"meter":      set("value", "min", "max", "low", "high", "optimum"),
	"ol":         set("type"),
	"p":          nil,
	"pre":        nil,
	"progress":   set("value", "max"),
	"q":          set("cite"),
	"rp":         nil,
	"rt":         nil,
	"ruby":       nil,
	"s":          nil,
	"samp":       nil,
	"section":    nil,
	"small":      nil,
	"span":       nil,
	"strike":     nil,
	"strong":     nil,
	"sub":        nil,
	"summary":    nil,
	"sup":        nil,
	"table":      set("height", "width", "summary"),
	"tbody":      set("align", "valign"),
	"td":         set("abbr", "align", "colspan", "rowspan", "headers", "height", "width", "scope", "valign", "nowrap"),
	"tfoot":      set("align", "valign"),
	"th":         set("abbr", "align", "colspan", "rowspan", "headers", "height", "width", "scope", "valign", "nowrap"),
	"thead":      set("align", "valign"),
	"time":       set("datetime"),
	"tr":         set("align", "valign"),
	"tt":         nil,
	"u":          nil,
	"ul":         set("type"),
	"var":        nil,
	"wbr":        nil,
}

// urlAttrs are the attributes whose value a browser resolves as a URL.
// Only href, src and cite are on the allow-list; the rest are here so that a
// mistake in the list above cannot let one through unchecked.
var urlAttrs = set("href", "src", "cite", "action", "formaction", "data",
	"poster", "background", "dynsrc", "lowsrc", "srcset", "xlink:href",
	"codebase", "longdesc", "usemap", "manifest", "ping", "icon")

// wantRel is the rel every link must carry.
const wantRel = "nofollow noopener noreferrer"

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// problems parses out as a browser parses the content of a <div> and
// returns every way in which it breaks the invariants; nil means none.
func problems(out string) []string {
	var probs []string
	if !utf8.ValidString(out) {
		probs = append(probs, "output is not valid UTF-8")
	}
	ctx := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(strings.NewReader(out), ctx)
	if err != nil {
		return append(probs, fmt.Sprintf("output does not parse: %v", err))
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.CommentNode:
			// Comments can hide IE conditional comments and are a classic
			// mXSS carrier; the policy drops them all.
			probs = append(probs, fmt.Sprintf("comment %q", n.Data))
		case html.DoctypeNode:
			probs = append(probs, fmt.Sprintf("doctype %q", n.Data))
		case html.ElementNode:
			probs = append(probs, elementProblems(n)...)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	for _, n := range nodes {
		walk(n)
	}
	return probs
}

func elementProblems(n *html.Node) []string {
	var probs []string
	name := n.Data
	if n.Namespace != "" {
		// svg and math switch the parser into foreign content, where the
		// rules for raw text and CDATA differ; nothing may end up there.
		probs = append(probs, fmt.Sprintf("element <%s:%s> in foreign content", n.Namespace, name))
	}
	attrs, ok := allowed[name]
	if !ok {
		probs = append(probs, fmt.Sprintf("element <%s> is not on the allow-list", name))
	}
	var hasHref bool
	var rel string
	for _, a := range n.Attr {
		key := strings.ToLower(a.Key)
		if a.Namespace != "" {
			key = a.Namespace + ":" + key
		}
		switch {
		case strings.HasPrefix(key, "on"):
			probs = append(probs, fmt.Sprintf("event handler %s=%q on <%s>", key, a.Val, name))
		case key == "style":
			probs = append(probs, fmt.Sprintf("style=%q on <%s>", a.Val, name))
		case !globalAttrs[key] && !attrs[key]:
			probs = append(probs, fmt.Sprintf("attribute %s=%q on <%s> is not on the allow-list", key, a.Val, name))
		}
		if urlAttrs[key] {
			if s := scheme(a.Val); s != "" && s != "http" && s != "https" && s != "mailto" {
				probs = append(probs, fmt.Sprintf("%s=%q on <%s> has scheme %q", key, a.Val, name, s))
			}
		}
		if key == "href" {
			hasHref = true
		}
		if key == "rel" {
			rel = a.Val
		}
	}
	if name == "a" && hasHref && rel != wantRel {
		probs = append(probs, fmt.Sprintf("<a href> has rel=%q, want %q", rel, wantRel))
	}
	return probs
}

// scheme returns the lower-cased scheme of the URL u as a browser finds it,
// or "" for a relative URL. The value has already had its character
// references decoded by the HTML parser. The WHATWG URL Standard (basic URL
// parser) strips leading and trailing C0 controls and spaces and removes
// every tab and newline before it looks for the scheme; this strips every
// character up to U+0020 and DEL anywhere, which is stricter, so that
// "jav\tascript:" and "\x01javascript:" both count as javascript.
func scheme(u string) string {
	var b strings.Builder
	for _, r := range u {
		if r <= 0x20 || r == 0x7f {
			continue
		}
		b.WriteRune(r)
	}
	s := strings.ToLower(b.String())
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return s[:i]
		default:
			return ""
		}
	}
	return ""
}
