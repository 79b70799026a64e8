// Package oidctest runs an OpenID Connect provider inside a test suite: a
// real HTTP server (httptest) with discovery, a JWKS of rotatable RS256
// keys, an authorization endpoint that approves a configured user at once,
// and a token endpoint that checks what a strict provider checks — client
// secret, the redirect URI matched exactly against the one given to
// /authorize, PKCE S256, authorization codes single-use and short-lived.
//
// Attack tests bend what it issues through [Provider.SetTamper]: any
// id_token header or claim (wrong aud, extra audiences without azp, wrong
// nonce or iss, expired), the signature (alg none, HS256 keyed with the
// public key, a key the JWKS never publishes) and the authorization
// response (an OAuth error instead of a code).
//
// The provider can announce any issuer string, so that Google's issuer
// (https://accounts.google.com, and its scheme-less form in the iss claim)
// can be emulated: requests to the issuer's host go through
// [Provider.Transport], [Provider.Client] or [Provider.Browser], which
// route them to the test server.
//
// A test of a relying party starts the provider, registers its callback
// and drives a browser through the login:
//
//	p := oidctest.New(t, oidctest.Config{})
//	srv := httptest.NewServer(mux) // serves /auth/login and /auth/callback
//	p.AddRedirectURI(srv.URL + "/auth/callback")
//	// configure the relying party with p.Issuer(), p.ClientID(),
//	// p.ClientSecret() and p.Client() as its HTTP client, then:
//	resp, err := p.Browser().Get(srv.URL + "/auth/login")
//
// The provider imports no LogLine package; gateway and CLI tests can use it.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Defaults used when the Config leaves a field empty.
const (
	DefaultClientID     = "logline-test-client"
	DefaultClientSecret = "logline-test-secret"
	DefaultCodeTTL      = time.Minute
	DefaultIDTokenTTL   = time.Hour

	// GoogleIssuer is the issuer Google announces in discovery and
	// usually signs into id_tokens.
	GoogleIssuer = "https://accounts.google.com"
	// GoogleIssuerNoScheme is the other issuer string Google's id_tokens
	// may carry. Emulate it with Tamper{Claims: {"iss": GoogleIssuerNoScheme}}.
	GoogleIssuerNoScheme = "accounts.google.com"
)

// User is the account /authorize approves. Its fields become the id_token's
// sub, email, email_verified, hd (omitted when empty) and name.
type User struct {
	Subject       string
	Email         string
	EmailVerified bool
	HostedDomain  string
	Name          string
}

// DefaultUser is the user approved when Config.User is zero: a verified
// account of the hosted domain example.com.
func DefaultUser() User {
	return User{
		Subject:       "108234567890123456789",
		Email:         "ada@example.com",
		EmailVerified: true,
		HostedDomain:  "example.com",
		Name:          "Ada Lovelace",
	}
}

// Config sets up a Provider. The zero value works: the provider announces
// its own URL as issuer and approves DefaultUser for DefaultClientID.
type Config struct {
	// Issuer is the issuer identifier announced in discovery and signed
	// into id_tokens, and the base of every endpoint URL. Empty means the
	// server's own URL (http://127.0.0.1:port). Another absolute URL, such
	// as GoogleIssuer, is reachable only through Transport, Client and
	// Browser.
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURIs are the registered redirect URIs, compared byte for
	// byte with the redirect_uri of each request. AddRedirectURI adds more.
	RedirectURIs []string
	User         User
	// Now is the provider's clock (code expiry, iat, exp). Default time.Now.
	Now func() time.Time
	// CodeTTL is how long an authorization code may be exchanged.
	CodeTTL time.Duration
	// IDTokenTTL is the lifetime of the id_tokens issued.
	IDTokenTTL time.Duration
	// AllowNoPKCE lets /authorize accept a request without code_challenge.
	// By default PKCE S256 is required, as OAuth 2.1 requires.
	AllowNoPKCE bool
	// Key is the first signing key; nil generates a 2048-bit RSA key.
	// Passing one saves the generation time when many providers run.
	Key *rsa.PrivateKey
}

// Signing says how the provider signs id_tokens.
type Signing int

