// Package jsonbody reads JSON request bodies strictly, validates them against
// rules written as struct tags, writes JSON responses, and describes the same
// types as JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1).
//
// It speaks net/http only: any handler can call [Decode] and pass the error
// to problem.Respond.
//
// # What Decode refuses
//
// Every refusal is a *problem.Problem (RFC 9457), in this order:
//
//   - 415 when Content-Type is not application/json (parameters are allowed,
//     but a charset other than utf-8 is refused: RFC 8259 §8.1 requires UTF-8
//     and the decoder never transcodes), when the header is absent or sent
//     twice, or when the body carries a Content-Encoding (RFC 9110 §15.5.16).
//   - 413 when the body is larger than the limit: 1 MiB unless
//     [Decoder.SetMaxBytes] says otherwise (OWASP API4:2023, unrestricted
//     resource consumption).
//   - 400 when the body is empty (an empty body is not a JSON text, RFC 8259
//     §2, so it is a syntax error like any other), is not valid UTF-8
//     (checked on the raw bytes, because encoding/json silently replaces bad
//     bytes with U+FFFD), holds a \u escape of an unpaired surrogate (RFC 8259
//     §8.2), is not JSON, or holds more than one JSON value. The detail gives
//     a byte offset and never echoes the input.
//   - 422 for everything that is valid JSON but not a valid request, listing
//     every bad field at once, one entry per location: unknown fields
//     (mass assignment, OWASP API3:2023 and ASVS 5.0 §15.3.3), duplicate
//     names in any object, keys that differ from a field name only in case,
//     wrong JSON types (ASVS 5.0 §15.3.5), null where a value is required,
//     missing required fields, integers that are fractional or out of range
//     (ASVS 5.0 §1.4.2), and every tag rule below (ASVS 5.0 §2.2.1).
//
// # One parser
//
// Decode checks and decodes in a single pass of its own over the body, after
// encoding/json has confirmed that the bytes are one well-formed JSON value.
// There is no second parser whose reading could differ from the one that was
// validated (ASVS 5.0 §1.5.3, JSON interoperability). In particular, and
// unlike encoding/json, object names match field names exactly: {"Role": ...}
// does not set the field "role", and a name seen twice is an error rather
// than "last one wins". Values of fields typed any, json.RawMessage or a type
// with its own UnmarshalJSON are checked for duplicate names at every depth
// before they are handed to encoding/json. A type with its own UnmarshalJSON
// is trusted to be as strict as it needs to be: its fields are not checked
// against tags.
//
// *dst is changed only when Decode returns nil. Fields absent from the body
// keep the value they had in *dst, so a caller can set defaults before
// decoding; fields present are replaced, never merged (slices, maps and
// pointers are freshly allocated).
//
// # Tags
//
// The names mirror JSON Schema keywords, so [Schema] can describe the type
// with exactly the rules that Decode enforces:
//
//	json:"name"          the JSON name; "-" skips the field. The ",string"
//	                     option is not supported. Embedded structs without a
//	                     name are flattened, as encoding/json does.
//	required:"true"      the field must be present and not null.
//	doc:"..."            the description in the schema.
//
//	minLength:"3"        strings: at least 3 characters (Unicode code points,
//	maxLength:"32"       as JSON Schema counts them, not bytes).
//	pattern:"^[a-z]+$"   strings: must match this Go regexp (RE2: linear time,
//	                     no ReDoS, ASVS 5.0 §1.3.12). Unanchored, as in JSON
//	                     Schema; write ^ and $. Keep to the syntax shared with
//	                     ECMA-262, which JSON Schema uses.
//	format:"email"       strings: a bare addr-spec of at most 254 characters.
//	enum:"read,write"    strings: one of these values.
//	nocontrol:"true"     strings: no control characters (Unicode Cc:
//	                     U+0000–U+001F and U+007F–U+009F, newlines and tabs
//	                     included). Use it on every single-line text field.
//	minimum:"13"         numbers: inclusive bounds, written in the field's
//	maximum:"150"        Go type (integers for integer fields).
//
//	minItems:"1"         slices: bounds on the number of items.
//	maxItems:"10"
//	uniqueItems:"true"   slices of strings, numbers or booleans: no repeats.
//
// On a slice or a map, the string and number keywords apply to its items (or
// values): `maxItems:"5" enum:"read,write"` is at most five items, each of
// them read or write. A keyword that cannot apply to the field's type, a
// malformed value, and a tag key that differs from a keyword only in case
// (minlength) are programming errors: Decode returns an error that is not a
// *problem.Problem (problem.Respond answers it with a generic 500), [Schema]
// panics, and [CheckType] reports it, so a test can catch it before a client
// does.
//
// Fields that are pointers are optional and may be null: nil means absent or
// null, which suits PATCH. Other fields may not be null. Rules apply only to
// values that are present.
//
// # Rules that tags cannot say
//
// A type that implements [Validator] has its Validate method called after
// the tag rules, and its errors are added to theirs, so one response still
// lists every bad field. Validate is called only when the body had the right
// shape (every value of the right JSON type, no unknown, duplicate or missing
// required field); it may see values that broke a tag rule. It is called on
// the top-level value only, and its locations must be full ("body.password").
// An error at a location that already has one is dropped, and a response
// lists at most [MaxErrors] errors.
//
// # Responses and query parameters
//
// [Write] sends a JSON response with its headers set before the status.
// [QueryInt] and [QueryString] read one query parameter strictly, for
// handlers that collect their errors into one problem.Validation.
package jsonbody
