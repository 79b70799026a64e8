package llst

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logline/logline/internal/auth"
)

// t0 is the tests' start time: a Sunday, 10:00 UTC.
var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

const testIssuer = "https://logline.test"

// clock is a settable clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// detRand is a deterministic io.Reader, safe for concurrent use.
type detRand struct {
	mu sync.Mutex
	r  *rand.ChaCha8
}

func newRand(seed byte) *detRand {
	var s [32]byte
	s[0] = seed
	return &detRand{r: rand.NewChaCha8(s)}
}

func (d *detRand) Read(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.r.Read(p)
}

// logBuffer collects log output for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// env is a keyring on a fresh directory with an issuer and two verifiers
// (cached and uncached) sharing one clock.
type env struct {
	t        *testing.T
	dir      string
	clock    *clock
	cfg      Config
	ring     *Keyring
	issuer   *Issuer
	verifier *Verifier // cache on
	uncached *Verifier // cache off
}

func newEnv(t *testing.T, mod ...func(*Config)) *env {
	t.Helper()
	dir := t.TempDir()
	c := newClock(t0)
	cfg := Config{
		Store:  NewDirStore(dir, discard()),
		Issuer: testIssuer,
		Now:    c.Now,
		Rand:   newRand(1),
		Logger: discard(),
	}
	for _, m := range mod {
		m(&cfg)
	}
	ring, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return &env{
		t: t, dir: dir, clock: c, cfg: ring.cfg, ring: ring,
		issuer: NewIssuer(ring), verifier: NewVerifier(ring),
		uncached: &Verifier{ring: ring},
	}
}

func writerClaims() Claims {
	return Claims{
		Subject: auth.LLID("https://accounts.google.com", "1234567890"),
		Tenant:  "default",
		Roles:   []string{auth.RoleWriter},
		Grants:  auth.Grants(auth.BuiltinRoles()[auth.RoleWriter]),
		Kind:    auth.KindUser,
	}
}

func (e *env) issue(c Claims) string {
	e.t.Helper()
	tok, _, err := e.issuer.Issue(context.Background(), c)
	if err != nil {
		e.t.Fatalf("Issue: %v", err)
	}
	return tok
}

// activeKey returns the key that signs now.
func (e *env) activeKey() *ringKey {
	e.t.Helper()
	now := e.clock.Now()
	k := e.ring.signingKey(now, now)
	if k == nil {
		e.t.Fatal("no active key")
	}
	return k
}

// claimsMap returns valid LLST claims at now as a map, for tests that
// change them.
func (e *env) claimsMap() map[string]any {
	now := e.clock.Now().Unix()
	return map[string]any{
		"iss": testIssuer, "sub": "llid_test", "aud": DefaultAudience, "tenant": "default",
		"roles": []string{"writer"}, "caps": []string{"ledger.read"}, "kind": "user",
		"exp": now + 600, "nbf": now, "iat": now, "jti": "AAAAAAAAAAAAAAAAAAAAAA",
	}
}

func (e *env) header(kid string) map[string]any {
	return map[string]any{"alg": "EdDSA", "typ": TokenType, "kid": kid}
}

func b64json(t *testing.T, v any) string {
	t.Helper()
	var b []byte
	switch v := v.(type) {
	case string:
		b = []byte(v) // raw JSON text
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// signRaw builds a compact JWS of header and payload (maps, or raw JSON
// strings) signed with priv, bypassing every check of Issue.
func signRaw(t *testing.T, priv ed25519.PrivateKey, header, payload any) string {
	t.Helper()
	input := b64json(t, header) + "." + b64json(t, payload)
	return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(priv, []byte(input)))
}

// noLeak fails if err's message contains any segment of tok.
func noLeak(t *testing.T, err error, tok string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, seg := range strings.Split(tok, ".") {
		if len(seg) >= 8 && strings.Contains(err.Error(), seg) {
			t.Errorf("error %q echoes part of the token", err)
		}
	}
}

func removeFile(dir, name string) error { return os.Remove(filepath.Join(dir, name)) }
