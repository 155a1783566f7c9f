package jsonbody

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/problem"
)

// MaxErrors is the most field errors one response lists. A body of 1 MiB
// could otherwise produce a response many times its size.
const MaxErrors = 50

// decoder reads one body that encoding/json has already found to be exactly
// one well-formed JSON value (json.Valid), so it does not check the grammar
// again: it only has to find the ends of tokens. It decodes into Go values
// and checks the rules in the same pass.
type decoder struct {
	data []byte
	pos  int

	errs []problem.FieldError
	more bool // errors were dropped after MaxErrors
	// shape is set by any error other than a tag rule: the value does not
	// reflect the body, so Validate methods are not run on it.
	shape bool
	// badText is set by a \u escape of an unpaired surrogate (RFC 8259
	// §8.2). encoding/json would turn it into U+FFFD; the body is refused.
	badText bool

	path    []seg
	pathBuf [8]seg   // backs path for bodies less than 9 levels deep
	keys    [][]byte // names of the objects being checked for duplicates
	buf     []byte   // scratch for unescaping strings
}

var decoders = sync.Pool{New: func() any { return new(decoder) }}

func getDecoder(body []byte) *decoder {
	d := decoders.Get().(*decoder)
	d.data = body
	d.path = d.pathBuf[:0]
	return d
}

// putDecoder returns d to the pool. Everything that refers to the request
// (its body, names, errors and locations) is dropped, so nothing of one
// request can leak into another or be kept alive by the pool; only empty
// scratch space is kept, and not when a large body made it large.
func putDecoder(d *decoder) {
	buf, keys := d.buf[:0], d.keys[:0]
	clear(keys[:cap(keys)])
	if cap(buf) > 4<<10 {
		buf = nil
	}
	if cap(keys) > 256 {
		keys = nil
	}
	*d = decoder{buf: buf, keys: keys}
	decoders.Put(d)
}

// seg is one step of the location of the value being read.
type seg struct {
	name  string
	key   []byte // a name not yet turned into a string
	index int    // -1 unless this step is an array index
}

func (d *decoder) push(name string)   { d.path = append(d.path, seg{name: name, index: -1}) }
func (d *decoder) pushKey(k []byte)   { d.path = append(d.path, seg{key: k, index: -1}) }
func (d *decoder) pushIndex(i int)    { d.path = append(d.path, seg{index: i}) }
func (d *decoder) pop()               { d.path = d.path[:len(d.path)-1] }
func (d *decoder) failShape(m string) { d.shape = true; d.fail(m) }

// fail records an error at the current location, unless that location
// already has one: the contract is one error per bad field.
func (d *decoder) fail(msg string) {
	if len(d.errs) >= MaxErrors {
		d.more = true // checked first: a location can be long to build
		return
	}
	addError(&d.errs, &d.more, problem.FieldError{Location: d.location(), Message: msg})
}

// addError appends fe unless its location already has an error or the list
// is full.
func addError(errs *[]problem.FieldError, more *bool, fe problem.FieldError) {
	if len(*errs) >= MaxErrors {
		*more = true
		return
	}
	for _, e := range *errs {
		if e.Location == fe.Location {
			return
		}
	}
	*errs = append(*errs, fe)
}

// maxDepthInLocation bounds the steps written in a location. Only values of
// type any can be deeper; without the bound, 1 MiB of nested objects could
// make locations, and so the response, many times larger than the body.
const maxDepthInLocation = 32

func (d *decoder) location() string {
	var b strings.Builder
	b.WriteString("body")
	for i, s := range d.path {
		if i == maxDepthInLocation {
			b.WriteString("…")
			break
		}
		switch {
		case s.index >= 0:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
		case s.key != nil:
			writeName(&b, string(s.key))
		default:
			writeName(&b, s.name)
		}
	}
	return b.String()
}

// maxNameInLocation bounds how much of a client's object name is echoed in a
// location, so one long unknown name cannot make a huge response.
const maxNameInLocation = 64

// writeName writes .name when name is a plain identifier, and ["name"]
// otherwise, so that a name holding a dot or a bracket cannot make a
// location that points at a different field.
func writeName(b *strings.Builder, name string) {
	plain := name != ""
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '$') {
			plain = false
			break
		}
	}
	if len(name) > maxNameInLocation {
		plain = false
		cut := maxNameInLocation
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut] + "…"
	}
	if plain {
		b.WriteByte('.')
		b.WriteString(name)
		return
	}
	b.WriteByte('[')
	b.WriteString(strconv.Quote(name))
	b.WriteByte(']')
}

