package jsonbody

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// kind says how a JSON value is read into a Go type.
type kind uint8

const (
	kindString      kind = iota + 1
	kindBool             // bool
	kindInt              // int, int8 ... int64
	kindUint             // uint, uint8 ... uint64, uintptr
	kindFloat            // float32, float64
	kindStruct           // an object with known names
	kindSlice            // an array
	kindMap              // an object with any names: map[string]T
	kindAny              // interface{}: any JSON value, decoded by encoding/json
	kindUnmarshaler      // a type with UnmarshalJSON, such as time.Time
	kindText             // a type with UnmarshalText: a JSON string
	kindBytes            // []byte: a base64 JSON string, as encoding/json does
)

// node describes how one JSON value is read into one Go type, with the rules
// that the tags of its field attach to it. Nodes below a field are built for
// that field alone; only structInfo is shared between fields.
type node struct {
	typ      reflect.Type // the Go type, after the pointer when pointer is set
	kind     kind
	pointer  bool // the Go type is *typ
	nullable bool // JSON null is accepted (sets the zero value)
	bits     int  // size of int, uint and float kinds
	strct    *structInfo
	elem     *node  // items of a slice, values of a map
	rules    *rules // nil when no tag applies here
	invalid  string // message for a value that UnmarshalJSON/UnmarshalText refused
	schema   map[string]any
}

// rules are the tag keywords that apply to one node.
type rules struct {
	minLength, maxLength int // -1 when unset
	pattern              *regexp.Regexp
	enum                 []string
	format               string
	nocontrol            bool
	min, max             *bound
	minItems, maxItems   int // -1 when unset
	uniqueItems          bool
}

// bound is a minimum or maximum, parsed for the kind of its field.
type bound struct {
	src string // as written in the tag; used in messages
	i   int64
	u   uint64
	f   float64
}

type field struct {
	name     string // JSON name
	index    []int  // for reflect.Value.FieldByIndex, through embedded structs
	required bool
	doc      string
	node     *node
}

type structInfo struct {
	typ    reflect.Type
	fields []field
	byName map[string]int
}

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	timeType            = reflect.TypeFor[time.Time]()
	rawMessageType      = reflect.TypeFor[json.RawMessage]()
)

// The caches hold metadata per type, built on first use. A type whose tags
// are wrong is cached with its error, so a bad type costs one build.
var (
	rootCache   sync.Map // reflect.Type → *rootEntry
	structCache sync.Map // reflect.Type → *structEntry
)

type rootEntry struct {
	node *node
	err  error
}

type structEntry struct {
	info *structInfo
	err  error
}

