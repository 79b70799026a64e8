package oidctest

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
)

// Transport returns a RoundTripper that sends requests for the issuer's
// host to the test server and everything else to next (nil means
// http.DefaultTransport). It lets an issuer such as GoogleIssuer be served
// by the test server; with the default issuer it routes nothing.
func (p *Provider) Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	target, _ := url.Parse(p.srv.URL)
	return &routeTransport{
		host:   p.issuerURL.Host,
		target: target,
		server: p.srv.Client().Transport,
		next:   next,
	}
}

type routeTransport struct {
	host   string // the issuer's host[:port]
	target *url.URL
	server http.RoundTripper // the test server's own client transport
	next   http.RoundTripper
}

func (t *routeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != t.host && req.URL.Host != t.target.Host {
		return t.next.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.URL.Scheme = t.target.Scheme
	r.URL.Host = t.target.Host
	r.Host = ""
	return t.server.RoundTrip(r)
}

// Client returns an HTTP client for the relying party under test (for
// discovery, JWKS and the token endpoint), routed by Transport.
func (p *Provider) Client() *http.Client {
	return &http.Client{Transport: p.Transport(nil)}
}

// Browser returns a new "browser": an HTTP client with its own cookie jar
// that follows redirects, routed by Transport. Two Browsers share no
// cookies, which is how login-CSRF tests play the victim and the attacker.
func (p *Provider) Browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Transport: p.Transport(nil), Jar: jar}
}