const (
	// SignRS256 signs with the current published key (the default).
	SignRS256 Signing = iota
	// SignNone sets alg "none" and an empty signature.
	SignNone
	// SignHS256PublicKey sets alg HS256 and uses the PEM encoding of the
	// current public key as the HMAC secret: the algorithm-confusion attack.
	SignHS256PublicKey
	// SignUnknownKey signs RS256 with a key the JWKS never publishes; its
	// kid is "unknown" unless the Tamper's Header sets another (for
	// example the kid of a published key).
	SignUnknownKey
)

// Tamper bends what the provider issues, for attack tests. The zero value
// issues honest id_tokens.
type Tamper struct {
	// Sign chooses the signature; the header's alg and kid follow it
	// before Header is applied.
	Sign Signing
	// Header is merged over the JOSE header (alg, kid, typ); a nil value
	// deletes the member.
	Header map[string]any
	// Claims is merged over the id_token claims; a nil value deletes the
	// claim. Numbers for exp and iat are Unix seconds.
	Claims map[string]any
	// AuthorizeError, when set, makes /authorize redirect back with this
	// OAuth error code (for example "access_denied") instead of a code.
	AuthorizeError string
}

// Stats counts what the provider did. TokenTime is the wall time spent
// inside the token endpoint's handler (signing included), measured with
// the real clock so benchmarks can subtract the provider's own work.
type Stats struct {
	Authorizations int
	TokenRequests  int
	TokensIssued   int
	Replays        int // token requests presenting an already used code
	TokenTime      time.Duration
}

// Provider is a running test OpenID provider. Its methods are safe for
// concurrent use.
type Provider struct {
	srv       *httptest.Server
	issuer    string
	issuerURL *url.URL
	clientID  string
	secret    string
	now       func() time.Time
	codeTTL   time.Duration
	tokenTTL  time.Duration
	noPKCE    bool

	mu sync.Mutex
	// Guarded by mu:
	redirects map[string]bool
	user      User
	keys      []*signingKey // published keys, current signing key first
	stranger  *signingKey   // lazily made key for SignUnknownKey
	tamper    Tamper
	codes     map[string]*grant
	pruned    time.Time // when expired codes were last dropped
	stats     Stats
}

// grant is what an authorization code stands for.
type grant struct {
	clientID    string
	redirectURI string
	nonce       string
	challenge   string
	scope       string
	user        User
	issued      time.Time
	used        bool
}

// New starts a provider on httptest.NewServer and closes it when the test
// ends. It fails the test if its key cannot be generated or cfg.Issuer is
// not an absolute URL.
func New(tb testing.TB, cfg Config) *Provider {
	tb.Helper()
	p := &Provider{
		clientID:  cmpOr(cfg.ClientID, DefaultClientID),
		secret:    cmpOr(cfg.ClientSecret, DefaultClientSecret),
		now:       cfg.Now,
		codeTTL:   cfg.CodeTTL,
		tokenTTL:  cfg.IDTokenTTL,
		noPKCE:    cfg.AllowNoPKCE,
		redirects: map[string]bool{},
		user:      cfg.User,
		codes:     map[string]*grant{},
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.codeTTL <= 0 {
		p.codeTTL = DefaultCodeTTL
	}
	if p.tokenTTL <= 0 {
		p.tokenTTL = DefaultIDTokenTTL
	}
	if p.user == (User{}) {
		p.user = DefaultUser()
	}
	for _, u := range cfg.RedirectURIs {
		p.redirects[u] = true
	}
	key := cfg.Key
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			tb.Fatalf("oidctest: generate key: %v", err)
		}
	}
	sk, err := newSigningKey(key)
	if err != nil {
		tb.Fatalf("oidctest: %v", err)
	}
	p.keys = []*signingKey{sk}

	var prefix string
	if cfg.Issuer != "" {
		u, err := url.Parse(cfg.Issuer)
		if err != nil || u.Scheme == "" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			tb.Fatalf("oidctest: issuer %q is not an absolute URL without query or fragment", cfg.Issuer)
		}
		prefix = strings.TrimSuffix(u.Path, "/")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+prefix+"/.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET "+prefix+"/jwks", p.jwks)
	mux.HandleFunc("GET "+prefix+"/authorize", p.authorize)
	mux.HandleFunc("POST "+prefix+"/token", p.token)
	p.srv = httptest.NewServer(mux)
	tb.Cleanup(p.Close)

	p.issuer = cmpOr(cfg.Issuer, p.srv.URL)
	p.issuerURL, _ = url.Parse(p.issuer)
	return p
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Close shuts the server down. New registers it with the test's Cleanup.
func (p *Provider) Close() { p.srv.Close() }

