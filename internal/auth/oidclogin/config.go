package oidclogin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Defaults for the zero fields of Config.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultStateTTL   = 10 * time.Minute
	DefaultMaxPending = 10000
	DefaultSkew       = 60 * time.Second
)

// DefaultScopes are requested when Config.Scopes is empty.
func DefaultScopes() []string { return []string{"openid", "email", "profile"} }

// LoginResult is what a completed login hands to Config.OnLogin.
type LoginResult struct {
	Identity Identity
	// ReturnTo is the validated return_to of the login (a same-origin
	// path, see CheckReturnTo), or "" when none was given.
	ReturnTo string
}

// Config configures a Flow. Issuer, ClientID, ClientSecret, RedirectURL
// and AllowedDomains come from LogLine's configuration; the rest have
// defaults.
type Config struct {
	// Issuer is the OpenID provider's issuer URL; discovery is fetched
	// from Issuer + "/.well-known/openid-configuration" and must announce
	// exactly this issuer. Default GoogleIssuer.
	Issuer string
	// ClientID and ClientSecret identify LogLine at the provider. The
	// secret authenticates the code exchange (client_secret_basic, or
	// client_secret_post when discovery offers only that); an empty
	// secret makes LogLine a public client that relies on PKCE alone.
	ClientID     string
	ClientSecret string
	// RedirectURL is the callback URL exactly as registered at the
	// provider: it is sent byte for byte in the authorization request and
	// the code exchange, and never derived from the request's Host. It
	// must be absolute, https (http only on a loopback host), without user
	// info or fragment. See the package documentation.
	RedirectURL string
	// Scopes requested; "openid" is added when missing. Default
	// DefaultScopes().
	Scopes []string
	// AllowedDomains, when not empty, admits only accounts of these
	// domains (exact, case-insensitive) by DomainRule.
	AllowedDomains []string
	DomainRule     DomainRule
	// SigningAlgs pins the id_token algorithms accepted. Empty means the
	// asymmetric algorithms the provider's discovery lists (go-oidc drops
	// none and HS*), or RS256 when it lists none. The token's own alg
	// header never widens this set.
	SigningAlgs []string
	// AuthParams are extra authorization request parameters (prompt,
	// login_hint, Google's hd hint). They may not replace the parameters
	// the flow sets itself.
	AuthParams map[string]string
	// OnLogin maps a verified identity to a LogLine session: look up its
	// tenant and roles, issue an LLST, and return the handler that answers
	// the browser (a redirect to ReturnTo setting a cookie, a JSON body…).
	// An *Error it returns is shown as is (say 403 no_tenant); any other
	// error becomes ErrInternal. Required.
	OnLogin func(ctx context.Context, res LoginResult) (http.Handler, error)
	// OnError answers a failed Login or Callback. Default WriteProblem.
	OnError func(w http.ResponseWriter, r *http.Request, e *Error)
	// HTTPClient reaches the provider (discovery, JWKS, token endpoint).
	// Default: a client with a Timeout of Timeout.
	HTTPClient *http.Client
	// Timeout bounds discovery in New, and the code exchange plus id_token
	// verification in Callback. Default DefaultTimeout.
	Timeout time.Duration
	// StateTTL is how long a started login may be completed. Default
	// DefaultStateTTL.
	StateTTL time.Duration
	// MaxPending bounds the started, uncompleted logins kept; the oldest
	// is dropped when full. Default DefaultMaxPending.
	MaxPending int
	// Skew is how long after its exp an id_token is still accepted, for
	// clock differences with the provider. Default DefaultSkew.
	Skew time.Duration
	// Now, Rand and Logger default to time.Now, crypto/rand.Reader and a
	// logger that discards.
	Now    func() time.Time
	Rand   io.Reader
	Logger *slog.Logger
}

// reservedParams are the authorization request parameters the flow owns.
var reservedParams = []string{
	"client_id", "redirect_uri", "response_type", "scope", "state", "nonce",
	"code_challenge", "code_challenge_method",
}

// withDefaults validates c and fills its defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Issuer == "" {
		c.Issuer = GoogleIssuer
	}
	if c.ClientID == "" {
		return c, errors.New("client id is required")
	}
	if err := checkRedirectURL(c.RedirectURL); err != nil {
		return c, err
	}
	if c.OnLogin == nil {
		return c, errors.New("OnLogin is required")
	}
	if len(c.Scopes) == 0 {
		c.Scopes = DefaultScopes()
	}
	if !slices.Contains(c.Scopes, "openid") {
		c.Scopes = append([]string{"openid"}, c.Scopes...)
	}
	if c.DomainRule != DomainByHostedDomain && c.DomainRule != DomainByEmail {
		return c, fmt.Errorf("unknown domain rule %d", c.DomainRule)
	}
	domains := make([]string, len(c.AllowedDomains))
	for i, d := range c.AllowedDomains {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "" || strings.ContainsAny(d, "@/ ") {
			return c, fmt.Errorf("allowed domain %q is not a domain name", c.AllowedDomains[i])
		}
		domains[i] = d
	}
	c.AllowedDomains = domains
	for k := range c.AuthParams {
		if slices.Contains(reservedParams, k) {
			return c, fmt.Errorf("auth param %q is set by the flow itself", k)
		}
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.Timeout}
	}
	if c.StateTTL <= 0 {
		c.StateTTL = DefaultStateTTL
	}
	if c.MaxPending <= 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.Skew < 0 {
		return c, fmt.Errorf("negative skew %v", c.Skew)
	}
	if c.Skew == 0 {
		c.Skew = DefaultSkew
	}
	if c.OnError == nil {
		c.OnError = WriteProblem
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// checkRedirectURL accepts an absolute https URL, or http on a loopback
// host, without user info or fragment.
func checkRedirectURL(s string) error {
	if s == "" {
		return errors.New("redirect URL is required")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("redirect URL: %w", err)
	}
	if u.Host == "" || u.User != nil || u.Fragment != "" || strings.Contains(s, "#") {
		return fmt.Errorf("redirect URL %q: want an absolute URL without user info or fragment", s)
	}
	return checkEndpointURL("redirect URL", u)
}

// checkEndpointURL refuses plain http except on loopback hosts.
func checkEndpointURL(what string, u *url.URL) error {
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%s %q: http is allowed only on a loopback host; use https", what, u.Redacted())
	}
	return fmt.Errorf("%s %q: scheme must be https", what, u.Redacted())
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