func (d *decoder) skipWS() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// value reads the next value into v, which has the Go type of n.
func (d *decoder) value(n *node, v reflect.Value) {
	d.skipWS()
	if d.data[d.pos] == 'n' {
		d.pos += len("null")
		if !n.nullable {
			d.failShape("must not be null")
			return
		}
		v.SetZero()
		return
	}
	if n.pointer {
		// Always a fresh pointee: the value in *dst is never written through.
		p := reflect.New(n.typ)
		d.nonNull(n, p.Elem())
		v.Set(p)
		return
	}
	d.nonNull(n, v)
}

var typeMessages = [...]string{
	kindString: "must be a string",
	kindBool:   "must be a boolean",
	kindInt:    "must be an integer",
	kindUint:   "must be an integer",
	kindFloat:  "must be a number",
	kindStruct: "must be an object",
	kindSlice:  "must be an array",
	kindMap:    "must be an object",
	kindText:   "must be a string",
	kindBytes:  "must be a base64-encoded string",
}

// wrongType records a type error and skips the value.
func (d *decoder) wrongType(n *node) {
	d.failShape(typeMessages[n.kind])
	d.skip()
}

// nonNull reads a value that is not null into v, which has type n.typ.
func (d *decoder) nonNull(n *node, v reflect.Value) {
	c := d.data[d.pos]
	switch n.kind {
	case kindString:
		if c != '"' {
			d.wrongType(n)
			return
		}
		s := d.str()
		if n.rules != nil {
			if msg := n.rules.checkString(s); msg != "" {
				d.fail(msg)
			}
		}
		v.SetString(s)

	case kindBool:
		switch c {
		case 't':
			d.pos += len("true")
			v.SetBool(true)
		case 'f':
			d.pos += len("false")
			v.SetBool(false)
		default:
			d.wrongType(n)
		}

	case kindInt, kindUint, kindFloat:
		if c != '-' && (c < '0' || c > '9') {
			d.wrongType(n)
			return
		}
		d.number(n, v)

	case kindStruct:
		if c != '{' {
			d.wrongType(n)
			return
		}
		d.object(n.strct, v)

	case kindSlice:
		if c != '[' {
			d.wrongType(n)
			return
		}
		d.array(n, v)

	case kindMap:
		if c != '{' {
			d.wrongType(n)
			return
		}
		d.mapObject(n, v)

	case kindAny:
		start := d.pos
		d.checked()
		// A fresh value: encoding/json decodes into a pointer already held
		// by an interface, which would write through to *dst.
		var x any
		if err := json.Unmarshal(d.data[start:d.pos], &x); err != nil {
			d.failShape("has an invalid value") // cannot happen: the value is valid JSON
			return
		}
		if x == nil {
			v.SetZero()
		} else {
			v.Set(reflect.ValueOf(x))
		}

	case kindUnmarshaler:
		start := d.pos
		d.checked()
		p := reflect.New(n.typ)
		if err := p.Interface().(json.Unmarshaler).UnmarshalJSON(d.data[start:d.pos]); err != nil {
			// The library's message may echo the input; it stays here.
			d.failShape(n.invalid)
			return
		}
		v.Set(p.Elem())

	case kindText:
		if c != '"' {
			d.wrongType(n)
			return
		}
		s := d.str()
		p := reflect.New(n.typ)
		if err := p.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			d.failShape(n.invalid)
			return
		}
		v.Set(p.Elem())

	case kindBytes:
		if c != '"' {
			d.wrongType(n)
			return
		}
		b, err := base64.StdEncoding.DecodeString(d.str())
		if err != nil {
			d.failShape(typeMessages[kindBytes])
			return
		}
		v.SetBytes(b)
	}
}

