// Package authlog records LogLine's authentication events as spans in the
// ledger, so that who logged in, which tokens were issued, when signing
// keys rotated and how many requests were refused are as verifiable as
// any other fact (each gets a log index, a receipt and a place in the
// Merkle tree).
//
// Every event is a span of entity_type "auth_event" written by
// who "system:auth" in the tenant concerned (server-wide events and
// refusals without a valid token go to SystemTenant), with did one of
// "login", "token.issue", "key.rotate", "requests.denied". A person's
// first login in a tenant also records an "identity" span whose this is
// the LLID and whose data names the issuer and subject it stands for.
// Spans carry no secrets: never a token, only its jti and key id.
//
// Refused requests are counted, not recorded one by one (a flood must not
// become a flood of spans): Denied only bumps a counter, and Run appends
// one "requests.denied" span per tenant per Window with the counts by
// reason.
package authlog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/logline/logline/internal/auth"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/span"
)

// Defaults of Config.
const (
	DefaultSystemTenant = "system"
	DefaultWindow       = time.Minute
	// EntityType is the entity_type of every event span; identities use
	// IdentityType.
	EntityType   = "auth_event"
	IdentityType = "identity"
	// Who writes every event.
	Who = "system:auth"
)

// Appender is the part of ledger.Store authlog uses.
type Appender interface {
	Append(ctx context.Context, spans []*span.Span) ([]ledger.Outcome, error)
	Get(ctx context.Context, tenant, id string, seq int64) (*span.Entry, error)
}

// Config configures a Log. Store is required.
type Config struct {
	Store  Appender
	Now    func() time.Time // default time.Now
	Logger *slog.Logger     // default slog.Default()
	// SystemTenant receives server-wide events (key rotation) and
	// refusals that named no tenant (default "system").
	SystemTenant string
	// Window is how often refusal counts are written (default 1 minute).
	Window time.Duration
	// Appended, when set, is told about every event span stored (the
	// server keeps a receipt of each).
	Appended func(ledger.Result)
}

// Log records auth events. Its methods are safe for concurrent use.
type Log struct {
	cfg Config

	mu     sync.Mutex                // guards denied
	denied map[string]map[string]int // tenant → reason → count since the last flush
}

