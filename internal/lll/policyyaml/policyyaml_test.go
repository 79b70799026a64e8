package policyyaml_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/logline/logline/internal/lll/check"
	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/lll/policyyaml"
	"github.com/logline/logline/internal/lll/syntax"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.lll from the actual output")

// TestGolden: a YAML policy file prints as the .lll golden beside it,
// and that .lll compiles to the same policies as the YAML.
func TestGolden(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			src, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			f, err := policyyaml.Parse(p, src)
			if err != nil {
				t.Fatalf("Parse: %s", syntax.FormatErrors(err, src))
			}
			got := syntax.Format(f)
			golden := strings.TrimSuffix(p, ".yaml") + ".golden.lll"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("printed as\n%s\nwant (%s)\n%s", got, golden, want)
			}
			lf, err := syntax.Parse(golden, want)
			if err != nil {
				t.Fatalf("the golden does not parse: %v", err)
			}
			fromYAML, err := check.Check([]*syntax.File{f}, check.Options{})
			if err != nil {
				t.Fatalf("check YAML: %s", syntax.FormatErrors(err, src))
			}
			fromLLL, err := check.Check([]*syntax.File{lf}, check.Options{})
			if err != nil {
				t.Fatalf("check golden: %s", syntax.FormatErrors(err, want))
			}
			if !reflect.DeepEqual(values(fromYAML), values(fromLLL)) {
				t.Errorf("policies differ:\nYAML %+v\n.lll %+v", fromYAML.Policies, fromLLL.Policies)
			}
		})
	}
}

// TestSameAsLLL: hand-written pairs compile to identical policies.
func TestSameAsLLL(t *testing.T) {
	tests := []struct{ name, yaml, lll string }{
		{"defaults only", "quality_meter:\n", "policy quality_meter {}\n"},
		{"durations as strings", "trajectory_linker:\n  window: 48h\n  close_timeout: 90m\n",
			"policy trajectory_linker {\n  window: 48h\n  close_timeout: 90m\n}\n"},
		{"flow style", "trajectory_linker: {key_fields: [this, did]}\n",
			"policy trajectory_linker {\n  key_fields: [\"this\", \"did\"]\n}\n"},
		{"numbers", "own:\n  a: 0x10\n  b: 1_000\n  c: 1.5e3\n  d: -7\n  e: .5\n",
			"policy own {\n  a: 16\n  b: 1000\n  c: 1500\n  d: -7\n  e: 0.5\n}\n"},
		{"strings that look like other things", "own:\n  a: \"true\"\n  b: \"60\"\n  c: 'null'\n  d: yes\n",
			"policy own {\n  a: \"true\"\n  b: \"60\"\n  c: \"null\"\n  d: \"yes\"\n}\n"},
		{"empty file", "", ""},
		{"comments only", "# nothing yet\n", ""},
		{"unicode", "own:\n  café: no\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			yf, err := policyyaml.Parse("p.yaml", []byte(tc.yaml))
			if tc.name == "unicode" {
				// Keys are .lll identifiers: ASCII.
				if err == nil {
					t.Fatal("a non-ASCII key was accepted")
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %s", syntax.FormatErrors(err, []byte(tc.yaml)))
			}
			lf, err := syntax.Parse("p.lll", []byte(tc.lll))
			if err != nil {
				t.Fatal(err)
			}
			a, err := check.Check([]*syntax.File{yf}, check.Options{})
			if err != nil {
				t.Fatalf("check YAML: %s", syntax.FormatErrors(err, []byte(tc.yaml)))
			}
			b, err := check.Check([]*syntax.File{lf}, check.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(values(a), values(b)) {
				t.Errorf("YAML %+v\n.lll %+v", a.Policies, b.Policies)
			}
		})
	}
}

// TestErrors: what has no .lll equivalent, and what the checker refuses,
// is reported at the YAML's line and column, with a caret under it.
func TestErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      string // the first message, file:line:col: text
		caret     string // the source line and caret, when checked
	}{
		{"root is a list", "- a\n- b\n", "p.yaml:1:1: a policy file is a mapping of policy names to their entries (name: {key: value, …}); found a list", ""},
		{"root is a string", "hello\n", "p.yaml:1:1: a policy file is a mapping", ""},
		{"entries not a mapping", "quality_meter: [1]\n", "p.yaml:1:16: policy quality_meter: its entries are a mapping (key: value); found a list",
			"\tquality_meter: [1]\n\t               ^\n"},
		{"bad policy name", "\"my policy\":\n  a: 1\n", "p.yaml:1:1: policy name \"my policy\" is not a name", ""},
		{"keyword policy name", "when:\n  a: 1\n", "p.yaml:1:1: policy name \"when\" is a reserved word of the language", ""},
		{"duplicate policy", "a:\n  x: 1\na:\n  y: 2\n", "p.yaml:3:1: policy name \"a\" appears twice", ""},
		{"duplicate entry", "a:\n  x: 1\n  x: 2\n", "p.yaml:3:3: entry key \"x\" appears twice", "\t  x: 2\n\t  ^\n"},
		{"duplicate map key", "a:\n  m: {k: 1, k: 2}\n", "p.yaml:2:13: map key \"k\" appears twice", ""},
		{"alias", "a:\n  x: &v 1\n  y: *v\n", "p.yaml:2:6: anchors (&v) are not supported in policy files", ""},
		{"merge key", "base: &b {x: 1}\nb:\n  <<: *b\n", "p.yaml:1:7: anchors (&b) are not supported", ""},
		{"custom tag", "a:\n  x: !money 12\n", "p.yaml:2:6: tag !money has no equivalent in the language", ""},
		{"binary", "a:\n  x: !!binary aGVsbG8=\n", "p.yaml:2:6: binary values have no equivalent in the language", ""},
		{"infinity", "a:\n  x: .inf\n", "p.yaml:2:6: number .inf: infinities and NaN are not numbers of the language", ""},
		{"nan", "a:\n  x: .nan\n", "p.yaml:2:6: number .nan: infinities and NaN", ""},
		{"list key", "a:\n  ? [1, 2]\n  : 3\n", "p.yaml:2:5: a entry key is a plain name; found a list", ""},
		{"two documents", "a:\n  x: 1\n---\nb:\n  y: 2\n", "p.yaml:3:1: a policy file holds one YAML document; found another", ""},
		{"YAML syntax", "a:\n  x: [1, 2\n", "p.yaml:", ""},
		{"tabs", "a:\n\tx: 1\n", "p.yaml:2:1: YAML: found character that cannot start any token", ""},
		{"not UTF-8", "a:\n  x: \xff\n", "p.yaml: not UTF-8 text", ""},
		// The checker's messages point into the YAML.
		{"known key of the wrong type", "trajectory_linker:\n  window: [1]\n", "p.yaml:2:11: ", "\t  window: [1]\n\t          ^\n"},
		{"unknown key of a known policy", "quality_meter:\n  min_scor: 60\n", "p.yaml:2:3: ", "\t  min_scor: 60\n\t  ^\n"},
		{"caret after non-ASCII", "own:\n  a: \"é\"\nquality_meter:\n  percentile_target: é\n", "p.yaml:4:22: ", "\t  percentile_target: é\n\t                     ^\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := []byte(tc.src)
			f, err := policyyaml.Parse("p.yaml", src)
			if err == nil {
				_, err = check.Check([]*syntax.File{f}, check.Options{})
			}
			if err == nil {
				t.Fatal("accepted")
			}
			var list syntax.ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T %v is not a syntax.ErrorList", err, err)
			}
			if got := list[0].Error(); !strings.HasPrefix(got, tc.want) {
				t.Errorf("first error\n got %s\nwant %s…", got, tc.want)
			}
			if tc.caret != "" {
				printed := syntax.FormatErrors(list[:1], src)
				if !strings.HasSuffix(printed, tc.caret) {
					t.Errorf("printed\n%s\nwant it to end with\n%s", printed, tc.caret)
				}
			}
		})
	}
}

