package authlog

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/logline/logline/internal/auth"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/segment"
)

func newLog(t *testing.T) (*Log, *segment.Store, *[]ledger.Result) {
	t.Helper()
	st, err := segment.Open(context.Background(), segment.Config{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var got []ledger.Result
	l, err := New(Config{Store: st, Now: func() time.Time { now = now.Add(time.Second); return now }, Appended: func(r ledger.Result) { got = append(got, r) }})
	if err != nil {
		t.Fatal(err)
	}
	return l, st, &got
}

// entries returns the stored entries of tenant as decoded JSON.
func entries(t *testing.T, st ledger.Store, tenant string) []map[string]any {
	t.Helper()
	page, err := st.Query(context.Background(), ledger.Query{Tenant: tenant, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, e := range page.Entries {
		var m map[string]any
		if err := json.Unmarshal(e.Line, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestLoginRecordsIdentityOnce(t *testing.T) {
	l, st, appended := newLog(t)
	ctx := context.Background()
	llid := auth.LLID("https://issuer.example", "123")
	for range 2 {
		if err := l.Login(ctx, "acme", llid, "https://issuer.example", "123", []string{"writer"}); err != nil {
			t.Fatal(err)
		}
	}
	es := entries(t, st, "acme")
	var identities, logins int
	for _, e := range es {
		switch {
		case e["entity_type"] == IdentityType:
			identities++
			if e["this"] != llid || e["id"] != "identity:"+llid {
				t.Errorf("identity span %v, want this and id naming %s", e, llid)
			}
			if d := e["data"].(map[string]any); d["subject"] != "123" || d["issuer"] != "https://issuer.example" {
				t.Errorf("identity data %v", d)
			}
		case e["did"] == "login":
			logins++
			if e["who"] != Who || e["this"] != llid || e["entity_type"] != EntityType {
				t.Errorf("login span %v", e)
			}
		}
	}
	if identities != 1 || logins != 2 {
		t.Errorf("got %d identity and %d login spans, want 1 and 2", identities, logins)
	}
	if len(*appended) != 3 {
		t.Errorf("Appended saw %d spans, want 3", len(*appended))
	}
}

func TestTokenIssuedCarriesNoSecret(t *testing.T) {
	l, st, _ := newLog(t)
	p := &auth.Principal{Subject: "sa_1", Tenant: "acme", Roles: []string{"writer"}, Kind: auth.KindService, TokenID: "jti-1", KeyID: "llst-1", Expires: time.Date(2026, 11, 25, 12, 15, 0, 0, time.UTC)}
	if err := l.TokenIssued(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	es := entries(t, st, "acme")
	if len(es) != 1 {
		t.Fatalf("%d spans, want 1", len(es))
	}
	d := es[0]["data"].(map[string]any)
	if es[0]["did"] != "token.issue" || d["jti"] != "jti-1" || d["kid"] != "llst-1" || d["kind"] != "service" {
		t.Errorf("token span %v", es[0])
	}
}

func TestKeyRotatedGoesToSystemTenant(t *testing.T) {
	l, st, _ := newLog(t)
	if err := l.KeyRotated(context.Background(), "llst-2", time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), time.Time{}); err != nil {
		t.Fatal(err)
	}
	es := entries(t, st, DefaultSystemTenant)
	if len(es) != 1 || es[0]["did"] != "key.rotate" || es[0]["this"] != "key:llst-2" {
		t.Errorf("system spans %v", es)
	}
}

// TestDeniedAggregates: refusals become one span per tenant per flush,
// with counts by reason; a flush with nothing to say writes nothing.
func TestDeniedAggregates(t *testing.T) {
	l, st, _ := newLog(t)
	for range 5 {
		l.Denied("acme", "missing ledger.append")
	}
	l.Denied("acme", "quota requests")
	l.Denied("", "invalid token")
	l.Flush(context.Background())
	l.Flush(context.Background())
	acme := entries(t, st, "acme")
	if len(acme) != 1 {
		t.Fatalf("acme has %d spans, want 1", len(acme))
	}
	d := acme[0]["data"].(map[string]any)
	by := d["by_reason"].(map[string]any)
	if d["count"] != float64(6) || by["missing ledger.append"] != float64(5) || by["quota requests"] != float64(1) {
		t.Errorf("acme refusals %v", d)
	}
	if sys := entries(t, st, DefaultSystemTenant); len(sys) != 1 || !strings.Contains(sys[0]["this"].(string), DefaultSystemTenant) {
		t.Errorf("system refusals %v", sys)
	}
}

func TestDeniedBounded(t *testing.T) {
	l, _, _ := newLog(t)
	for i := range 100 {
		l.Denied("acme", "reason "+string(rune('a'+i%60)))
	}
	if n := len(l.denied["acme"]); n > maxDeniedReasons+1 {
		t.Errorf("%d reasons kept, want at most %d", n, maxDeniedReasons+1)
	}
}

func TestEventSpansAreValid(t *testing.T) {
	// Every event decodes as a span of the ledger (checked by Append);
	// a bad tenant is refused with a clear error, never stored.
	l, _, _ := newLog(t)
	err := l.TokenIssued(context.Background(), &auth.Principal{Subject: "x", Tenant: "Not A Tenant"})
	if err == nil || !strings.Contains(err.Error(), "tenant") {
		t.Errorf("bad tenant: %v", err)
	}
}
