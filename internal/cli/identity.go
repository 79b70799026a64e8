package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/logline/logline/internal/auth"
	"github.com/logline/logline/internal/auth/llst"
	"github.com/logline/logline/internal/auth/oidclogin"
	"github.com/logline/logline/internal/auth/quota"
	"github.com/logline/logline/internal/auth/serviceacct"
	"github.com/logline/logline/internal/auth/tenantcfg"
	"github.com/logline/logline/internal/authlog"
	"github.com/logline/logline/internal/gateway"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/pgstore"
	"github.com/logline/logline/internal/span"
)

// Identity and access as serve runs it (docs/auth.md): LLST keys in
// DATA/keys/llst, tenant configuration and service accounts under
// DATA/cfg/tenants, hot-reloaded; the first start creates an admin
// service account for the default tenant.
const (
	llstDirName = "llst" // under the key directory
	// DefaultTenant is the tenant the first-start admin account belongs to.
	DefaultTenant = "default"
	// adminCredentialsName is the first-start admin account's credential
	// file, in DATA/keys (mode 0600).
	adminCredentialsName = "admin-sa.json"
	// adminCreatedName records that the first-start account was made, so
	// deleting it on purpose does not bring it back.
	adminCreatedName = "admin-sa.created"
	// llstAudience is the aud of every LLST.
	llstAudience = llst.DefaultAudience
)

// identityOptions are serve's identity flags.
type identityOptions struct {
	dev              bool
	publicURL        string
	corsOrigins      []string
	oidcIssuer       string
	oidcClientID     string
	oidcClientSecret string
	oidcRedirectURL  string
	oidcDomains      []string
	tlsCert, tlsKey  string
}

// llstIssuer is the iss of this log's tokens: derived from the log's
// origin, so every node of a log and `logline token issue` agree on it
// without configuration.
func llstIssuer(origin string) string { return "logline:" + origin }

// identity is what serve runs for authentication: the gateway's Access,
// the usage counters, and the background loops.
type identity struct {
	access *gateway.Access
	usage  *quota.Usage
	loops  []func(ctx context.Context) error
	// tenants is the tenant configuration (nil with --dev).
	tenants *tenantcfg.Watcher
}

// isLoopback reports whether host (of --addr) only listens on this
// machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// identityDeps are the parts of the server identity needs.
type identityDeps struct {
	data     string
	origin   string
	baseURL  string // the server's public URL, no trailing slash
	store    ledger.Store
	receipts gateway.ReceiptLog
	logKeys  func() []string
	log      *slog.Logger
}

