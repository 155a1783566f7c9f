package jsonbody

import (
	"maps"
	"reflect"
)

// SchemaDialect is the JSON Schema dialect of [Schema]'s output, the default
// dialect of OpenAPI 3.1.
const SchemaDialect = "https://json-schema.org/draft/2020-12/schema"

// Schema returns the JSON Schema of the type of v (or of the type v points
// to), built from the same metadata that [Decode] enforces, so documentation
// and behaviour cannot drift apart. Objects have additionalProperties false,
// optional pointer fields accept null, and nested types are written inline.
// The result is a fresh map that the caller may change; it marshals to JSON
// with encoding/json.
//
// Some rules are enforced but have no exact JSON Schema keyword:
// nocontrol is written as "not": {"pattern": ...} over the control
// characters; duplicate names are refused although JSON Schema does not
// speak of them; and an integer field refuses 13.0, which JSON Schema counts
// as an integer.
//
// Schema panics if the type cannot be decoded (see [CheckType]); it is meant
// to be called once, at start-up.
func Schema(v any) map[string]any {
	t := reflect.TypeOf(v)
	if t == nil {
		panic("jsonbody: Schema(nil)")
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	n, err := rootFor(t)
	if err != nil {
		panic(err)
	}
	s := nodeSchema(n, false)
	s["$schema"] = SchemaDialect
	return s
}

// controlPattern matches any Unicode Cc character. It is valid both as a Go
// regexp and as an ECMA-262 one.
const controlPattern = `[\x00-\x1F\x7F-\x9F]`

func nodeSchema(n *node, nullable bool) map[string]any {
	s := map[string]any{}
	var typ string
	switch n.kind {
	case kindString, kindText:
		typ = "string"
	case kindBytes:
		typ = "string"
		s["contentEncoding"] = "base64"
	case kindBool:
		typ = "boolean"
	case kindInt, kindUint:
		typ = "integer"
		switch {
		case n.kind == kindInt && n.bits == 32:
			s["format"] = "int32"
		case n.kind == kindInt && n.bits == 64:
			s["format"] = "int64"
		}
		intBounds(n, s)
	case kindFloat:
		typ = "number"
		if n.bits == 32 {
			s["format"] = "float"
		} else {
			s["format"] = "double"
		}
	case kindStruct:
		typ = "object"
		props := map[string]any{}
		var required []string
		for i := range n.strct.fields {
			f := &n.strct.fields[i]
			p := nodeSchema(f.node, f.node.nullable)
			if f.doc != "" {
				p["description"] = f.doc
			}
			props[f.name] = p
			if f.required {
				required = append(required, f.name)
			}
		}
		s["properties"] = props
		if required != nil {
			s["required"] = required
		}
		s["additionalProperties"] = false
	case kindSlice:
		typ = "array"
		s["items"] = nodeSchema(n.elem, n.elem.nullable)
	case kindMap:
		typ = "object"
		s["additionalProperties"] = nodeSchema(n.elem, n.elem.nullable)
	case kindAny:
		return s // {}: any value, null included
	case kindUnmarshaler:
		if n.schema == nil {
			return s // unknown: any value
		}
		maps.Copy(s, n.schema)
		typ, _ = s["type"].(string)
	}
	if r := n.rules; r != nil {
		ruleSchema(n, r, s)
	}
	if typ != "" {
		if nullable {
			s["type"] = []string{typ, "null"}
		} else {
			s["type"] = typ
		}
	}
	return s
}

// intBounds writes the range of a narrow integer type, when the tags do not
// narrow it further. 64-bit bounds are left out: they are not exact in the
// float64 numbers of JavaScript clients.
func intBounds(n *node, s map[string]any) {
	if n.kind == kindUint {
		s["minimum"] = 0
		if n.bits < 64 {
			s["maximum"] = uint64(1)<<n.bits - 1
		}
		return
	}
	if n.bits < 64 {
		s["minimum"] = int64(-1) << (n.bits - 1)
		s["maximum"] = int64(1)<<(n.bits-1) - 1
	}
}

func ruleSchema(n *node, r *rules, s map[string]any) {
	if r.minLength >= 0 {
		s["minLength"] = r.minLength
	}
	if r.maxLength >= 0 {
		s["maxLength"] = r.maxLength
	}
	if r.pattern != nil {
		s["pattern"] = r.pattern.String()
	}
	if r.format != "" {
		s["format"] = r.format
	}
	if r.enum != nil {
		s["enum"] = append([]string(nil), r.enum...)
	}
	if r.nocontrol {
		s["not"] = map[string]any{"pattern": controlPattern}
	}
	for _, b := range []struct {
		key string
		b   *bound
	}{{"minimum", r.min}, {"maximum", r.max}} {
		if b.b == nil {
			continue
		}
		switch n.kind {
		case kindInt:
			s[b.key] = b.b.i
		case kindUint:
			s[b.key] = b.b.u
		default:
			s[b.key] = b.b.f
		}
	}
	if r.minItems >= 0 {
		s["minItems"] = r.minItems
	}
	if r.maxItems >= 0 {
		s["maxItems"] = r.maxItems
	}
	if r.uniqueItems {
		s["uniqueItems"] = true
	}
}
