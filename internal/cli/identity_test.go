package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logline/logline/internal/auth"
	"github.com/logline/logline/internal/auth/oidctest"
	"github.com/logline/logline/internal/auth/serviceacct"
	"github.com/logline/logline/internal/ledger/pgstore/pgtest"
)

// writeTenantYAML writes DATA/cfg/tenants/<tenant>/tenant.yaml.
func writeTenantYAML(t *testing.T, data, tenant, yaml string) {
	t.Helper()
	dir := filepath.Join(data, "cfg", "tenants", tenant)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tenant.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
}

func bearerGet(t *testing.T, u, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestLoginThroughServe drives the whole login through a real serve and
// an OpenID provider running in the test: /auth/login → the provider →
// /auth/callback → one token per tenant whose tenant.yaml lists the
// person; the token works in that tenant only; the login and the
// identity are spans of the tenant; a person no tenant lists is refused
// with their LLID named; the provider's own id_token is no LogLine token,
// and a LogLine token is no service-account assertion.
func TestLoginThroughServe(t *testing.T) {
	p := oidctest.New(t, oidctest.Config{})
	user := oidctest.DefaultUser()
	llid := auth.LLID(p.Issuer(), user.Subject)
	data := t.TempDir()
	writeTenantYAML(t, data, "bakery", "version: 1\nmembers:\n  - llid: "+llid+"\n    roles: [writer]\n")
	base, _, _ := runServeAuth(t, data, "--oidc-issuer", p.Issuer(), "--oidc-client-id", p.ClientID(), "--oidc-client-secret", p.ClientSecret())
	p.AddRedirectURI(base + "/auth/callback")

	login := func(browser *http.Client) (int, []byte) {
		t.Helper()
		resp, err := browser.Get(base + "/auth/login")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	var answer struct {
		LLID   string `json:"llid"`
		Tokens []struct {
			Tenant string   `json:"tenant"`
			Roles  []string `json:"roles"`
			Token  string   `json:"access_token"`
		} `json:"tokens"`
	}
	for range 2 {
		code, body := login(p.Browser())
		if code != http.StatusOK {
			t.Fatalf("login: %d %s", code, body)
		}
		if err := json.Unmarshal(body, &answer); err != nil {
			t.Fatalf("login answer: %v\n%s", err, body)
		}
	}
	if answer.LLID != llid || len(answer.Tokens) != 1 || answer.Tokens[0].Tenant != "bakery" || answer.Tokens[0].Roles[0] != "writer" {
		t.Fatalf("login answer %+v, want one writer token for bakery as %s", answer, llid)
	}
	token := answer.Tokens[0].Token

	code, body := bearerGet(t, base+"/spans?tenant=bakery&limit=100", token)
	if code != http.StatusOK {
		t.Fatalf("query with the login token: %d %s", code, body)
	}
	// Two logins: one identity span (its id and this name the LLID), two
	// login events, two token issues.
	for what, want := range map[string]int{`"entity_type":"identity"`: 1, `"did":"login"`: 2, `"did":"token.issue"`: 2, llid: 6} {
		if got := strings.Count(string(body), what); got != want {
			t.Errorf("bakery's spans hold %s %d times, want %d:\n%s", what, got, want, body)
		}
	}
	if code, body := bearerGet(t, base+"/spans?tenant=other", token); code != http.StatusNotFound {
		t.Errorf("bakery's token on another tenant: %d %s, want 404", code, body)
	}

	// The provider's id_token is not a LogLine token.
	idToken, err := p.MintIDToken(nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := bearerGet(t, base+"/spans?tenant=bakery", idToken); code != http.StatusUnauthorized {
		t.Errorf("an id_token as bearer: %d, want 401", code)
	}
	// A LogLine token is not a service-account assertion.
	resp, err := http.PostForm(base+"/auth/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {token}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "invalid_grant") {
		t.Errorf("an LLST as an assertion: %d %s, want 400 invalid_grant", resp.StatusCode, b)
	}

	// Someone no tenant lists.
	p.SetUser(oidctest.User{Subject: "999", Email: "eve@example.org", EmailVerified: true})
	code, body = login(p.Browser())
	if code != http.StatusForbidden || !strings.Contains(string(body), auth.LLID(p.Issuer(), "999")) {
		t.Errorf("login of a non-member: %d %s, want 403 naming the LLID", code, body)
	}
}

// TestLoginNotConfigured: without --oidc-client-id the login routes say
// so (501), and the server still serves.
func TestLoginNotConfigured(t *testing.T) {
	base, _, _ := runServeAuth(t, t.TempDir())
	code, body := bearerGet(t, base+"/auth/login", "")
	if code != http.StatusNotImplemented || !strings.Contains(string(body), "oidc-client-id") {
		t.Errorf("/auth/login unconfigured: %d %s", code, body)
	}
}

// TestDevOnlyOnLoopback: --dev is refused on an address others reach.
func TestDevOnlyOnLoopback(t *testing.T) {
	_, errOut, code := runMain(t, t.Context(), nil, "", "serve", "--dev", "--data", t.TempDir(), "--addr", "0.0.0.0:0")
	if code != ExitUsage || !strings.Contains(errOut, "loopback") {
		t.Errorf("serve --dev on 0.0.0.0: exit %d\n%s", code, errOut)
	}
}

// TestServeTLS: with --tls-cert/--tls-key serve answers HTTPS only, and
// a bad pair stops the start with a usage error.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	addrFile := filepath.Join(dir, "addr")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	log := &syncBuf{}
	go func() {
		done <- Main(ctx, []string{"serve", "--data", filepath.Join(dir, "data"), "--addr", "127.0.0.1:0", "--addr-file", addrFile, "--tls-cert", cert, "--tls-key", key},
			IO{In: strings.NewReader(""), Out: io.Discard, Err: log, Getenv: func(string) string { return "" }}, "test")
	}()
	defer func() { cancel(); <-done }()
	var addr string
	for deadline := time.Now().Add(20 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(addrFile); err == nil && bytes.HasSuffix(b, []byte("\n")) {
			addr = strings.TrimSpace(string(b))
		}
	}
	if addr == "" {
		t.Fatalf("serve did not listen:\n%s", log)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("https: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Errorf("https /healthz: %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP answered 200 on the TLS port")
		}
	}
	if !strings.Contains(log.String(), "https://"+addr) {
		t.Errorf("serve did not log its https URL:\n%s", log)
	}

	_, errOut, code := runMain(t, t.Context(), nil, "", "serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", cert)
	if code != ExitUsage || !strings.Contains(errOut, "--tls-cert") {
		t.Errorf("mismatched pair: exit %d\n%s", code, errOut)
	}
}

// selfSigned returns a certificate for 127.0.0.1 and its key, PEM.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "logline test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// TestServiceAccountRoleRemoved: an account whose role the tenant's
// configuration no longer defines is refused at the token endpoint with
// invalid_grant naming the role (not a server error), and the CLI exits
// 2; disabling an unknown account is a usage error too.
func TestServiceAccountRoleRemoved(t *testing.T) {
	data := t.TempDir()
	writeTenantYAML(t, data, "bakery", "version: 1\nroles:\n  auditor: [ledger.read]\n")
	base, _, _ := runServeAuth(t, data)
	creds := filepath.Join(t.TempDir(), "auditor.json")
	if out, errOut, code := runMain(t, t.Context(), nil, "", "sa", "create", "--data", data, "--tenant", "bakery", "--role", "auditor", "--out", creds, "--server", base); code != 0 {
		t.Fatalf("sa create: exit %d\n%s%s", code, out, errOut)
	}
	query := func() (string, int) {
		_, errOut, code := runMain(t, t.Context(), nil, "", "query", "--server", base, "--credentials", creds, "--tenant", "bakery")
		return errOut, code
	}
	// The registry and the tenant configuration reload within seconds.
	deadline := time.Now().Add(15 * time.Second)
	for {
		errOut, code := query()
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("query with the auditor account: exit %d\n%s", code, errOut)
		}
		time.Sleep(100 * time.Millisecond)
	}
	writeTenantYAML(t, data, "bakery", "version: 1\n")
	for {
		errOut, code := query()
		if code != 0 {
			if code != ExitUsage || !strings.Contains(errOut, "invalid_grant") || !strings.Contains(errOut, "auditor") {
				t.Errorf("after the role was removed: exit %d, want 2 with invalid_grant naming the role\n%s", code, errOut)
			}
			break
		}
		if time.Now().After(deadline.Add(15 * time.Second)) {
			t.Fatal("the account kept getting tokens after its role was removed")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, errOut, code := runMain(t, t.Context(), nil, "", "sa", "disable", "--data", data, "--tenant", "bakery", "sa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"); code != ExitUsage {
		t.Errorf("sa disable of an unknown account: exit %d, want 2\n%s", code, errOut)
	}
}

// TestTokensAcrossPostgresNodes: two nodes on one database share their
// token keys, so a token minted for the ledger (token issue --store)
// works at both, and a token one node issued to a service account works
// at the other.
func TestTokensAcrossPostgresNodes(t *testing.T) {
	db := pgtest.NewDatabase(t)
	dataA, dataB := t.TempDir(), t.TempDir()
	urlA, _, _ := runServeAuth(t, dataA, "--store", db)
	urlB, _, _ := runServeAuth(t, dataB, "--store", db)
	out, errOut, code := runMain(t, t.Context(), nil, "", "token", "issue", "--store", db, "--data", dataA, "--tenant", "acme", "--role", "admin")
	if code != 0 {
		t.Fatalf("token issue --store: exit %d\n%s", code, errOut)
	}
	tok := strings.TrimSpace(out)
	for _, u := range []string{urlA, urlB} {
		if code, body := bearerGet(t, u+"/spans?tenant=acme", tok); code != http.StatusOK {
			t.Errorf("%s with the ledger's token: %d %s", u, code, body)
		}
	}
	// Node A's first-start admin account trades its assertion at node A;
	// the token works at node B.
	creds := filepath.Join(dataA, "keys", "admin-sa.json")
	if _, errOut, code := runMain(t, t.Context(), nil, "", "query", "--server", urlB, "--credentials", creds, "--tenant", "default"); code == 0 {
		t.Log("node B knows node A's account too (shared cfg)")
	} else if !strings.Contains(errOut, "unknown service account") {
		t.Errorf("node A's account at node B: %s", errOut)
	}
	saTok := exchangeAt(t, urlA, creds)
	if code, body := bearerGet(t, urlB+"/spans?tenant=default", saTok); code != http.StatusOK {
		t.Errorf("node A's token at node B: %d %s", code, body)
	}
}

// exchangeAt trades a credential file's assertion at base's token endpoint.
func exchangeAt(t *testing.T, base, credsPath string) string {
	t.Helper()
	creds, err := serviceacct.ReadCredentials(credsPath)
	if err != nil {
		t.Fatal(err)
	}
	assertion, err := creds.Assertion(time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.PostForm(base+"/auth/token", url.Values{"grant_type": {serviceacct.GrantType}, "assertion": {assertion}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &out) != nil {
		t.Fatalf("exchange at %s: %d %s", base, resp.StatusCode, b)
	}
	return out.AccessToken
}