// URL returns the test server's own base URL (http://127.0.0.1:port).
func (p *Provider) URL() string { return p.srv.URL }

// Issuer returns the issuer identifier the provider announces.
func (p *Provider) Issuer() string { return p.issuer }

// ClientID returns the one client the provider knows.
func (p *Provider) ClientID() string { return p.clientID }

// ClientSecret returns that client's secret.
func (p *Provider) ClientSecret() string { return p.secret }

// AddRedirectURI registers one more redirect URI (typically the callback
// URL of a server started after the provider).
func (p *Provider) AddRedirectURI(uri string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.redirects[uri] = true
}

// SetUser changes the account /authorize approves from now on.
func (p *Provider) SetUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = u
}

// SetTamper changes how the id_tokens and authorization responses issued
// from now on are bent; Tamper{} restores honest behaviour.
func (p *Provider) SetTamper(t Tamper) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t.Header = maps.Clone(t.Header)
	t.Claims = maps.Clone(t.Claims)
	p.tamper = t
}

// Stats returns the counters so far.
func (p *Provider) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// discovery serves /.well-known/openid-configuration.
func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	doc := map[string]any{
		"issuer":                                p.issuer,
		"authorization_endpoint":                p.issuer + "/authorize",
		"token_endpoint":                        p.issuer + "/token",
		"jwks_uri":                              p.issuer + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "email", "profile"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":      []string{"S256"},
		"grant_types_supported":                 []string{"authorization_code"},
		"claims_supported":                      []string{"iss", "sub", "aud", "azp", "exp", "iat", "nonce", "email", "email_verified", "hd", "name", "at_hash"},
	}
	writeJSON(w, http.StatusOK, doc)
}

// jwks serves the published keys.
func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	keys := make([]map[string]string, len(p.keys))
	for i, k := range p.keys {
		keys[i] = k.jwk()
	}
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

// authorize serves the authorization endpoint. An unknown client or an
// unregistered redirect URI gets an error page (never a redirect, RFC 6749
// §4.1.2.1); other errors are redirected back with error and state.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != p.clientID {
		http.Error(w, "oidctest: unknown client_id", http.StatusBadRequest)
		return
	}
	redirectURI := q.Get("redirect_uri")
	p.mu.Lock()
	registered := p.redirects[redirectURI]
	tamper := p.tamper
	p.mu.Unlock()
	if !registered {
		http.Error(w, "oidctest: redirect_uri is not registered (compared exactly)", http.StatusBadRequest)
		return
	}
	state := q.Get("state")
	fail := func(code, desc string) {
		redirectWith(w, r, redirectURI, url.Values{"error": {code}, "error_description": {desc}, "state": {state}})
	}
	if tamper.AuthorizeError != "" {
		fail(tamper.AuthorizeError, "the test provider was told to refuse")
		return
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "only response_type=code")
		return
	}
	scope := q.Get("scope")
	if !slices.Contains(strings.Fields(scope), "openid") {
		fail("invalid_scope", "scope must include openid")
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "" && !p.noPKCE:
		fail("invalid_request", "PKCE is required: code_challenge missing")
		return
	case challenge != "" && method != "S256":
		fail("invalid_request", "code_challenge_method must be S256")
		return
	case challenge != "" && !validChallenge(challenge):
		fail("invalid_request", "malformed code_challenge")
		return
	}
	code := randomString()
	now := p.now()
	p.mu.Lock()
	if now.Sub(p.pruned) >= p.codeTTL { // used codes stay until they expire, so replays are told apart
		for c, g := range p.codes {
			if now.Sub(g.issued) > p.codeTTL {
				delete(p.codes, c)
			}
		}
		p.pruned = now
	}
	p.codes[code] = &grant{
		clientID:    p.clientID,
		redirectURI: redirectURI,
		nonce:       q.Get("nonce"),
		challenge:   challenge,
		scope:       scope,
		user:        p.user,
		issued:      now,
	}
	p.stats.Authorizations++
	p.mu.Unlock()
	redirectWith(w, r, redirectURI, url.Values{"code": {code}, "state": {state}})
}