// openIdentity builds authentication for serve (nil access with --dev).
func openIdentity(ctx context.Context, o identityOptions, d identityDeps) (*identity, error) {
	id := &identity{usage: quota.NewUsage(quota.UsageConfig{})}
	if o.dev {
		return id, nil
	}
	alog, err := authlog.New(authlog.Config{Store: d.store, Logger: d.log, Appended: func(res ledger.Result) {
		if d.receipts != nil {
			d.receipts.Add(res, activeLogKeyID(d.logKeys))
		}
	}})
	if err != nil {
		return nil, err
	}
	// One keyring for every node of a PostgreSQL ledger (a token issued
	// by one verifies at all); the data directory's otherwise.
	var keyStore llst.KeyStore = llst.NewDirStore(filepath.Join(d.data, keysDirName, llstDirName), d.log)
	if pg, ok := d.store.(*pgstore.Store); ok {
		keyStore = newPGTokenKeys(pg.TokenKeys(), d.log)
	}
	ring, err := llst.Open(ctx, llst.Config{
		Store:  keyStore,
		Issuer: llstIssuer(d.origin), Audience: llstAudience, Logger: d.log,
		OnRotate: func(ev llst.RotationEvent) {
			for _, k := range ev.Created {
				if err := alog.KeyRotated(context.WithoutCancel(ctx), k.ID, k.ActiveFrom, k.RetireAt); err != nil {
					d.log.Warn("recording a token key rotation", "kid", k.ID, "err", err)
				}
			}
		},
	})
	if err != nil {
		return nil, ioErrorf("token keys: %w", err)
	}
	verifier := llst.NewVerifier(ring)
	issuer := llst.NewIssuer(ring)
	tenants, err := tenantcfg.New(ctx, tenantcfg.Config{DataDir: d.data, ValidTenant: span.ValidTenant, Logger: d.log})
	if err != nil {
		return nil, ioErrorf("tenant configuration: %w", err)
	}
	tokenURL := d.baseURL + "/auth/token"
	// Before the registry loads, so the account is there from the start.
	if err := firstStartAdmin(d.data, tokenURL, d.log); err != nil {
		return nil, err
	}
	accounts, err := serviceacct.NewRegistry(ctx, serviceacct.RegistryConfig{DataDir: d.data, ValidTenant: span.ValidTenant, Logger: d.log})
	if err != nil {
		return nil, ioErrorf("service accounts: %w", err)
	}
	// Tenants without a (valid) tenant.yaml get the default limits too.
	limiter, err := quota.New(quota.Config{Default: quotaLimits(tenantcfg.DefaultLimits())})
	if err != nil {
		return nil, err
	}
	applyQuotas(limiter, tenants.Current(), nil, d.log)

	mint := &minter{tenants: tenants, issuer: issuer, verifier: verifier, log: alog}
	exchange := &serviceacct.Exchange{
		Verifier: serviceacct.NewVerifier(serviceacct.VerifierConfig{Accounts: accounts}),
		Audience: tokenURL,
		Issue: func(ctx context.Context, a serviceacct.Account) (string, time.Time, error) {
			tok, exp, err := mint.issue(ctx, a.Tenant, a.ID, a.Roles, auth.KindService, 0)
			if errors.Is(err, errUnknownRole) {
				// The tenant's configuration no longer defines a role the
				// account holds: the account's problem, not the server's.
				return "", time.Time{}, &serviceacct.OAuthError{Status: http.StatusBadRequest, Code: "invalid_grant", Description: "service account " + a.ID + ": " + err.Error()}
			}
			return tok, exp, err
		},
		Logger: d.log,
	}
	login := &loginRoutes{o: o, baseURL: d.baseURL, tenants: tenants, mint: mint, log: d.log}
	id.access = &gateway.Access{
		Verify: operatorTokensRecorded(verifier, alog),
		Quotas: limiter,
		Denied: alog.Denied,
		// A refused token counts toward the tenant it names
		// (auth.jwt_invalid_rate), never for access.
		TokenTenant: llst.ClaimedTenant,
		Routes: map[string]http.Handler{
			"GET /.well-known/jwks.json": ring.JWKSHandler(),
			"POST /auth/token":           exchange,
			"GET /auth/login":            http.HandlerFunc(login.login),
			"GET /auth/callback":         http.HandlerFunc(login.callback),
		},
	}
	id.tenants = tenants
	id.loops = []func(context.Context) error{
		ring.Run, tenants.Run, accounts.Run, alog.Run,
		func(ctx context.Context) error { return watchQuotas(ctx, limiter, tenants, d.log) },
	}
	return id, nil
}

// operatorTokensRecorded verifies tokens with v and records the first
// use of each operator token (`logline token issue` cannot write to the
// ledger of a running server) as its token.issue event.
func operatorTokensRecorded(v *llst.Verifier, alog *authlog.Log) func(context.Context, string) (*auth.Principal, error) {
	var (
		mu   sync.Mutex
		seen = map[string]time.Time{} // jti → expiry, of operator tokens recorded
	)
	return func(ctx context.Context, token string) (*auth.Principal, error) {
		p, err := v.Verify(token)
		if err != nil || p.Kind != auth.KindOperator {
			return p, err
		}
		mu.Lock()
		_, done := seen[p.TokenID]
		if !done {
			if len(seen) >= maxOperatorTokens {
				now := time.Now()
				for jti, exp := range seen {
					if exp.Before(now) {
						delete(seen, jti)
					}
				}
			}
			seen[p.TokenID] = p.Expires
		}
		mu.Unlock()
		if done {
			return p, nil
		}
		if err := alog.TokenIssued(ctx, p); err != nil {
			mu.Lock()
			delete(seen, p.TokenID)
			mu.Unlock()
			return nil, errors.New("the token's first use could not be recorded in the ledger; retry")
		}
		return p, nil
	}
}

// maxOperatorTokens bounds the operator tokens remembered as recorded
// (expired ones are dropped when it is reached).
const maxOperatorTokens = 100_000

// activeLogKeyID is the key hash of the active log key ("name+hash+b64").
func activeLogKeyID(logKeys func() []string) string {
	if logKeys == nil {
		return ""
	}
	keys := logKeys()
	if len(keys) == 0 {
		return ""
	}
	_, rest, ok := strings.Cut(keys[0], "+")
	if !ok || len(rest) < 9 || rest[8] != '+' {
		return ""
	}
	return rest[:8]
}

// minter issues LLSTs for a tenant's roles, as configured, and records
// each issue as an auth event.
type minter struct {
	tenants  *tenantcfg.Watcher
	issuer   *llst.Issuer
	verifier *llst.Verifier
	log      *authlog.Log
}

// errUnknownRole is a role the tenant does not define.
var errUnknownRole = errors.New("unknown role")

