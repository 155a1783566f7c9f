package jsonbody_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/jsonbody"
)

func TestSchema(t *testing.T) {
	type address struct {
		City string `json:"city" required:"true" maxLength:"64" nocontrol:"true"`
	}
	type profile struct {
		Username string            `json:"username" required:"true" minLength:"3" maxLength:"32" pattern:"^[a-z0-9._-]+$" doc:"Lowercase login name."`
		Email    string            `json:"email" required:"true" format:"email"`
		Age      int               `json:"age" required:"true" minimum:"13" maximum:"150"`
		Bio      *string           `json:"bio" maxLength:"500"`
		Roles    []string          `json:"roles" minItems:"1" maxItems:"5" enum:"user,admin" uniqueItems:"true"`
		Address  *address          `json:"address"`
		Born     time.Time         `json:"born"`
		Labels   map[string]string `json:"labels" maxLength:"10"`
		Score    float32           `json:"score" minimum:"0.5"`
		Avatar   []byte            `json:"avatar"`
		Level    uint16            `json:"level" maximum:"9"`
		Any      any               `json:"any"`
		//lint:ignore U1000 an unexported field, which the schema must leave out
		internal string
	}
	const want = `{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"type": "object",
		"additionalProperties": false,
		"required": ["username", "email", "age"],
		"properties": {
			"username": {"type": "string", "minLength": 3, "maxLength": 32, "pattern": "^[a-z0-9._-]+$", "description": "Lowercase login name."},
			"email": {"type": "string", "format": "email"},
			"age": {"type": "integer", "format": "int64", "minimum": 13, "maximum": 150},
			"bio": {"type": ["string", "null"], "maxLength": 500},
			"roles": {"type": "array", "minItems": 1, "maxItems": 5, "uniqueItems": true, "items": {"type": "string", "enum": ["user", "admin"]}},
			"address": {
				"type": ["object", "null"],
				"additionalProperties": false,
				"required": ["city"],
				"properties": {"city": {"type": "string", "maxLength": 64, "not": {"pattern": "[\\x00-\\x1F\\x7F-\\x9F]"}}}
			},
			"born": {"type": "string", "format": "date-time"},
			"labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 10}},
			"score": {"type": "number", "format": "float", "minimum": 0.5},
			"avatar": {"type": "string", "contentEncoding": "base64"},
			"level": {"type": "integer", "minimum": 0, "maximum": 9},
			"any": {}
		}
	}`
	got, err := json.Marshal(jsonbody.Schema(profile{}))
	if err != nil {
		t.Fatal(err)
	}
	var gotV, wantV any
	if err := json.Unmarshal(got, &gotV); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &wantV); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotV, wantV) {
		t.Errorf("got schema\n%s\nwant\n%s", got, want)
	}

	t.Run("pointer and value give the same schema", func(t *testing.T) {
		if a, b := jsonbody.Schema(profile{}), jsonbody.Schema(&profile{}); !reflect.DeepEqual(a, b) {
			t.Errorf("got %v for a pointer, want %v", b, a)
		}
	})

	t.Run("the result is the caller's to change", func(t *testing.T) {
		s := jsonbody.Schema(profile{})
		s["properties"].(map[string]any)["age"].(map[string]any)["minimum"] = 0
		again := jsonbody.Schema(profile{})
		if got := again["properties"].(map[string]any)["age"].(map[string]any)["minimum"]; got != int64(13) {
			t.Errorf("got minimum %v after changing an earlier result, want 13", got)
		}
	})
}

func TestSchemaPanicsOnBadType(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("got no panic, want one")
		}
	}()
	jsonbody.Schema(badTypo{})
}