// validChallenge reports whether s looks like BASE64URL(SHA256(verifier)).
func validChallenge(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

// redirectWith sends a 302 to target with params added to its query.
func redirectWith(w http.ResponseWriter, r *http.Request, target string, params url.Values) {
	u, err := url.Parse(target)
	if err != nil {
		http.Error(w, "oidctest: bad redirect_uri", http.StatusBadRequest)
		return
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// tokenError is an RFC 6749 §5.2 error response.
func tokenError(w http.ResponseWriter, status int, code, desc string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="oidctest"`)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// token serves the token endpoint for the authorization_code grant.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	issued := false
	defer func() {
		d := time.Since(start)
		p.mu.Lock()
		p.stats.TokenRequests++
		p.stats.TokenTime += d
		if issued {
			p.stats.TokensIssued++
		}
		p.mu.Unlock()
	}()

	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "malformed form")
		return
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 §2.3.1: both are form-urlencoded inside Basic.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil || r.PostForm.Has("client_secret") {
			tokenError(w, http.StatusBadRequest, "invalid_request", "malformed client authentication")
			return
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != p.clientID || subtle.ConstantTimeCompare([]byte(secret), []byte(p.secret)) != 1 {
		tokenError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "authorization_code" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "only authorization_code")
		return
	}

	code := r.PostForm.Get("code")
	p.mu.Lock()
	g := p.codes[code]
	if g != nil && g.used {
		p.stats.Replays++
	}
	var used bool
	if g != nil {
		used, g.used = g.used, true
	}
	p.mu.Unlock()
	switch {
	case g == nil:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown authorization code")
		return
	case used:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "authorization code already used")
		return
	case p.now().Sub(g.issued) > p.codeTTL:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "authorization code expired")
		return
	case g.clientID != id:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "authorization code issued to another client")
		return
	case r.PostForm.Get("redirect_uri") != g.redirectURI:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request")
		return
	}
	verifier := r.PostForm.Get("code_verifier")
	if g.challenge == "" {
		if r.PostForm.Has("code_verifier") {
			tokenError(w, http.StatusBadRequest, "invalid_grant", "code_verifier without a code_challenge")
			return
		}
	} else {
		if verifier == "" {
			tokenError(w, http.StatusBadRequest, "invalid_grant", "code_verifier missing")
			return
		}
		sum := sha256.Sum256([]byte(verifier))
		got := base64.RawURLEncoding.EncodeToString(sum[:])
		if !validVerifier(verifier) || subtle.ConstantTimeCompare([]byte(got), []byte(g.challenge)) != 1 {
			tokenError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match code_challenge")
			return
		}
	}

	accessToken := randomString()
	claims := p.claimsFor(g.user, g.nonce)
	sum := sha256.Sum256([]byte(accessToken))
	claims["at_hash"] = base64.RawURLEncoding.EncodeToString(sum[:16])
	idToken, err := p.mint(claims)
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	issued = true
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": accessToken,
		"token_type":   "Bearer",
		"expires_in":   3599,
		"scope":        g.scope,
		"id_token":     idToken,
	})
}

// validVerifier checks RFC 7636 §4.1: 43–128 unreserved characters.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// claimsFor returns the honest id_token claims for u.
func (p *Provider) claimsFor(u User, nonce string) map[string]any {
	now := p.now()
	c := map[string]any{
		"iss":            p.issuer,
		"sub":            u.Subject,
		"aud":            p.clientID,
		"azp":            p.clientID,
		"iat":            now.Unix(),
		"exp":            now.Add(p.tokenTTL).Unix(),
		"email":          u.Email,
		"email_verified": u.EmailVerified,
		"name":           u.Name,
	}
	if u.HostedDomain != "" {
		c["hd"] = u.HostedDomain
	}
	if nonce != "" {
		c["nonce"] = nonce
	}
	return c
}

// MintIDToken returns an id_token for the current user, as /token would
// issue it (without nonce and at_hash), with extra merged over the claims
// (a nil value deletes one) and the current Tamper applied. Tests of
// other token verifiers use it to present a provider's id_token where
// something else is expected.
func (p *Provider) MintIDToken(extra map[string]any) (string, error) {
	p.mu.Lock()
	u := p.user
	p.mu.Unlock()
	c := p.claimsFor(u, "")
	merge(c, extra)
	return p.mint(c)
}

// merge sets each member of over in m; a nil value deletes the member.
func merge(m, over map[string]any) {
	for k, v := range over {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
}

func randomString() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, fmt.Sprintf("oidctest: encode: %v", err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}