func (m *minter) issue(ctx context.Context, tenant, subject string, roles []string, kind auth.Kind, ttl time.Duration) (string, time.Time, error) {
	t := m.tenants.Current().TenantOrDefaults(tenant)
	for _, r := range roles {
		if !t.HasRole(r) {
			return "", time.Time{}, fmt.Errorf("%w %q in tenant %s (defined: %s)", errUnknownRole, r, tenant, strings.Join(t.Roles(), ", "))
		}
	}
	if len(roles) == 0 {
		return "", time.Time{}, fmt.Errorf("%w: no role given", errUnknownRole)
	}
	token, exp, err := m.issuer.Issue(ctx, llst.Claims{Subject: subject, Tenant: tenant, Roles: roles, Grants: t.Grants(roles), Kind: kind, TTL: ttl})
	if err != nil {
		return "", time.Time{}, err
	}
	if m.log != nil {
		p, err := m.verifier.Verify(token)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("a token just issued does not verify: %w", err)
		}
		if err := m.log.TokenIssued(ctx, p); err != nil {
			// A token whose issue is not on the ledger is not handed out.
			return "", time.Time{}, err
		}
	}
	return token, exp, nil
}

// applyQuotas sets the limiter from the tenants' configuration (and
// forgets tenants that lost theirs).
func applyQuotas(l *quota.Limiter, snap, prev *tenantcfg.Snapshot, log *slog.Logger) {
	for _, name := range snap.Names() {
		t, _ := snap.Tenant(name)
		roles := map[string]quota.Limits{}
		for _, r := range t.Roles() {
			if lim, ok := t.RoleLimits(r); ok {
				roles[r] = quotaLimits(lim)
			}
		}
		if err := l.Set(name, quotaLimits(t.TenantLimits()), roles); err != nil {
			log.Warn("tenant quotas not applied", "tenant", name, "err", err)
		}
	}
	if prev != nil {
		for _, name := range prev.Names() {
			if _, ok := snap.Tenant(name); !ok {
				l.Delete(name)
			}
		}
	}
}

func quotaLimits(l tenantcfg.Limits) quota.Limits {
	conv := func(r tenantcfg.Rate) quota.Limit {
		if r.Unlimited() {
			return quota.Limit{}
		}
		return quota.Limit{PerSecond: r.PerSecond, Burst: r.Burst}
	}
	return quota.Limits{Requests: conv(l.Requests), Spans: conv(l.Spans), Bytes: conv(l.Bytes)}
}

// watchQuotas re-applies quotas whenever the tenant configuration
// changes.
func watchQuotas(ctx context.Context, l *quota.Limiter, tenants *tenantcfg.Watcher, log *slog.Logger) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	prev := tenants.Current()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if cur := tenants.Current(); cur != prev {
				applyQuotas(l, cur, prev, log)
				prev = cur
			}
		}
	}
}

// firstStartAdmin creates, once per data directory, an admin service
// account for the default tenant and says how to use it.
func firstStartAdmin(data, tokenURL string, log *slog.Logger) error {
	marker := filepath.Join(data, keysDirName, adminCreatedName)
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	credPath := filepath.Join(data, keysDirName, adminCredentialsName)
	a, cred, err := serviceacct.Create(data, serviceacct.CreateOptions{
		Tenant: DefaultTenant, Roles: []string{auth.RoleAdmin}, Name: "first-start admin",
		TokenURI: tokenURL, Now: time.Now(), ValidTenant: span.ValidTenant,
	})
	if err != nil {
		return ioErrorf("create the first admin service account: %w", err)
	}
	if err := serviceacct.WriteCredentials(credPath, cred); err != nil {
		return ioErrorf("write the first admin credentials: %w", err)
	}
	if err := os.WriteFile(marker, []byte(a.ID+"\n"), 0o600); err != nil {
		return ioErrorf("%w", err)
	}
	log.Warn("first start: created an admin service account for tenant "+DefaultTenant+
		"; its private key is in "+credPath+" (keep it safe). Use it with: export LOGLINE_CREDENTIALS="+credPath+
		" — or mint a token: logline token issue --data "+data+" --tenant "+DefaultTenant+" --role admin",
		"account", a.ID, "credentials", credPath)
	return nil
}

// loginRoutes serves /auth/login and /auth/callback: OIDC login when
// --oidc-client-id is set, a clear 501 otherwise. The provider's
// discovery document is fetched on the first login (and again after a
// failure), so an unreachable provider never stops the ledger.
type loginRoutes struct {
	o       identityOptions
	baseURL string
	tenants *tenantcfg.Watcher
	mint    *minter
	log     *slog.Logger

	mu   sync.Mutex // guards flow
	flow *oidclogin.Flow
}

