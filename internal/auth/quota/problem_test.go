package quota

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata golden files from the actual output")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\ngot  %s\nwant %s", path, got, want)
	}
}

func TestWriteTooManyGolden(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteTooMany(rec, denied(1500*time.Millisecond, DimSpans, ScopeTenant))
	res := rec.Result()
	if res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("status = %d, want 429", res.StatusCode)
	}
	for h, want := range map[string]string{
		"Content-Type":           "application/problem+json",
		"Retry-After":            "2",
		"X-Content-Type-Options": "nosniff",
		"Content-Length":         "",
	} {
		if got := res.Header.Get(h); want != "" && got != want || got == "" {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	golden(t, "too_many.json", rec.Body.Bytes())
}

func TestWriteTooMany(t *testing.T) {
	tests := []struct {
		name       string
		d          Decision
		retryAfter string
		ms         int64
		detail     string
	}{
		{"sub-millisecond", denied(time.Nanosecond, DimRequests, ScopeTenant), "1", 1,
			"the tenant's requests-per-second quota is exhausted; retry in 1ms"},
		{"exact second", denied(time.Second, DimBytes, ScopeRole), "1", 1000,
			"the role's bytes-per-second quota is exhausted; retry in 1s"},
		{"just over a second", denied(time.Second+time.Microsecond, DimSpans, ScopeRole), "2", 1001,
			"the role's spans-per-second quota is exhausted; retry in 1.001s"},
		{"minutes", denied(90*time.Second+1, DimBytes, ScopeTenant), "91", 90001,
			"the tenant's bytes-per-second quota is exhausted; retry in 1m30.001s"},
		{"zero (misuse) still asks for a second", Decision{}, "1", 1,
			"the tenant's requests-per-second quota is exhausted; retry in 1ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteTooMany(rec, tt.d)
			if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			var p struct {
				Type, Title, Detail, Code, Dimension, Scope string
				Status                                      int
				RetryAfterMS                                int64 `json:"retry_after_ms"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if p.Status != 429 || p.Title != "Too Many Requests" || p.Code != "too_many_requests" ||
				p.Type != "https://logline.dev/problems/too-many-requests" {
				t.Errorf("problem = %+v, want the 429 members", p)
			}
			if p.RetryAfterMS != tt.ms {
				t.Errorf("retry_after_ms = %d, want %d", p.RetryAfterMS, tt.ms)
			}
			if p.Detail != tt.detail {
				t.Errorf("detail = %q, want %q", p.Detail, tt.detail)
			}
			if p.Dimension != tt.d.Dimension || p.Scope != tt.d.Scope {
				t.Errorf("dimension, scope = %q, %q, want %q, %q", p.Dimension, p.Scope, tt.d.Dimension, tt.d.Scope)
			}
		})
	}
}

func TestLimitError(t *testing.T) {
	var err error = &LimitError{Decision: denied(250*time.Millisecond, DimBytes, ScopeRole)}
	if !errors.Is(err, ErrLimited) {
		t.Errorf("errors.Is(%v, ErrLimited) = false", err)
	}
	want := "quota: the role's bytes-per-second quota is exhausted; retry in 250ms"
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
