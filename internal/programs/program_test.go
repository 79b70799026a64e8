package programs

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/logline/logline/internal/lll/check"
)

// TestProgram: Program is the program in force — the default for a
// tenant without programs, the tenant's own once loaded, the same
// pointer while nothing changes, a new one after a change, and the
// previous one while a change does not compile.
func TestProgram(t *testing.T) {
	data := t.TempDir()
	dir := filepath.Join(data, "cfg", "tenants", "acme")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	put := func(src string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "shape.lll"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(context.Background(), Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	isDefault := func(tenant string) bool {
		p := s.Program(tenant)
		return len(p.Validators) == 1 && p.Validators[0].Name == check.CanonicalContractName
	}
	if !isDefault("acme") || !isDefault("bakery") {
		t.Fatal("tenants without programs do not run the default program")
	}
	if s.Program("acme") != s.Program("bakery") {
		t.Error("the default program is not shared")
	}

	schemaNames := func(tenant string) []string {
		var out []string
		for _, sc := range s.Program(tenant).Schemas {
			out = append(out, sc.Name+"/"+sc.EntityType)
		}
		return out
	}
	put("schema order {\n  entity_type: \"order\"\n  require field \"data.total\" as \"number\"\n}\n")
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	first := s.Program("acme")
	if got := schemaNames("acme"); len(got) != 1 || got[0] != "order/order" {
		t.Fatalf("acme's schemas %v, want order/order", got)
	}
	if !isDefault("bakery") {
		t.Error("bakery lost the default program")
	}
	if err := s.Reload(); err != nil || s.Program("acme") != first {
		t.Errorf("an unchanged reload (%v) gave another Program", err)
	}

	put("schema invoice {\n  entity_type: \"invoice\"\n}\n")
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	second := s.Program("acme")
	if second == first {
		t.Fatal("a changed file kept the old Program")
	}
	if got := schemaNames("acme"); len(got) != 1 || got[0] != "invoice/invoice" {
		t.Errorf("acme's schemas %v after the change, want invoice/invoice", got)
	}

	put("schema broken {\n") // does not parse: the previous program stays
	if err := s.Reload(); err == nil {
		t.Fatal("a broken file reloaded without an error")
	}
	if s.Program("acme") != second {
		t.Error("a refused change replaced the program in force")
	}
}