func (l *loginRoutes) getFlow(ctx context.Context) (*oidclogin.Flow, *oidclogin.Error) {
	if l.o.oidcClientID == "" {
		return nil, &oidclogin.Error{Status: http.StatusNotImplemented, Code: "not_implemented",
			Detail: "login is not configured on this server (serve --oidc-client-id, docs/auth.md); apps use service accounts (POST /auth/token)"}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.flow != nil {
		return l.flow, nil
	}
	redirect := l.o.oidcRedirectURL
	if redirect == "" {
		redirect = l.baseURL + "/auth/callback"
	}
	f, err := oidclogin.New(ctx, oidclogin.Config{
		Issuer: l.o.oidcIssuer, ClientID: l.o.oidcClientID, ClientSecret: l.o.oidcClientSecret,
		RedirectURL: redirect, AllowedDomains: l.o.oidcDomains, OnLogin: l.onLogin, Logger: l.log,
	})
	if err != nil {
		l.log.Error("OIDC provider unavailable", "issuer", l.o.oidcIssuer, "err", err)
		return nil, &oidclogin.Error{Status: http.StatusServiceUnavailable, Code: "unavailable",
			Detail: "the login provider cannot be reached; retry later"}
	}
	l.flow = f
	return f, nil
}

func (l *loginRoutes) login(w http.ResponseWriter, r *http.Request) {
	f, e := l.getFlow(r.Context())
	if e != nil {
		oidclogin.WriteProblem(w, r, e)
		return
	}
	f.Login(w, r)
}

func (l *loginRoutes) callback(w http.ResponseWriter, r *http.Request) {
	f, e := l.getFlow(r.Context())
	if e != nil {
		oidclogin.WriteProblem(w, r, e)
		return
	}
	f.Callback(w, r)
}

// loginToken is one tenant's token in the login answer.
type loginToken struct {
	Tenant  string   `json:"tenant"`
	Roles   []string `json:"roles"`
	Token   string   `json:"access_token"`
	Type    string   `json:"token_type"`
	Expires int64    `json:"expires_in"`
}

// onLogin maps a verified identity to the tenants whose tenant.yaml
// makes it a member, records the login in each, and answers with one
// token per tenant (JSON, or a small page for a browser).
func (l *loginRoutes) onLogin(ctx context.Context, res oidclogin.LoginResult) (http.Handler, error) {
	id := res.Identity
	snap := l.tenants.Current()
	var tokens []loginToken
	for _, name := range snap.Names() {
		t, _ := snap.Tenant(name)
		roles := t.RolesFor(tenantcfg.Identity{LLID: id.LLID, Issuer: id.Issuer, Subject: id.Subject, HostedDomain: id.HostedDomain})
		if len(roles) == 0 || !t.LoginAllowed(id.HostedDomain) {
			continue
		}
		if err := l.mint.log.Login(ctx, name, id.LLID, id.Issuer, id.Subject, roles); err != nil {
			return nil, err
		}
		token, exp, err := l.mint.issue(ctx, name, id.LLID, roles, auth.KindUser, 0)
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, loginToken{Tenant: name, Roles: roles, Token: token, Type: "Bearer", Expires: int64(time.Until(exp).Seconds())})
	}
	if len(tokens) == 0 {
		l.mint.log.Denied("", "login without membership")
		return nil, &oidclogin.Error{Status: http.StatusForbidden, Code: "no_tenant",
			Detail: fmt.Sprintf("you are signed in as %s but no tenant lists you as a member; ask an administrator to add `llid: %s` to a tenant.yaml (docs/auth.md)", id.LLID, id.LLID)}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		body := struct {
			LLID   string       `json:"llid"`
			Email  string       `json:"email,omitempty"`
			Tokens []loginToken `json:"tokens"`
		}{id.LLID, id.Email, tokens}
		if wantsHTML(r) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			var b strings.Builder
			b.WriteString("<!doctype html><meta charset=utf-8><title>LogLine: signed in</title><h1>Signed in</h1><p>LogLine identity <code>")
			b.WriteString(html.EscapeString(id.LLID))
			b.WriteString("</code></p><p>Tokens (valid 15 minutes; use as <code>Authorization: Bearer …</code>):</p><ul>")
			for _, t := range tokens {
				fmt.Fprintf(&b, "<li>tenant <b>%s</b> (%s): <textarea readonly rows=3 cols=80>%s</textarea>", html.EscapeString(t.Tenant), html.EscapeString(strings.Join(t.Roles, ", ")), html.EscapeString(t.Token))
			}
			b.WriteString("</ul>")
			_, _ = w.Write([]byte(b.String()))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	}), nil
}

func wantsHTML(r *http.Request) bool {
	return slices.ContainsFunc(strings.Split(r.Header.Get("Accept"), ","), func(s string) bool {
		return strings.HasPrefix(strings.TrimSpace(s), "text/html")
	})
}