// New returns a Log.
func New(cfg Config) (*Log, error) {
	if cfg.Store == nil {
		return nil, errors.New("authlog: Config.Store is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SystemTenant == "" {
		cfg.SystemTenant = DefaultSystemTenant
	}
	if !span.ValidTenant(cfg.SystemTenant) {
		return nil, fmt.Errorf("authlog: system tenant %q is not a valid tenant name", cfg.SystemTenant)
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	return &Log{cfg: cfg, denied: map[string]map[string]int{}}, nil
}

// SystemTenant is the tenant of server-wide events.
func (l *Log) SystemTenant() string { return l.cfg.SystemTenant }

// Login records that the person llid (issuer, subject) logged in to
// tenant with roles: the identity span the first time, then a login
// event.
func (l *Log) Login(ctx context.Context, tenant, llid, issuer, subject string, roles []string) error {
	now := l.cfg.Now().UTC()
	idSpan := map[string]any{
		"id": "identity:" + llid, "tenant": tenant, "entity_type": IdentityType,
		"who": Who, "did": "registered", "this": llid, "when": stamp(now),
		"data": map[string]any{"issuer": issuer, "subject": subject},
	}
	switch _, err := l.cfg.Store.Get(ctx, tenant, "identity:"+llid, -1); {
	case errors.Is(err, ledger.ErrNotFound):
		if err := l.append(ctx, idSpan); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("authlog: look up identity %s: %w", llid, err)
	}
	return l.event(ctx, tenant, "login", llid, now, map[string]any{
		"issuer": issuer, "roles": nonNil(roles),
	})
}

// TokenIssued records a token issued to subject: its jti (never the
// token), key, kind, roles and expiry.
func (l *Log) TokenIssued(ctx context.Context, p *auth.Principal) error {
	return l.event(ctx, p.Tenant, "token.issue", p.Subject, l.cfg.Now().UTC(), map[string]any{
		"jti": p.TokenID, "kid": p.KeyID, "kind": string(p.Kind), "roles": nonNil(p.Roles),
		"expires": stamp(p.Expires),
	})
}

// KeyRotated records that signing key kid became active at activeFrom.
func (l *Log) KeyRotated(ctx context.Context, kid string, activeFrom, retireAt time.Time) error {
	data := map[string]any{"kid": kid, "active_from": stamp(activeFrom)}
	if !retireAt.IsZero() {
		data["retire_at"] = stamp(retireAt)
	}
	return l.event(ctx, l.cfg.SystemTenant, "key.rotate", "key:"+kid, l.cfg.Now().UTC(), data)
}

// Denied counts one refused request of tenant ("" when no valid token
// named one) for the next flush. It never blocks on the ledger.
func (l *Log) Denied(tenant, reason string) {
	if tenant == "" {
		tenant = l.cfg.SystemTenant
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.denied[tenant]
	if m == nil {
		if len(l.denied) >= maxDeniedTenants {
			tenant, m = l.cfg.SystemTenant, l.denied[l.cfg.SystemTenant]
		}
		if m == nil {
			m = map[string]int{}
			l.denied[tenant] = m
		}
	}
	if len(m) >= maxDeniedReasons {
		reason = "other"
	}
	m[reason]++
}

// maxDeniedTenants and maxDeniedReasons bound the counters between two
// flushes, whatever a flood names.
const (
	maxDeniedTenants = 10_000
	maxDeniedReasons = 32
)

// Run writes the refusal counts every Window until ctx ends, then once
// more. It returns ctx's error.
func (l *Log) Run(ctx context.Context) error {
	t := time.NewTicker(l.cfg.Window)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.Flush(ctx)
		case <-ctx.Done():
			l.Flush(context.WithoutCancel(ctx))
			return ctx.Err()
		}
	}
}

// Flush appends one requests.denied span per tenant with refusals since
// the last flush. Failures are logged; the counts of a failed append are
// dropped (they are an aggregate, and retrying could pile them up).
func (l *Log) Flush(ctx context.Context) {
	l.mu.Lock()
	counts := l.denied
	l.denied = map[string]map[string]int{}
	l.mu.Unlock()
	now := l.cfg.Now().UTC()
	for _, tenant := range slices.Sorted(maps.Keys(counts)) {
		total := 0
		for _, n := range counts[tenant] {
			total += n
		}
		err := l.event(ctx, tenant, "requests.denied", "tenant:"+tenant, now, map[string]any{
			"count": total, "by_reason": counts[tenant], "window_seconds": int(l.cfg.Window / time.Second),
		})
		if err != nil {
			l.cfg.Logger.Warn("authlog: recording refused requests", "tenant", tenant, "count", total, "err", err)
		}
	}
}

// event appends one auth_event span. Its id is derived from its content,
// so a retried append is a duplicate, never a second event.
func (l *Log) event(ctx context.Context, tenant, did, this string, when time.Time, data map[string]any) error {
	return l.append(ctx, map[string]any{
		"tenant": tenant, "entity_type": EntityType, "who": Who, "did": did,
		"this": this, "when": stamp(when), "data": data,
	})
}

func (l *Log) append(ctx context.Context, m map[string]any) error {
	if _, ok := m["id"]; !ok {
		b, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("authlog: %w", err)
		}
		sum := sha256.Sum256(b)
		m["id"] = "ae_" + hex.EncodeToString(sum[:16])
	}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("authlog: %w", err)
	}
	sp, err := span.Decode(b, span.DecodeOptions{})
	if err != nil {
		return fmt.Errorf("authlog: build %s span: %w", m["did"], err)
	}
	outs, err := l.cfg.Store.Append(ctx, []*span.Span{sp})
	if err == nil && len(outs) == 1 {
		err = outs[0].Err
	}
	if err != nil {
		return fmt.Errorf("authlog: append %s event: %w", m["did"], err)
	}
	if l.cfg.Appended != nil && !outs[0].Result.Duplicate {
		l.cfg.Appended(outs[0].Result)
	}
	return nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
