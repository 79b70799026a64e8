// Package layers holds the test that enforces LogLine's import rules: data
// flows one way (gateway → derive/runtime → ledger → span), domain packages
// import only the standard library and a few hashing/encoding modules, and
// nothing under internal/ imports cmd/.
package layers

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/logline/logline/"

// rules maps a package (relative to the module) to the module-internal
// packages it may import. Packages not listed may import any internal
// package except those that list them (no cycles upward) — but every
// package under internal/ must be listed, so a new one needs a decision.
var rules = map[string][]string{
	"internal/span":              {},
	"internal/ledger":            {"internal/span"},
	"internal/ledger/ledgertest": {"internal/ledger", "internal/span"},
	"internal/ledger/segment":    {"internal/durable", "internal/ledger", "internal/span"},
	"internal/gateway":           {"internal/auth", "internal/auth/quota", "internal/derive", "internal/export", "internal/ledger", "internal/metrics", "internal/span", "internal/tlog"},
	"internal/client":            {"internal/span"},
	"internal/tlog":              {"internal/durable"},
	"internal/durable":           {},
	"internal/receiptlog":        {"internal/durable", "internal/ledger"},
	"internal/export":            {"internal/durable", "internal/ledger", "internal/span", "internal/tlog"},
	"internal/backup":            {"internal/checkpointlog", "internal/client", "internal/durable", "internal/ledger/segment", "internal/span", "internal/tlog"},
	"internal/checkpointlog":     {"internal/durable"},

	// Prometheus metrics (issue 7): the registry and the definitions. It
	// implements ledger.Observer, so it sits above the ledger and below
	// the gateway.
	"internal/metrics": {"internal/ledger"},

	// PostgreSQL store (issue 4) and its test-database helper.
	"internal/ledger/pgstore":        {"internal/ledger", "internal/span"},
	"internal/ledger/pgstore/pgtest": {},

	// Identity and access (issue 5): the vocabulary, then one package per
	// mechanism; none of them touches the ledger or the gateway.
	"internal/authlog": {"internal/auth", "internal/ledger", "internal/span"},

	// The .lll toolchain (issue 6): one package per phase, each importing
	// only earlier ones.
	"internal/lll/syntax":     {},
	"internal/lll/ir":         {"internal/span"},
	"internal/lll/check":      {"internal/lll/ir", "internal/lll/syntax"},
	"internal/lll/policyyaml": {"internal/lll/syntax"},
	"internal/lll/eval":       {"internal/lll/ir", "internal/span"},
	"internal/lll/bundle":     {"internal/span"},
	// The data plane (issue 7): pure derivation, reads spans and programs.
	"internal/derive":           {"internal/lll/eval", "internal/lll/ir", "internal/span"},
	"internal/dataplane":        {"internal/derive", "internal/durable", "internal/ledger", "internal/lll/eval", "internal/lll/ir", "internal/span"},
	"internal/programs":         {"internal/lll/bundle", "internal/lll/check", "internal/lll/eval", "internal/lll/ir", "internal/lll/policyyaml", "internal/lll/syntax"},
	"internal/auth":             {},
	"internal/auth/llst":        {"internal/auth", "internal/durable"},
	"internal/auth/oidclogin":   {"internal/auth"},
	"internal/auth/oidctest":    {},
	"internal/auth/tenantcfg":   {"internal/auth", "internal/durable"},
	"internal/auth/serviceacct": {"internal/auth", "internal/durable"},
	"internal/auth/quota":       {"internal/auth"},
	"internal/openapi":          {"internal/auth"},

	// Each tenant's request outcomes of the last minutes (the gateway
	// counts them, metric() alarms read them): standard library only.
	"internal/tenantrates": {},
}

// external lists the third-party modules a package may use. Packages not
// listed here are unrestricted.
var external = map[string][]string{
	"internal/span":   {"github.com/zeebo/blake3", "github.com/oklog/ulid/v2"},
	"internal/ledger": {"golang.org/x/mod/sumdb/tlog"},
	"internal/tlog":   {"golang.org/x/mod/sumdb/note", "golang.org/x/mod/sumdb/tlog"},
	"internal/auth":   {},
}

func TestImportRules(t *testing.T) {
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(filepath.Join(root, "internal"), func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() || d.Name() == "testdata" {
			if d != nil && d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		imports := packageImports(t, path)
		if len(imports) == 0 {
			return nil
		}
		allowed, listed := rules[rel]
		if !listed {
			if _, ok := ruleFree[rel]; !ok {
				t.Errorf("%s is not listed in the import rules; add it to rules or ruleFree", rel)
			}
		}
		for imp := range imports {
			if strings.HasPrefix(imp, module+"cmd/") {
				t.Errorf("%s imports %s: nothing under internal/ may import cmd/", rel, imp)
			}
			if listed && strings.HasPrefix(imp, module) {
				target := strings.TrimPrefix(imp, module)
				if !contains(allowed, target) {
					t.Errorf("%s imports %s, which its layer may not use", rel, target)
				}
			}
			if ext, ok := external[rel]; ok && isThirdParty(imp) && !contains(ext, imp) {
				t.Errorf("%s imports third-party %s; domain packages stay small", rel, imp)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// ruleFree lists packages that wire others together and may import any
// internal package (but never cmd/).
var ruleFree = map[string]struct{}{
	"internal/cli":   {},
	"internal/bench": {},
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func isThirdParty(imp string) bool {
	first := strings.SplitN(imp, "/", 2)[0]
	return strings.Contains(first, ".") && !strings.HasPrefix(imp, module)
}

// packageImports returns the imports of the non-test Go files in dir.
func packageImports(t *testing.T, dir string) map[string]bool {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	fset := token.NewFileSet()
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		for _, imp := range f.Imports {
			out[strings.Trim(imp.Path.Value, `"`)] = true
		}
	}
	return out
}