// number reads an int, uint or float. Integers must be written as integers:
// 13.5, 13.0 and 1e1 are refused, as encoding/json refuses them, rather than
// being truncated or rounded (ASVS 5.0 §15.3.5: no type juggling). Values
// that do not fit the Go type are refused, never wrapped (ASVS 5.0 §1.4.2).
func (d *decoder) number(n *node, v reflect.Value) {
	start := d.pos
	integral := true
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c >= '0' && c <= '9' || c == '-' {
			d.pos++
			continue
		}
		if c == '.' || c == 'e' || c == 'E' || c == '+' {
			integral = false
			d.pos++
			continue
		}
		break
	}
	lit := d.data[start:d.pos]
	r := n.rules

	switch n.kind {
	case kindFloat:
		f, err := strconv.ParseFloat(string(lit), n.bits)
		if err != nil {
			d.failShape("must be a number that fits a " + n.typ.Kind().String())
			return
		}
		if r != nil {
			if r.min != nil && f < r.min.f {
				d.fail("must be at least " + r.min.src)
			} else if r.max != nil && f > r.max.f {
				d.fail("must be at most " + r.max.src)
			}
		}
		v.SetFloat(f)
		return
	}

	if !integral {
		d.failShape("must be an integer")
		return
	}
	neg := lit[0] == '-'
	if neg {
		lit = lit[1:]
	}
	var mag uint64
	overflow := false
	for _, c := range lit {
		x := uint64(c - '0')
		if mag > (1<<64-1-x)/10 {
			overflow = true
			break
		}
		mag = mag*10 + x
	}

	if n.kind == kindInt {
		limit := uint64(1) << (n.bits - 1) // |min|; max is limit-1
		if overflow || (!neg && mag >= limit) || (neg && mag > limit) {
			d.outOfRange(n, neg)
			return
		}
		i := int64(mag)
		if neg {
			i = -i // mag == limit for the minimum: -(1<<63) wraps to itself, which is right
		}
		if r != nil {
			if r.min != nil && i < r.min.i {
				d.fail("must be at least " + r.min.src)
			} else if r.max != nil && i > r.max.i {
				d.fail("must be at most " + r.max.src)
			}
		}
		v.SetInt(i)
		return
	}

	// kindUint. Even -0 is refused, as encoding/json refuses it, so that
	// another reader of the same body does not disagree (ASVS 5.0 §1.5.3).
	if overflow || neg || (n.bits < 64 && mag >= 1<<n.bits) {
		d.outOfRange(n, neg)
		return
	}
	if r != nil {
		if r.min != nil && mag < r.min.u {
			d.fail("must be at least " + r.min.src)
		} else if r.max != nil && mag > r.max.u {
			d.fail("must be at most " + r.max.src)
		}
	}
	v.SetUint(mag)
}

// outOfRange reports an integer too large for the Go type, in the terms of
// the tags when they give the relevant bound.
func (d *decoder) outOfRange(n *node, neg bool) {
	d.shape = true
	if r := n.rules; r != nil {
		if neg && r.min != nil {
			d.fail("must be at least " + r.min.src)
			return
		}
		if !neg && r.max != nil {
			d.fail("must be at most " + r.max.src)
			return
		}
	}
	var lo, hi string
	if n.kind == kindInt {
		lo = strconv.FormatInt(-1<<(n.bits-1), 10)
		hi = strconv.FormatInt(1<<(n.bits-1)-1, 10)
	} else {
		lo = "0"
		hi = strconv.FormatUint(1<<n.bits-1, 10)
	}
	d.fail("must be an integer from " + lo + " to " + hi)
}

// object reads an object into a struct. Names must match a field's JSON name
// exactly; every unknown name and every repeated name is reported.
func (d *decoder) object(info *structInfo, v reflect.Value) {
	d.pos++ // {
	var seenBits uint64
	var seenMany []bool
	if len(info.fields) > 64 {
		seenMany = make([]bool, len(info.fields))
	}
	d.skipWS()
	if d.data[d.pos] != '}' {
		for {
			d.skipWS()
			key := d.key()
			d.skipWS()
			d.pos++ // :
			i, ok := info.byName[string(key)]
			switch {
			case !ok:
				// Mass assignment (OWASP API3:2023, ASVS 5.0 §15.3.3): a
				// name the type does not declare is an error, not ignored,
				// so a client learns at once that "isAdmin" does nothing
				// and a later field added to the type cannot be set by
				// requests written before it existed.
				d.pushKey(key) // the location is built before key can change
				d.failShape("unknown field")
				d.pop()
				d.skip()
			case seen(seenBits, seenMany, i):
				// RFC 8259 §4: names SHOULD be unique, and parsers disagree
				// on which duplicate wins. Refusing them closes the gap
				// between this parser and any other that reads the body.
				d.push(info.fields[i].name)
				d.failShape("duplicate field")
				d.pop()
				d.skip()
			default:
				if seenMany != nil {
					seenMany[i] = true
				} else {
					seenBits |= 1 << i
				}
				f := &info.fields[i]
				d.push(f.name)
				d.value(f.node, fieldOf(v, f.index))
				d.pop()
			}
			d.skipWS()
			if d.data[d.pos] == ',' {
				d.pos++
				continue
			}
			break
		}
	}
	d.pos++ // }

	// Presence is checked on the names, not on zero values: 0 and "" are
	// valid values that a required field may hold.
	for i := range info.fields {
		f := &info.fields[i]
		if f.required && !seen(seenBits, seenMany, i) {
			d.push(f.name)
			d.failShape("is required")
			d.pop()
		}
	}
}

