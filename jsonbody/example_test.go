package jsonbody_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/gatehouse/gatehouse/jsonbody"
	"github.com/gatehouse/gatehouse/problem"
	"github.com/gatehouse/gatehouse/reqid"
)

// createUser is a handler maker in the house style: the request type lives
// next to the handler, and the tags are both the validation and the API
// documentation.
func createUser() http.Handler {
	type request struct {
		Username string `json:"username" required:"true" minLength:"3" maxLength:"32" pattern:"^[a-z0-9._-]+$"`
		Email    string `json:"email" required:"true" format:"email"`
		Age      int    `json:"age" required:"true" minimum:"13" maximum:"150"`
	}
	type response struct {
		Username string `json:"username"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req request
		if err := jsonbody.Decode(w, r, &req); err != nil {
			problem.Respond(w, r, err)
			return
		}
		jsonbody.Write(w, http.StatusCreated, response{Username: req.Username})
	})
}

func ExampleDecode() {
	h := reqid.Handler(createUser())
	for _, body := range []string{
		`{"username":"alice","email":"alice@example.com","age":30}`,
		`{"username":"Al","email":"alice","age":12.5,"isAdmin":true}`,
	} {
		r := httptest.NewRequest(http.MethodPost, "/v1/users", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set(reqid.Header, "example-1")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("Content-Type"))
		fmt.Println(w.Body.String())
	}
	// Output:
	// 201 application/json; charset=utf-8
	// {"username":"alice"}
	// 422 application/problem+json
	// {"type":"about:blank","title":"Unprocessable Entity","status":422,"detail":"The request has invalid fields; see errors.","request_id":"example-1","errors":[{"location":"body.username","message":"must be at least 3 characters"},{"location":"body.email","message":"must be a valid email address"},{"location":"body.age","message":"must be an integer"},{"location":"body.isAdmin","message":"unknown field"}]}
}

func ExampleDecoder_SetMaxBytes() {
	// A route that takes small bodies sets a small limit once, when the
	// handler is made.
	var dec jsonbody.Decoder
	if err := dec.SetMaxBytes(64); err != nil {
		panic(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/v1/notes", strings.NewReader(`{"title":"`+strings.Repeat("x", 100)+`"}`))
	r.Header.Set("Content-Type", "application/json")
	var note struct {
		Title string `json:"title"`
	}
	err := dec.Decode(httptest.NewRecorder(), r, &note)
	fmt.Println(err)
	// Output:
	// 413 Request Entity Too Large: The request body must not be larger than 64 bytes.
}

func ExampleSchema() {
	type share struct {
		Permission string `json:"permission" required:"true" enum:"read,write" doc:"Access given to the user."`
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(jsonbody.Schema(share{}))
	// Output:
	// {
	//   "$schema": "https://json-schema.org/draft/2020-12/schema",
	//   "additionalProperties": false,
	//   "properties": {
	//     "permission": {
	//       "description": "Access given to the user.",
	//       "enum": [
	//         "read",
	//         "write"
	//       ],
	//       "type": "string"
	//     }
	//   },
	//   "required": [
	//     "permission"
	//   ],
	//   "type": "object"
	// }
}

func ExampleWrite() {
	w := httptest.NewRecorder()
	jsonbody.Write(w, http.StatusOK, map[string]string{"status": "ok"})
	fmt.Println(w.Code, w.Header().Get("Content-Type"), w.Header().Get("Content-Length"))
	fmt.Println(w.Body.String())
	// Output:
	// 200 application/json; charset=utf-8 15
	// {"status":"ok"}
}

func ExampleQueryInt() {
	r := httptest.NewRequest(http.MethodGet, "/v1/notes?limit=500", nil)
	var errs []problem.FieldError
	limit, fe := jsonbody.QueryInt(r, "limit", 20, 1, 100)
	if fe != nil {
		errs = append(errs, *fe)
	}
	fmt.Println(limit, errs)
	// Output:
	// 20 [{query.limit must be an integer from 1 to 100}]
}
