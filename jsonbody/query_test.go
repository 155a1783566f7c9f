package jsonbody_test

import (
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/jsonbody"
)

func TestQueryInt(t *testing.T) {
	tests := []struct {
		query   string
		want    int
		wantErr string // the location, when an error is expected
	}{
		{"", 20, ""},
		{"limit=", 20, ""},
		{"limit=1", 1, ""},
		{"limit=100", 100, ""},
		{"other=5", 20, ""},
		{"limit=0", 20, "query.limit"},
		{"limit=101", 20, "query.limit"},
		{"limit=-1", 20, "query.limit"},
		{"limit=1.5", 20, "query.limit"},
		{"limit=ten", 20, "query.limit"},
		{"limit=99999999999999999999", 20, "query.limit"},
		{"limit=5&limit=50", 20, "query.limit"},
		{"limit=%zz", 20, "query"},
		{"limit=5;x=1", 20, "query"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/notes?"+tt.query, nil)
			got, fe := jsonbody.QueryInt(r, "limit", 20, 1, 100)
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
			switch {
			case tt.wantErr == "" && fe != nil:
				t.Errorf("got error %v, want nil", *fe)
			case tt.wantErr != "" && fe == nil:
				t.Errorf("got nil error, want one at %s", tt.wantErr)
			case tt.wantErr != "" && fe.Location != tt.wantErr:
				t.Errorf("got location %q, want %q", fe.Location, tt.wantErr)
			}
		})
	}
}

func TestQueryString(t *testing.T) {
	tests := []struct {
		query   string
		want    string
		wantErr bool
	}{
		{"", "", false},
		{"q=caf%C3%A9", "café", false},
		{"q=12345678", "12345678", false},
		{"q=123456789", "", true},
		{"q=a%0Ab", "", true},
		{"q=a%00b", "", true},
		{"q=%FF", "", true},
		{"q=a&q=b", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/notes?"+tt.query, nil)
			got, fe := jsonbody.QueryString(r, "q", 8)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if (fe != nil) != tt.wantErr {
				t.Errorf("got error %v, want error %v", fe, tt.wantErr)
			}
			if fe != nil && fe.Location != "query.q" {
				t.Errorf("got location %q, want %q", fe.Location, "query.q")
			}
		})
	}
}