func seen(bits uint64, many []bool, i int) bool {
	if many != nil {
		return many[i]
	}
	return bits&(1<<i) != 0
}

func fieldOf(v reflect.Value, index []int) reflect.Value {
	if len(index) == 1 {
		return v.Field(index[0])
	}
	return v.FieldByIndex(index)
}

// array reads an array into a fresh slice.
func (d *decoder) array(n *node, v reflect.Value) {
	d.pos++ // [
	r := n.rules
	maxItems := -1
	if r != nil {
		maxItems = r.maxItems
	}
	s := reflect.MakeSlice(n.typ, 0, 0) // [] is an empty slice, not nil
	count := 0
	d.skipWS()
	if d.data[d.pos] != ']' {
		for {
			if maxItems >= 0 && count >= maxItems {
				// Items past the limit are not decoded: the limit also
				// bounds the work a client can ask for.
				d.skip()
			} else {
				s = reflect.Append(s, reflect.Zero(n.typ.Elem()))
				d.pushIndex(count)
				d.value(n.elem, s.Index(count))
				d.pop()
			}
			count++
			d.skipWS()
			if d.data[d.pos] == ',' {
				d.pos++
				d.skipWS()
				continue
			}
			break
		}
	}
	d.pos++ // ]
	v.Set(s)
	if r == nil {
		return
	}
	switch {
	case r.maxItems >= 0 && count > r.maxItems:
		d.fail("must have at most " + items(r.maxItems))
	case r.minItems >= 0 && count < r.minItems:
		d.fail("must have at least " + items(r.minItems))
	}
	if r.uniqueItems {
		d.unique(s)
	}
}

func items(n int) string {
	if n == 1 {
		return "1 item"
	}
	return strconv.Itoa(n) + " items"
}

// unique reports each item that repeats an earlier one. Items are scalars,
// so they are comparable.
func (d *decoder) unique(s reflect.Value) {
	seen := make(map[any]struct{}, s.Len())
	for i := range s.Len() {
		x := s.Index(i).Interface()
		if _, dup := seen[x]; dup {
			d.pushIndex(i)
			d.fail("duplicates an earlier item")
			d.pop()
			continue
		}
		seen[x] = struct{}{}
	}
}

// mapObject reads an object into a fresh map.
func (d *decoder) mapObject(n *node, v reflect.Value) {
	d.pos++ // {
	m := reflect.MakeMap(n.typ)
	kt, et := n.typ.Key(), n.typ.Elem()
	d.skipWS()
	if d.data[d.pos] != '}' {
		for {
			d.skipWS()
			key := string(d.key())
			d.skipWS()
			d.pos++ // :
			kv := reflect.ValueOf(key).Convert(kt)
			d.push(key)
			if m.MapIndex(kv).IsValid() {
				d.failShape("duplicate field")
				d.skip()
			} else {
				ev := reflect.New(et).Elem()
				d.value(n.elem, ev)
				m.SetMapIndex(kv, ev)
			}
			d.pop()
			d.skipWS()
			if d.data[d.pos] == ',' {
				d.pos++
				continue
			}
			break
		}
	}
	d.pos++ // }
	v.Set(m)
}

