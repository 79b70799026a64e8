package programs

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logline/logline/internal/lll/bundle"
	"github.com/logline/logline/internal/lll/check"
	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/lll/syntax"
	"github.com/logline/logline/internal/span"
)

func write(t *testing.T, data, rel, content string) {
	t.Helper()
	p := filepath.Join(data, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func decode(t *testing.T, js string) *span.Span {
	t.Helper()
	sp, err := span.Decode([]byte(js), span.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// rejected returns the names of the validators rejecting sp in tenant.
func rejected(t *testing.T, s *Set, tenant string, sp *span.Span) []string {
	t.Helper()
	vs, err := s.Machine(tenant).Validate(context.Background(), sp)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range vs {
		if v.Action == ir.ActionReject {
			out = append(out, v.Validator)
		}
	}
	return out
}

const statusValidator = `validator needs_status {
  require field "status"
  on_fail "reject"
}
`

// TestLoadReloadKeepPrevious: tenants without programs run the default
// contract; a tenant's .lll files are compiled and hot-reloaded; a bad
// edit keeps the previous program running and is reported; removing the
// files brings the default back.
func TestLoadReloadKeepPrevious(t *testing.T) {
	data := t.TempDir()
	write(t, data, "cfg/tenants/acme/rules.lll", statusValidator)
	s, err := Open(context.Background(), Config{DataDir: data, ValidTenant: span.ValidTenant})
	if err != nil {
		t.Fatal(err)
	}
	noStatus := decode(t, `{"id":"a","tenant":"acme","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05Z"}`)
	if got := rejected(t, s, "acme", noStatus); len(got) != 1 || got[0] != "needs_status" {
		t.Fatalf("acme rejects %v, want needs_status", got)
	}
	if got := rejected(t, s, "other", noStatus); len(got) != 0 {
		t.Fatalf("a tenant without programs (default contract) rejects a valid span: %v", got)
	}

	// A bad edit: refused, reported, the previous program keeps running.
	write(t, data, "cfg/tenants/acme/rules.lll", "validator broken {\n  require field\n}\n")
	if err := s.Reload(); err == nil {
		t.Fatal("Reload accepted a program that does not parse")
	}
	st := s.Status()
	if len(st) != 1 || st[0].Err == "" || !strings.Contains(st[0].Err, "rules.lll:2:") {
		t.Errorf("status after a bad edit: %+v, want an error naming file:line", st)
	}
	if got := rejected(t, s, "acme", noStatus); len(got) != 1 {
		t.Errorf("after a bad edit acme rejects %v, want the previous program (needs_status)", got)
	}

	// Fixed: the new program applies.
	write(t, data, "cfg/tenants/acme/rules.lll", "validator anything_goes {\n  allow field \"status\" as \"string\"\n}\n")
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := rejected(t, s, "acme", noStatus); len(got) != 0 {
		t.Errorf("after the fix acme rejects %v", got)
	}
	// Removed: the default contract again.
	if err := os.Remove(filepath.Join(data, "cfg/tenants/acme/rules.lll")); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if s.Machine("acme") != s.def {
		t.Error("a tenant whose programs were removed does not run the default")
	}
}

// TestBundlesNeedTrust: a signed bundle runs only when its key is in
// DATA/cfg/trusted-bundle-keys; a tampered one is refused with a reason.
func TestBundlesNeedTrust(t *testing.T) {
	data := t.TempDir()
	f, err := syntax.Parse("rules.lll", []byte(statusValidator))
	if err != nil {
		t.Fatal(err)
	}
	prog, err := check.Check([]*syntax.File{f}, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := span.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Build(ir.Encode(prog), bundle.Resources{Validators: []string{"needs_status"}}, nil, kp)
	if err != nil {
		t.Fatal(err)
	}
	write(t, data, "cfg/tenants/acme/rules.lllb", string(b))
	s, err := Open(context.Background(), Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); len(st) != 1 || !strings.Contains(st[0].Err, "does not trust") {
		t.Fatalf("untrusted bundle: status %+v", st)
	}
	write(t, data, "cfg/"+TrustedKeysFile, hex.EncodeToString(kp.Public)+" ci\n")
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	noStatus := decode(t, `{"id":"a","tenant":"acme","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05Z"}`)
	if got := rejected(t, s, "acme", noStatus); len(got) != 1 {
		t.Fatalf("trusted bundle: acme rejects %v", got)
	}
	tampered := strings.Replace(string(b), `"validators":["needs_status"]`, `"validators":["x"]`, 1)
	write(t, data, "cfg/tenants/acme/rules.lllb", tampered)
	if err := s.Reload(); err == nil {
		t.Fatal("a tampered bundle was accepted")
	}
	if got := rejected(t, s, "acme", noStatus); len(got) != 1 {
		t.Errorf("after a tampered bundle the previous program must keep running; rejects %v", got)
	}
}

// TestYAMLPolicies: a tenant's YAML policy files compile with its .lll
// files (a validator reads the YAML's parameter); tenant.yaml is not a
// policy file; a bad YAML edit keeps the previous program, naming the
// file and line.
func TestYAMLPolicies(t *testing.T) {
	data := t.TempDir()
	write(t, data, "cfg/tenants/acme/tenant.yaml", "features: {trajectory: true}\nnot_a_policy: [\n")
	write(t, data, "cfg/tenants/acme/limits.yaml", "orders:\n  max_total: 100\n")
	write(t, data, "cfg/tenants/acme/rules.lll", `validator small_orders {
  require data.total <= policy.orders.max_total
  on_fail "reject"
}
`)
	s, err := Open(context.Background(), Config{DataDir: data, ValidTenant: span.ValidTenant})
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); len(st) != 1 || st[0].Err != "" || len(st[0].Files) != 2 {
		t.Fatalf("status %+v, want acme with limits.yaml and rules.lll in force", st)
	}
	big := decode(t, `{"id":"a","tenant":"acme","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05Z","data":{"total":150}}`)
	small := decode(t, `{"id":"b","tenant":"acme","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05Z","data":{"total":50}}`)
	if got := rejected(t, s, "acme", big); len(got) != 1 || got[0] != "small_orders" {
		t.Fatalf("a total of 150 is rejected by %v, want small_orders", got)
	}
	if got := rejected(t, s, "acme", small); len(got) != 0 {
		t.Fatalf("a total of 50 is rejected by %v", got)
	}

	// The YAML changes: the new limit is in force after a reload.
	write(t, data, "cfg/tenants/acme/limits.yaml", "orders:\n  max_total: 200\n")
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := rejected(t, s, "acme", big); len(got) != 0 {
		t.Fatalf("after raising the limit, 150 is rejected by %v", got)
	}

	// A broken YAML: refused with its file and line; 200 stays the limit.
	write(t, data, "cfg/tenants/acme/limits.yaml", "orders:\n  max_total: &x 10\n")
	if err := s.Reload(); err == nil {
		t.Fatal("a YAML policy with an anchor was accepted")
	}
	st := s.Status()
	if len(st) != 1 || !strings.Contains(st[0].Err, "limits.yaml:2:14: anchors (&x) are not supported") {
		t.Fatalf("status %+v", st)
	}
	if got := rejected(t, s, "acme", big); len(got) != 0 {
		t.Fatalf("the previous program is not in force: 150 rejected by %v", got)
	}
}
