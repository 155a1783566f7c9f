package jsonbody_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gatehouse/gatehouse/jsonbody"
	"github.com/gatehouse/gatehouse/problem"
)

// passwordChange has a rule between two fields, which no tag can say.
type passwordChange struct {
	Current string `json:"current_password" required:"true"`
	New     string `json:"new_password" required:"true" minLength:"15" maxLength:"256"`
}

// Validate runs after the tag rules; its errors join theirs in one answer.
func (p *passwordChange) Validate() []problem.FieldError {
	if p.New != "" && p.New == p.Current {
		return []problem.FieldError{{Location: "body.new_password", Message: "must differ from the current password"}}
	}
	return nil
}

func ExampleValidator() {
	for _, body := range []string{
		`{"current_password":"correct horse battery staple","new_password":"correct horse battery staple"}`,
		`{"current_password":"x","new_password":"short"}`,
	} {
		r := httptest.NewRequest(http.MethodPost, "/v1/users/me/password", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var req passwordChange
		err := jsonbody.Decode(httptest.NewRecorder(), r, &req)
		if p, ok := err.(*problem.Problem); ok {
			fmt.Println(p.Status, p.Errors)
		}
	}
	// Output:
	// 422 [{body.new_password must differ from the current password}]
	// 422 [{body.new_password must be at least 15 characters}]
}

func ExampleUnmarshal() {
	// The same checks as Decode, for JSON that does not come in a request,
	// such as a configuration file.
	var cfg struct {
		Admins []string `json:"admins" maxItems:"10" format:"email"`
	}
	err := jsonbody.Unmarshal([]byte(`{"admins":["ops@example.com","root"],"Admins":[]}`), &cfg)
	fmt.Println(err.(*problem.Problem).Errors)
	// Output:
	// [{body.admins[1] must be a valid email address} {body.Admins unknown field}]
}