// checked skips any value, reporting duplicate names in its objects at every
// depth. It guards values that encoding/json or an UnmarshalJSON method will
// read after this decoder, so that they read the same document.
func (d *decoder) checked() {
	d.skipWS()
	switch d.data[d.pos] {
	case '{':
		d.pos++
		base := len(d.keys)
		var set map[string]struct{}
		d.skipWS()
		if d.data[d.pos] != '}' {
			for {
				d.skipWS()
				// The name must outlive the reads of its value, so it is not
				// unescaped into the shared scratch buffer.
				key, escaped := d.scanString()
				if escaped {
					key = unescape(nil, key)
				}
				dup := false
				if set != nil {
					_, dup = set[string(key)]
					set[string(key)] = struct{}{}
				} else {
					for _, k := range d.keys[base:] {
						if bytes.Equal(k, key) {
							dup = true
							break
						}
					}
					d.keys = append(d.keys, key)
					// A linear search would be quadratic in a large object.
					if len(d.keys)-base > 16 {
						set = make(map[string]struct{}, 32)
						for _, k := range d.keys[base:] {
							set[string(k)] = struct{}{}
						}
					}
				}
				d.skipWS()
				d.pos++ // :
				d.pushKey(key)
				if dup {
					d.failShape("duplicate field")
				}
				d.checked()
				d.pop()
				d.skipWS()
				if d.data[d.pos] == ',' {
					d.pos++
					continue
				}
				break
			}
		}
		d.pos++ // }
		clear(d.keys[base:])
		d.keys = d.keys[:base]
	case '[':
		d.pos++
		d.skipWS()
		if d.data[d.pos] != ']' {
			for i := 0; ; i++ {
				d.pushIndex(i)
				d.checked()
				d.pop()
				d.skipWS()
				if d.data[d.pos] == ',' {
					d.pos++
					continue
				}
				break
			}
		}
		d.pos++ // ]
	default:
		d.skip()
	}
}

// skip skips any value without looking inside it, except that strings are
// still checked for unpaired surrogates.
func (d *decoder) skip() {
	depth := 0
	for {
		d.skipWS()
		switch d.data[d.pos] {
		case '{', '[':
			depth++
			d.pos++
		case '}', ']':
			depth--
			d.pos++
		case ',', ':':
			d.pos++
			continue
		case '"':
			d.scanString()
		default: // number, true, false, null
			for d.pos < len(d.data) && !endsLiteral(d.data[d.pos]) {
				d.pos++
			}
		}
		if depth == 0 {
			return
		}
	}
}

func endsLiteral(c byte) bool {
	switch c {
	case ',', ']', '}', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// scanString moves past the string that starts at d.pos and returns its
// contents as written (without quotes) and whether it holds escapes.
func (d *decoder) scanString() (raw []byte, escaped bool) {
	d.pos++ // "
	start := d.pos
	for {
		c := d.data[d.pos]
		if c == '"' {
			raw = d.data[start:d.pos]
			d.pos++
			return raw, escaped
		}
		if c != '\\' {
			d.pos++
			continue
		}
		escaped = true
		if d.data[d.pos+1] != 'u' {
			d.pos += 2
			continue
		}
		r := hex4(d.data[d.pos+2:])
		d.pos += 6
		switch {
		case r >= 0xD800 && r < 0xDC00:
			if d.pos+6 <= len(d.data) && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
				if lo := hex4(d.data[d.pos+2:]); lo >= 0xDC00 && lo < 0xE000 {
					d.pos += 6
					continue
				}
			}
			d.badText = true
		case r >= 0xDC00 && r < 0xE000:
			d.badText = true
		}
	}
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// key reads an object name. The result may point into d.buf and is valid
// only until the next string is read.
func (d *decoder) key() []byte {
	raw, escaped := d.scanString()
	if !escaped {
		return raw
	}
	d.buf = unescape(d.buf[:0], raw)
	return d.buf
}

// str reads a string value.
func (d *decoder) str() string {
	raw, escaped := d.scanString()
	if !escaped {
		return string(raw)
	}
	d.buf = unescape(d.buf[:0], raw)
	return string(d.buf)
}

// unescape appends the decoded form of a string's contents to dst. Unpaired
// surrogates become U+FFFD; scanString has already marked the body bad.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			j := bytes.IndexByte(raw[i:], '\\')
			if j < 0 {
				return append(dst, raw[i:]...)
			}
			dst = append(dst, raw[i:i+j]...)
			i += j
			continue
		}
		switch e := raw[i+1]; e {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(raw[i+2:])
			i += 6
			if r >= 0xD800 && r < 0xDC00 && i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
				if lo := hex4(raw[i+2:]); lo >= 0xDC00 && lo < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					i += 6
				}
			}
			if r >= 0xD800 && r < 0xE000 {
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // " \ /
			dst = append(dst, e)
		}
		i += 2
	}
	return dst
}