func TestDeepNesting(t *testing.T) {
	src := "a:\n  x: " + strings.Repeat("[", 150) + strings.Repeat("]", 150) + "\n"
	_, err := policyyaml.Parse("p.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "nested deeper than 100 levels") {
		t.Fatalf("got %v", err)
	}
}

func TestIsPolicyFile(t *testing.T) {
	for name, want := range map[string]bool{
		"policy.yaml":                     true,
		"quality.yml":                     true,
		"cfg/tenants/acme/links.yaml":     true,
		"tenant.yaml":                     false,
		"cfg/tenants/acme/tenant.yaml":    false,
		"tenant.yml":                      false,
		"rules.lll":                       false,
		".yaml":                           false,
		"policy.yaml.bak":                 false,
		"cfg/tenants/acme/my.tenant.yaml": true,
	} {
		if got := policyyaml.IsPolicyFile(name); got != want {
			t.Errorf("IsPolicyFile(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestParseSource(t *testing.T) {
	y, err := policyyaml.ParseSource("p.yaml", []byte("own:\n  a: 1\n"))
	if err != nil || len(y.Blocks) != 1 || y.Blocks[0].Kind != syntax.KindPolicy {
		t.Fatalf("YAML: %v %+v", err, y)
	}
	l, err := policyyaml.ParseSource("p.lll", []byte("validator v {\n  require field \"who\"\n}\n"))
	if err != nil || len(l.Blocks) != 1 || l.Blocks[0].Kind != syntax.KindValidator {
		t.Fatalf(".lll: %v %+v", err, l)
	}
}

// A YAML policy and .lll programs compile together: pipelines read the
// YAML's parameters.
func TestWithLLL(t *testing.T) {
	y, err := policyyaml.Parse("links.yaml", []byte("own:\n  limit: 5\n"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := syntax.Parse("rules.lll", []byte("validator small {\n  when data.n > policy.own.limit\n  on_fail \"reject\"\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := check.Check([]*syntax.File{y, l}, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Validators) != 1 || len(p.Policies) < 1 {
		t.Fatalf("program %+v", p)
	}
	var found bool
	for _, pol := range p.Policies {
		if pol.Name == "own" {
			found = true
		}
	}
	if !found {
		t.Fatal("policy own is missing")
	}
	_ = ir.Encode(p)
}

// values is a program's policies without source positions (the YAML and
// the .lll spell the same values on different lines).
func values(p *ir.Program) []ir.Policy {
	out := make([]ir.Policy, len(p.Policies))
	for i, pol := range p.Policies {
		pol.Pos = ir.Pos{}
		pol.Entries = append([]ir.Entry(nil), pol.Entries...)
		for j := range pol.Entries {
			pol.Entries[j].Pos = ir.Pos{}
		}
		out[i] = pol
	}
	return out
}
