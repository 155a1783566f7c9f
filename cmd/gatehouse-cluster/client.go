package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// client sends the checks' requests. gatehouse keys anonymous rate limits
// by client IP, the socket's address on loopback: requests can come from
// any 127.x.y.z, so each check that must not share a budget gets an
// address of its own.
type client struct {
	mu      sync.Mutex
	byIP    map[string]*http.Client
	nextIP  atomic.Uint32
	timeout time.Duration
}

func newClient() *client {
	return &client{byIP: map[string]*http.Client{}, timeout: 20 * time.Second}
}

// from returns the HTTP client whose connections leave from ip.
func (c *client) from(ip string) *http.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	if hc, ok := c.byIP[ip]; ok {
		return hc
	}
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	hc := &http.Client{Timeout: c.timeout, Transport: &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}}
	c.byIP[ip] = hc
	return hc
}

// fresh returns a client with a source address no other request used,
// 127.1.x.y, for registrations outside the shared-limit check.
func (c *client) fresh() *http.Client {
	n := c.nextIP.Add(1)
	return c.from(fmt.Sprintf("127.1.%d.%d", n/250, n%250+1))
}

// main is the client the checks use when the source address does not
// matter.
func (c *client) main() *http.Client { return c.from("127.0.0.1") }

// answer is one HTTP response, read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a *answer) json() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(a.body, &m)
	return m
}

func (a *answer) str(key string) string {
	s, _ := a.json()[key].(string)
	return s
}

func (a *answer) String() string {
	b := a.body
	if len(b) > 200 {
		b = append(b[:200:200], "..."...)
	}
	return fmt.Sprintf("%d %s", a.status, bytes.TrimSpace(b))
}

// do sends one request. body is url.Values (a form) or a value to send as
// JSON; token, when set, is sent as a bearer token.
func do(ctx context.Context, hc *http.Client, method, u string, body any, token string) (*answer, error) {
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd) // #nosec G704 -- loopback instances this tool started
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req) // #nosec G704 -- loopback instances this tool started
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// password is every account's password: long enough for the default policy
// and on no common-password list.
const password = "cluster check passphrase 7 otters"

func registerBody(username string) map[string]any {
	return map[string]any{"username": username, "email": username + "@example.com", "password": password, "age": 30}
}

// register creates an account through in, from an address of its own.
func (c *client) register(ctx context.Context, in *instance, username string) error {
	a, err := do(ctx, c.fresh(), "POST", in.url+"/v1/users", registerBody(username), "")
	if err != nil {
		return err
	}
	if a.status != http.StatusCreated {
		return fmt.Errorf("register %s on %s: got %s, want 201", username, in.name, a)
	}
	return nil
}

// tokens is a token response.
type tokens struct{ access, refresh string }

func (c *client) login(ctx context.Context, in *instance, username string) (tokens, error) {
	form := url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}
	a, err := do(ctx, c.main(), "POST", in.url+"/v1/auth/token", form, "")
	if err != nil {
		return tokens{}, err
	}
	if a.status != http.StatusOK {
		return tokens{}, fmt.Errorf("login %s on %s: got %s, want 200", username, in.name, a)
	}
	return tokens{a.str("access_token"), a.str("refresh_token")}, nil
}

// refresh runs the refresh grant and returns the answer as it is.
func (c *client) refresh(ctx context.Context, in *instance, rt string) (*answer, error) {
	return do(ctx, c.main(), "POST", in.url+"/v1/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "")
}

// me is the status of GET /v1/users/me with access.
func (c *client) me(ctx context.Context, in *instance, access string) (int, error) {
	a, err := do(ctx, c.main(), "GET", in.url+"/v1/users/me", nil, access)
	if err != nil {
		return 0, err
	}
	return a.status, nil
}

// kidOf reads the kid of a JWS's protected header (no verification: the
// servers verify; this only says which key signed).
func kidOf(token string) string {
	h, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return ""
	}
	var v struct {
		Kid string `json:"kid"`
	}
	_ = json.Unmarshal(b, &v)
	return v.Kid
}
