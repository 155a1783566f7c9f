package transport

import (
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/problem"
)

// Redirect answers the plain-HTTP listener (--http-redirect-addr), apart
// from ACME HTTP-01 challenges, which the ACME manager's HTTPHandler
// answers before it.
//
//   - GET and HEAD get 308 Permanent Redirect to the same path and query on
//     https:// (RFC 9110 §15.4.9). These are what a person typing the
//     address in a browser sends; 308 keeps the method, and browsers that
//     follow it then learn HSTS from the HTTPS answer (RFC 6797 §7.2: a
//     server must not send HSTS over plain HTTP, and answers there should
//     redirect to HTTPS).
//   - Every other method gets 403 with a problem answer telling the client
//     to use HTTPS, and no Location. Redirecting a POST would be followed
//     silently by most clients, and the password or token it carried would
//     have crossed the network in clear without anyone noticing; failing
//     makes the misconfigured client visible (OWASP ASVS 5.0 4.1.2: only
//     user-facing endpoints redirect from HTTP to HTTPS). The answer says
//     the request's contents should be treated as exposed.
//
// The Host header comes from the client. It is checked to be a host name
// or IP literal (so Location cannot carry anything else) and, when Hosts
// is set, to be one of them: a request for any other name is answered
// 421 Misdirected Request (RFC 9110 §15.5.20) rather than redirected to a
// name this server has no certificate for.
type Redirect struct {
	// HTTPSPort is the port of the HTTPS listener, put in Location unless
	// it is "" or "443".
	HTTPSPort string
	// Hosts, when not empty, are the only host names redirected (lower
	// case, as in --acme-domain).
	Hosts []string
}

// ServeHTTP implements http.Handler.
func (rd *Redirect) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host, ok := requestHost(r.Host)
	if !ok {
		problem.Write(w, r, problem.New(http.StatusBadRequest, "The request has no valid Host header."))
		return
	}
	if len(rd.Hosts) > 0 && !slices.Contains(rd.Hosts, strings.TrimSuffix(host, ".")) {
		problem.Write(w, r, problem.New(http.StatusMisdirectedRequest, "This server does not answer for that host name."))
		return
	}
	target := "https://" + rd.authority(host)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		problem.Write(w, r, problem.New(http.StatusForbidden,
			"This server accepts requests only over HTTPS; send it to "+target+" instead. "+
				"This request went over the network unencrypted: treat any password or token it carried as exposed."))
		return
	}
	uri := r.URL.RequestURI() // path and query only, never scheme or host
	if !strings.HasPrefix(uri, "/") {
		uri = "/"
	}
	w.Header().Set("Location", target+uri)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusPermanentRedirect)
}

// authority is host with the HTTPS port, IPv6 literals in brackets.
func (rd *Redirect) authority(host string) string {
	if rd.HTTPSPort == "" || rd.HTTPSPort == "443" {
		if strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return host
	}
	return net.JoinHostPort(host, rd.HTTPSPort)
}

// requestHost returns the host of a Host header value (without port, IPv6
// without brackets, lower case) and whether it is a DNS name or an IP
// literal. Anything else (user info, paths, spaces, percent signs) is
// refused, so it cannot end up in a Location header.
func requestHost(hostport string) (string, bool) {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else if strings.HasPrefix(hostport, "[") && strings.HasSuffix(hostport, "]") {
		host = hostport[1 : len(hostport)-1]
	}
	host = strings.ToLower(host)
	if host == "" || len(host) > 253 {
		return "", false
	}
	if strings.Contains(host, ":") {
		// Only an IPv6 literal may contain ':' (zones refused).
		ip := net.ParseIP(host)
		return host, ip != nil && ip.To4() == nil
	}
	for _, l := range strings.Split(strings.TrimSuffix(host, "."), ".") {
		if l == "" || len(l) > 63 {
			return "", false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", false
			}
		}
	}
	return host, true
}