// CheckType reports whether the type of v (or the type v points to) can be
// decoded: that its tags are well formed and apply to their fields. Call it
// from a test for every request type to catch a mistake before a client
// sends a body.
func CheckType(v any) error {
	t := reflect.TypeOf(v)
	if t == nil {
		return errors.New("jsonbody: CheckType(nil)")
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	_, err := rootFor(t)
	return err
}

func rootFor(t reflect.Type) (*node, error) {
	if e, ok := rootCache.Load(t); ok {
		e := e.(*rootEntry)
		return e.node, e.err
	}
	b := builder{visiting: map[reflect.Type]bool{}}
	n, err := b.shape(t)
	if err != nil {
		err = fmt.Errorf("jsonbody: type %s: %w", t, err)
		n = nil
	}
	e, _ := rootCache.LoadOrStore(t, &rootEntry{node: n, err: err})
	return e.(*rootEntry).node, e.(*rootEntry).err
}

type builder struct {
	visiting map[reflect.Type]bool
}

// shape builds the node tree for t, without rules.
func (b *builder) shape(t reflect.Type) (*node, error) {
	n := &node{}
	if t.Kind() == reflect.Pointer {
		n.pointer, n.nullable = true, true
		t = t.Elem()
		if t.Kind() == reflect.Pointer {
			return nil, fmt.Errorf("pointer to pointer %s is not supported", t)
		}
	}
	n.typ = t
	pt := reflect.PointerTo(t)
	switch {
	case t.Kind() == reflect.Interface:
		if t.NumMethod() != 0 {
			return nil, fmt.Errorf("interface type %s is not supported (only any)", t)
		}
		n.kind, n.nullable = kindAny, true
		return n, nil
	case pt.Implements(jsonUnmarshalerType):
		n.kind = kindUnmarshaler
		n.invalid = "has an invalid value"
		if t == rawMessageType {
			n.nullable = true // like any: null is one of the values it holds
		}
		if t == timeType {
			n.invalid = "must be an RFC 3339 date-time"
			n.schema = map[string]any{"type": "string", "format": "date-time"}
		}
		return n, nil
	case pt.Implements(textUnmarshalerType):
		n.kind, n.invalid = kindText, "has an invalid value"
		return n, nil
	}
	switch t.Kind() {
	case reflect.String:
		n.kind = kindString
	case reflect.Bool:
		n.kind = kindBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n.kind, n.bits = kindInt, t.Bits()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n.kind, n.bits = kindUint, t.Bits()
	case reflect.Float32, reflect.Float64:
		n.kind, n.bits = kindFloat, t.Bits()
	case reflect.Slice:
		et := t.Elem()
		ept := reflect.PointerTo(et)
		if et.Kind() == reflect.Uint8 && !ept.Implements(jsonUnmarshalerType) && !ept.Implements(textUnmarshalerType) {
			n.kind = kindBytes
			break
		}
		elem, err := b.shape(et)
		if err != nil {
			return nil, err
		}
		n.kind, n.elem = kindSlice, elem
	case reflect.Map:
		kt := t.Key()
		if kt.Kind() != reflect.String || reflect.PointerTo(kt).Implements(textUnmarshalerType) {
			return nil, fmt.Errorf("map key type %s is not supported (only string kinds)", kt)
		}
		elem, err := b.shape(t.Elem())
		if err != nil {
			return nil, err
		}
		n.kind, n.elem = kindMap, elem
	case reflect.Struct:
		info, err := b.structInfo(t)
		if err != nil {
			return nil, err
		}
		n.kind, n.strct = kindStruct, info
	default:
		return nil, fmt.Errorf("%s of kind %s is not supported", t, t.Kind())
	}
	return n, nil
}

func (b *builder) structInfo(t reflect.Type) (*structInfo, error) {
	if e, ok := structCache.Load(t); ok {
		e := e.(*structEntry)
		return e.info, e.err
	}
	// Recursive types are refused: a request body has a fixed depth, and a
	// recursive one would let a client choose how deep the decoder goes.
	if b.visiting[t] {
		return nil, fmt.Errorf("recursive type %s is not supported", t)
	}
	b.visiting[t] = true
	defer delete(b.visiting, t)

	info := &structInfo{typ: t, byName: map[string]int{}}
	err := b.addFields(info, t, nil)
	if err != nil {
		err = fmt.Errorf("%s: %w", t, err)
		info = nil
	}
	e, _ := structCache.LoadOrStore(t, &structEntry{info: info, err: err})
	return e.(*structEntry).info, e.(*structEntry).err
}

// addFields adds the fields of t, flattening embedded structs as
// encoding/json does. Where encoding/json would let a shallower field hide a
// deeper one of the same name, addFields refuses the type instead: a request
// type should not need the reader to know those rules.
func (b *builder) addFields(info *structInfo, t reflect.Type, index []int) error {
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, hasJSON := sf.Tag.Lookup("json")
		if tag == "-" {
			if err := noRuleTags(sf); err != nil {
				return err
			}
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		for opt := range strings.SplitSeq(opts, ",") {
			if opt == "string" {
				return fmt.Errorf("field %s: the json \",string\" option is not supported", sf.Name)
			}
		}
		fieldIndex := append(index[:len(index):len(index)], i)
		if sf.Anonymous && name == "" {
			et := sf.Type
			if et.Kind() == reflect.Struct {
				if err := noRuleTags(sf); err != nil {
					return err
				}
				if err := b.addFields(info, et, fieldIndex); err != nil {
					return err
				}
				continue
			}
			if et.Kind() == reflect.Pointer && et.Elem().Kind() == reflect.Struct {
				return fmt.Errorf("embedded field %s: embedded pointers are not supported; embed the struct", sf.Name)
			}
		}
		if !sf.IsExported() {
			if hasJSON {
				return fmt.Errorf("field %s: unexported fields cannot have a json tag", sf.Name)
			}
			if err := noRuleTags(sf); err != nil {
				return err
			}
			continue
		}
		if name == "" {
			name = sf.Name
		} else if !validName(name) {
			return fmt.Errorf("field %s: json name %q is not valid", sf.Name, name)
		}
		if _, dup := info.byName[name]; dup {
			return fmt.Errorf("field %s: json name %q is used by another field", sf.Name, name)
		}
		f, err := b.field(sf, name, fieldIndex)
		if err != nil {
			return fmt.Errorf("field %s: %w", sf.Name, err)
		}
		info.byName[name] = len(info.fields)
		info.fields = append(info.fields, f)
	}
	return nil
}

// validName is encoding/json's rule for a name in a json tag; a name that
// encoding/json would ignore is refused rather than silently replaced.
func validName(s string) bool {
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// keywords is the tag vocabulary. A tag key that matches one of these in
// another case (minlength) is refused: it would otherwise be ignored and the
// field left unchecked, failing open.
var keywords = []string{
	"required", "doc",
	"minLength", "maxLength", "pattern", "format", "enum", "nocontrol",
	"minimum", "maximum",
	"minItems", "maxItems", "uniqueItems",
}

var formats = map[string]bool{"email": true}

func tagKeys(tag reflect.StructTag) []string {
	var keys []string
	s := string(tag)
	for s != "" {
		s = strings.TrimLeft(s, " ")
		i := strings.IndexByte(s, ':')
		if i <= 0 || i+1 >= len(s) || s[i+1] != '"' {
			break
		}
		keys = append(keys, s[:i])
		s = s[i+2:]
		end := -1
		for j := 0; j < len(s); j++ {
			if s[j] == '\\' {
				j++
				continue
			}
			if s[j] == '"' {
				end = j
				break
			}
		}
		if end < 0 {
			break // malformed: reflect.StructTag.Lookup stops here too
		}
		s = s[end+1:]
	}
	return keys
}

func checkKeys(sf reflect.StructField) error {
	for _, k := range tagKeys(sf.Tag) {
		for _, kw := range keywords {
			if k != kw && strings.EqualFold(k, kw) {
				return fmt.Errorf("field %s: unknown tag %q; did you mean %q?", sf.Name, k, kw)
			}
		}
	}
	return nil
}

func noRuleTags(sf reflect.StructField) error {
	if err := checkKeys(sf); err != nil {
		return err
	}
	for _, kw := range keywords {
		if _, ok := sf.Tag.Lookup(kw); ok {
			return fmt.Errorf("field %s: tag %s on a field that is not decoded", sf.Name, kw)
		}
	}
	return nil
}

func (b *builder) field(sf reflect.StructField, name string, index []int) (field, error) {
	f := field{name: name, index: index}
	if err := checkKeys(sf); err != nil {
		return f, err
	}
	tag := sf.Tag
	var err error
	if f.required, err = boolTag(tag, "required"); err != nil {
		return f, err
	}
	f.doc = tag.Get("doc")
	n, err := b.shape(sf.Type)
	if err != nil {
		return f, err
	}
	if f.required {
		n.nullable = false
	}
	if err := attach(n, tag); err != nil {
		return f, err
	}
	f.node = n
	return f, nil
}

func boolTag(tag reflect.StructTag, key string) (bool, error) {
	v, ok := tag.Lookup(key)
	if !ok {
		return false, nil
	}
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%s:%q: want \"true\" or \"false\"", key, v)
}

func countTag(tag reflect.StructTag, key string) (int, error) {
	v, ok := tag.Lookup(key)
	if !ok {
		return -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s:%q: want a non-negative integer", key, v)
	}
	return n, nil
}

// attach parses the rule tags of a field and hangs them on the node they
// apply to: array keywords on the slice itself, string and number keywords
// on the innermost item of slices and maps.
func attach(n *node, tag reflect.StructTag) error {
	_, hasMinI := tag.Lookup("minItems")
	_, hasMaxI := tag.Lookup("maxItems")
	_, hasUniq := tag.Lookup("uniqueItems")
	if hasMinI || hasMaxI || hasUniq {
		if n.kind != kindSlice {
			return fmt.Errorf("minItems, maxItems and uniqueItems apply only to slices, not %s", n.typ)
		}
		r := n.ensureRules()
		var err error
		if r.minItems, err = countTag(tag, "minItems"); err != nil {
			return err
		}
		if r.maxItems, err = countTag(tag, "maxItems"); err != nil {
			return err
		}
		if r.maxItems >= 0 && r.minItems > r.maxItems {
			return errors.New("minItems is greater than maxItems")
		}
		if r.uniqueItems, err = boolTag(tag, "uniqueItems"); err != nil {
			return err
		}
		if r.uniqueItems {
			switch e := n.elem; {
			case e.pointer:
				return errors.New("uniqueItems applies only to slices of non-pointer strings, numbers or booleans")
			case e.kind == kindString, e.kind == kindInt, e.kind == kindUint, e.kind == kindFloat, e.kind == kindBool:
			default:
				return errors.New("uniqueItems applies only to slices of strings, numbers or booleans")
			}
		}
	}

	var str, num []string
	for _, k := range []string{"minLength", "maxLength", "pattern", "format", "enum", "nocontrol"} {
		if _, ok := tag.Lookup(k); ok {
			str = append(str, k)
		}
	}
	for _, k := range []string{"minimum", "maximum"} {
		if _, ok := tag.Lookup(k); ok {
			num = append(num, k)
		}
	}
	if len(str) == 0 && len(num) == 0 {
		return nil
	}
	leaf := n
	for leaf.kind == kindSlice || leaf.kind == kindMap {
		leaf = leaf.elem
	}
	switch leaf.kind {
	case kindString:
		if len(num) > 0 {
			return fmt.Errorf("%s applies only to numbers, not %s", num[0], leaf.typ)
		}
		return attachString(leaf.ensureRules(), tag)
	case kindInt, kindUint, kindFloat:
		if len(str) > 0 {
			return fmt.Errorf("%s applies only to strings, not %s", str[0], leaf.typ)
		}
		return attachNumber(leaf, tag)
	}
	k := str
	if len(k) == 0 {
		k = num
	}
	return fmt.Errorf("%s does not apply to %s", k[0], leaf.typ)
}

func (n *node) ensureRules() *rules {
	if n.rules == nil {
		n.rules = &rules{minLength: -1, maxLength: -1, minItems: -1, maxItems: -1}
	}
	return n.rules
}

func attachString(r *rules, tag reflect.StructTag) error {
	var err error
	if r.minLength, err = countTag(tag, "minLength"); err != nil {
		return err
	}
	if r.maxLength, err = countTag(tag, "maxLength"); err != nil {
		return err
	}
	if r.maxLength >= 0 && r.minLength > r.maxLength {
		return errors.New("minLength is greater than maxLength")
	}
	if p, ok := tag.Lookup("pattern"); ok {
		// Compiled once per field, when the type is first used.
		if r.pattern, err = regexp.Compile(p); err != nil {
			return fmt.Errorf("pattern:%q: %w", p, err)
		}
	}
	if f, ok := tag.Lookup("format"); ok {
		if !formats[f] {
			return fmt.Errorf("format:%q is not supported (only email)", f)
		}
		r.format = f
	}
	if e, ok := tag.Lookup("enum"); ok {
		seen := map[string]bool{}
		for v := range strings.SplitSeq(e, ",") {
			if v == "" || seen[v] {
				return fmt.Errorf("enum:%q: values must be non-empty and distinct", e)
			}
			seen[v] = true
			r.enum = append(r.enum, v)
		}
	}
	r.nocontrol, err = boolTag(tag, "nocontrol")
	return err
}

func attachNumber(n *node, tag reflect.StructTag) error {
	r := n.ensureRules()
	var err error
	if r.min, err = parseBound(n, tag, "minimum"); err != nil {
		return err
	}
	if r.max, err = parseBound(n, tag, "maximum"); err != nil {
		return err
	}
	if r.min != nil && r.max != nil {
		var bad bool
		switch n.kind {
		case kindInt:
			bad = r.min.i > r.max.i
		case kindUint:
			bad = r.min.u > r.max.u
		default:
			bad = r.min.f > r.max.f
		}
		if bad {
			return errors.New("minimum is greater than maximum")
		}
	}
	return nil
}

func parseBound(n *node, tag reflect.StructTag, key string) (*bound, error) {
	v, ok := tag.Lookup(key)
	if !ok {
		return nil, nil
	}
	b := &bound{src: v}
	var err error
	switch n.kind {
	case kindInt:
		b.i, err = strconv.ParseInt(v, 10, n.bits)
	case kindUint:
		b.u, err = strconv.ParseUint(v, 10, n.bits)
	default:
		b.f, err = strconv.ParseFloat(v, 64)
		if err == nil && (math.IsInf(b.f, 0) || math.IsNaN(b.f)) {
			err = errors.New("not finite")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s:%q: want a number that fits %s", key, v, n.typ)
	}
	return b, nil
}
