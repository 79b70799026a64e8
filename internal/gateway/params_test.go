package gateway

import (
	"errors"
	"testing"
	"time"

	"github.com/logline/logline/internal/ledger"
)

func wantProblem(t *testing.T, err error, code, param string) {
	t.Helper()
	var p *Problem
	if !errors.As(err, &p) {
		t.Fatalf("got error %v, want a problem with code %s", err, code)
	}
	if p.Code != code || p.Parameter != param {
		t.Errorf("got code %q parameter %q, want %q %q", p.Code, p.Parameter, code, param)
	}
}

func TestParseQuery(t *testing.T) {
	ts := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name      string
		raw       string
		want      ledger.Query
		wantCode  string
		wantParam string
	}{
		{"tenant only", "tenant=acme", ledger.Query{Tenant: "acme", Limit: 100}, "", ""},
		{"all filters", "tenant=acme&this=case:1&who=bob&did=paid&entity_type=receipt&trace_id=t1&cursor=abc&limit=1000",
			ledger.Query{Tenant: "acme", This: "case:1", Who: "bob", Did: "paid", EntityType: "receipt", TraceID: "t1", Cursor: "abc", Limit: 1000}, "", ""},
		{"times", "tenant=a&since=2026-01-02T03:04:05Z&until=2026-01-03T00:00:00.5%2B02:00",
			ledger.Query{Tenant: "a", Since: ts("2026-01-02T03:04:05Z"), Until: ts("2026-01-03T00:00:00.5+02:00"), Limit: 100}, "", ""},
		{"unencoded plus in offset", "tenant=a&since=2026-01-02T03:04:05+01:00",
			ledger.Query{Tenant: "a", Since: ts("2026-01-02T03:04:05+01:00"), Limit: 100}, "", ""},
		{"empty filter is no filter", "tenant=a&this=&limit=", ledger.Query{Tenant: "a", Limit: 100}, "", ""},
		{"missing tenant", "this=x", ledger.Query{}, "missing_parameter", "tenant"},
		{"empty tenant", "tenant=", ledger.Query{}, "missing_parameter", "tenant"},
		{"bad tenant", "tenant=A", ledger.Query{}, "invalid_parameter", "tenant"},
		{"repeated filter", "tenant=a&who=x&who=y", ledger.Query{}, "invalid_parameter", "who"},
		{"bad since", "tenant=a&since=yesterday", ledger.Query{}, "invalid_parameter", "since"},
		{"since without offset", "tenant=a&since=2026-01-02T03:04:05", ledger.Query{}, "invalid_parameter", "since"},
		{"bad until", "tenant=a&until=2026-13-01T00:00:00Z", ledger.Query{}, "invalid_parameter", "until"},
		{"until before since", "tenant=a&since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", ledger.Query{}, "invalid_parameter", "until"},
		{"limit zero", "tenant=a&limit=0", ledger.Query{}, "invalid_parameter", "limit"},
		{"limit too big", "tenant=a&limit=1001", ledger.Query{}, "invalid_parameter", "limit"},
		{"limit negative", "tenant=a&limit=-1", ledger.Query{}, "invalid_parameter", "limit"},
		{"limit not a number", "tenant=a&limit=ten", ledger.Query{}, "invalid_parameter", "limit"},
		{"bad escape", "tenant=a&who=%zz", ledger.Query{}, "invalid_parameter", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseQuery(tt.raw, true)
			if tt.wantCode != "" {
				wantProblem(t, err, tt.wantCode, tt.wantParam)
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if !got.Since.Equal(tt.want.Since) || !got.Until.Equal(tt.want.Until) {
				t.Errorf("got since %v until %v, want %v %v", got.Since, got.Until, tt.want.Since, tt.want.Until)
			}
			got.Since, got.Until, tt.want.Since, tt.want.Until = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseStream(t *testing.T) {
	tests := []struct {
		name, raw, accept, lastID string
		want                      streamParams
		wantCode, wantParam       string
	}{
		{"defaults", "", "", "", streamParams{}, "", ""},
		{"cursor tenant follow", "cursor=42&tenant=acme&follow=1", "", "", streamParams{cursor: 42, tenant: "acme", follow: true}, "", ""},
		{"follow true", "follow=true", "", "", streamParams{follow: true}, "", ""},
		{"follow 0", "follow=0", "", "", streamParams{}, "", ""},
		{"sse", "cursor=3", "text/event-stream", "", streamParams{cursor: 3, sse: true}, "", ""},
		{"sse in a list", "", "application/json, text/event-stream;q=0.9", "", streamParams{sse: true}, "", ""},
		{"sse refused with q=0", "", "text/event-stream;q=0", "", streamParams{}, "", ""},
		{"last event id wins", "cursor=3", "text/event-stream", "99", streamParams{cursor: 100, sse: true}, "", ""},
		{"last event id ignored without sse", "cursor=3", "application/x-ndjson", "99", streamParams{cursor: 3}, "", ""},
		{"bad cursor", "cursor=-1", "", "", streamParams{}, "invalid_parameter", "cursor"},
		{"cursor not a number", "cursor=abc", "", "", streamParams{}, "invalid_parameter", "cursor"},
		{"bad follow", "follow=maybe", "", "", streamParams{}, "invalid_parameter", "follow"},
		{"bad tenant", "tenant=X", "", "", streamParams{}, "invalid_parameter", "tenant"},
		{"bad last event id", "", "text/event-stream", "x", streamParams{}, "invalid_header", ""},
		{"max last event id", "", "text/event-stream", "18446744073709551615", streamParams{}, "invalid_header", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStream(tt.raw, tt.accept, tt.lastID)
			if tt.wantCode != "" {
				wantProblem(t, err, tt.wantCode, tt.wantParam)
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestAppendStreamEntry(t *testing.T) {
	line := []byte(`{"id":"a"}`)
	if got, want := string(appendStreamEntry(nil, false, 7, line)), "{\"id\":\"a\"}\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := string(appendStreamEntry(nil, true, 7, line)), "id: 7\nevent: span\ndata: {\"id\":\"a\"}\n\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestTenantOf(t *testing.T) {
	tests := []struct{ line, want string }{
		{`{"data":{"tenant":"inner"},"tenant":"acme"}`, "acme"},
		{`{"who":"x"}`, ""},
		{`not json`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			if got := tenantOf([]byte(tt.line)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
