package syntax

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The VS Code extension in editors/vscode: its JSON files are valid, the
// grammar's regexes compile (those RE2 can read: Oniguruma's lookarounds
// are skipped), the grammar knows every keyword of the lexer and every
// builtin of docs/lll.md, and a small TextMate-like tokenizer gives the
// expected scopes on sample lines.

const editorDir = "../../../editors/vscode"

type tmCapture struct {
	Name string `json:"name"`
}

type tmRule struct {
	Name          string               `json:"name"`
	Match         string               `json:"match"`
	Begin         string               `json:"begin"`
	End           string               `json:"end"`
	Include       string               `json:"include"`
	Captures      map[string]tmCapture `json:"captures"`
	BeginCaptures map[string]tmCapture `json:"beginCaptures"`
	EndCaptures   map[string]tmCapture `json:"endCaptures"`
	Patterns      []tmRule             `json:"patterns"`
}

type tmGrammar struct {
	ScopeName  string            `json:"scopeName"`
	FileTypes  []string          `json:"fileTypes"`
	Patterns   []tmRule          `json:"patterns"`
	Repository map[string]tmRule `json:"repository"`
}

func loadGrammar(t *testing.T) *tmGrammar {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(editorDir, "lll.tmLanguage.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g tmGrammar
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatalf("lll.tmLanguage.json: %v", err)
	}
	return &g
}

func TestEditorJSONValid(t *testing.T) {
	for _, name := range []string{"lll.tmLanguage.json", "language-configuration.json", "package.json"} {
		data, err := os.ReadFile(filepath.Join(editorDir, name))
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	var pkg struct {
		Contributes struct {
			Languages []struct {
				ID            string   `json:"id"`
				Extensions    []string `json:"extensions"`
				Configuration string   `json:"configuration"`
			} `json:"languages"`
			Grammars []struct {
				Language  string `json:"language"`
				ScopeName string `json:"scopeName"`
				Path      string `json:"path"`
			} `json:"grammars"`
		} `json:"contributes"`
	}
	data, _ := os.ReadFile(filepath.Join(editorDir, "package.json"))
	if err := json.Unmarshal(data, &pkg); err != nil {
		t.Fatal(err)
	}
	c := pkg.Contributes
	if len(c.Languages) != 1 || c.Languages[0].ID != "lll" || len(c.Languages[0].Extensions) != 1 || c.Languages[0].Extensions[0] != ".lll" {
		t.Errorf("package.json languages = %+v, want lll for .lll", c.Languages)
	}
	if len(c.Grammars) != 1 || c.Grammars[0].ScopeName != loadGrammar(t).ScopeName {
		t.Errorf("package.json grammars = %+v", c.Grammars)
	}
	for _, p := range []string{c.Languages[0].Configuration, c.Grammars[0].Path} {
		if _, err := os.Stat(filepath.Join(editorDir, p)); err != nil {
			t.Errorf("package.json names %s: %v", p, err)
		}
	}
}

// lookaround reports whether an Oniguruma regex uses what RE2 lacks.
func lookaround(re string) bool {
	return strings.Contains(re, "(?=") || strings.Contains(re, "(?!") ||
		strings.Contains(re, "(?<=") || strings.Contains(re, "(?<!") || strings.Contains(re, `\G`)
}

func TestEditorGrammarRegexps(t *testing.T) {
	g := loadGrammar(t)
	var walk func(where string, r tmRule)
	walk = func(where string, r tmRule) {
		for kind, re := range map[string]string{"match": r.Match, "begin": r.Begin, "end": r.End} {
			if re == "" {
				continue
			}
			if lookaround(re) {
				t.Logf("%s %s: lookaround, not checked with RE2", where, kind)
				continue
			}
			if _, err := regexp.Compile(re); err != nil {
				t.Errorf("%s %s %q: %v", where, kind, re, err)
			}
		}
		if r.Include != "" && strings.HasPrefix(r.Include, "#") {
			if _, ok := g.Repository[r.Include[1:]]; !ok {
				t.Errorf("%s includes unknown %s", where, r.Include)
			}
		}
		for i, p := range r.Patterns {
			walk(where+"/"+strconv.Itoa(i), p)
		}
	}
	for i, p := range g.Patterns {
		walk("patterns/"+strconv.Itoa(i), p)
	}
	for name, r := range g.Repository {
		walk("repository/"+name, r)
	}
}

// TestEditorGrammarVocabulary checks that the grammar highlights every
// keyword of the lexer and every builtin of docs/lll.md.
func TestEditorGrammarVocabulary(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(editorDir, "lll.tmLanguage.json"))
	if err != nil {
		t.Fatal(err)
	}
	grammar := string(data)
	for _, kw := range strings.Fields(keywordList()) {
		if !regexp.MustCompile(`[(|]` + kw + `[|)]`).MatchString(grammar) {
			t.Errorf("keyword %s is in no alternation of the grammar", kw)
		}
	}
	docs, err := os.ReadFile("../../../docs/lll.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(docs)
	i := strings.Index(text, "Builtins:")
	if i < 0 {
		t.Fatal("docs/lll.md has no Builtins: paragraph")
	}
	para := text[i:]
	if j := strings.Index(para, "\n\n"); j >= 0 {
		para = para[:j]
	}
	var builtins []string
	for _, m := range regexp.MustCompile("`([a-z_]+)\\(").FindAllStringSubmatch(para, -1) {
		builtins = append(builtins, m[1])
	}
	if len(builtins) == 0 {
		t.Fatal("no builtins found in docs/lll.md")
	}
	g := loadGrammar(t)
	m := regexp.MustCompile(`\(([a-z_|]+)\)`).FindStringSubmatch(g.Repository["builtin"].Match)
	if m == nil {
		t.Fatal("builtin rule has no alternation")
	}
	have := strings.Split(m[1], "|")
	sort.Strings(have)
	sort.Strings(builtins)
	if strings.Join(have, " ") != strings.Join(builtins, " ") {
		t.Errorf("grammar builtins:\n%v\ndocs/lll.md builtins:\n%v", have, builtins)
	}
}

// tmToken is a piece of a line and its innermost scope.
type tmToken struct{ text, scope string }

type flatRule struct {
	rule  tmRule
	match *regexp.Regexp // match or begin
	end   *regexp.Regexp
	inner []flatRule // patterns inside begin/end
}

// flatten resolves includes into the list of rules tried at a position.
func flatten(g *tmGrammar, rules []tmRule, seen map[string]bool) []flatRule {
	var out []flatRule
	for _, r := range rules {
		switch {
		case r.Include != "":
			name := strings.TrimPrefix(r.Include, "#")
			if seen[name] {
				continue
			}
			seen[name] = true
			out = append(out, flatten(g, []tmRule{g.Repository[name]}, seen)...)
			delete(seen, name)
		case r.Match != "":
			out = append(out, flatRule{rule: r, match: regexp.MustCompile(r.Match)})
		case r.Begin != "":
			out = append(out, flatRule{rule: r, match: regexp.MustCompile(r.Begin), end: regexp.MustCompile(r.End),
				inner: flatten(g, r.Patterns, seen)})
		case len(r.Patterns) > 0:
			out = append(out, flatten(g, r.Patterns, seen)...)
		}
	}
	return out
}

// tokenize scans one line as a TextMate engine would (leftmost match,
// first rule on ties), for match rules and single-line begin/end rules.
func tokenize(rules []flatRule, line string) []tmToken {
	var toks []tmToken
	pos := 0
	for pos < len(line) {
		best, bestLoc := -1, []int(nil)
		for i, r := range rules {
			loc := r.match.FindStringSubmatchIndex(line[pos:])
			if loc == nil || loc[1] == loc[0] {
				continue
			}
			if best < 0 || loc[0] < bestLoc[0] {
				best, bestLoc = i, loc
			}
		}
		if best < 0 {
			break
		}
		r := rules[best]
		start, end := pos+bestLoc[0], pos+bestLoc[1]
		if r.end != nil {
			// A begin/end rule: scan to its end on this line.
			body := line[end:]
			e := r.end.FindStringIndex(body)
			stop := len(line)
			if e != nil {
				stop = end + e[1]
			}
			toks = append(toks, tmToken{line[start:stop], r.rule.Name})
			toks = append(toks, tokenize(r.inner, line[end:stop])...)
			pos = stop
			continue
		}
		// The whole match gets the rule's name, each capture its own
		// (nested) scope.
		if r.rule.Name != "" {
			toks = append(toks, tmToken{line[start:end], r.rule.Name})
		}
		for k, c := range r.rule.Captures {
			n, err := strconv.Atoi(k)
			if err == nil && 2*n+1 < len(bestLoc) && bestLoc[2*n] >= 0 {
				toks = append(toks, tmToken{line[pos+bestLoc[2*n] : pos+bestLoc[2*n+1]], c.Name})
			}
		}
		pos = end
	}
	return toks
}

func TestEditorGrammarScopes(t *testing.T) {
	g := loadGrammar(t)
	rules := flatten(g, g.Patterns, map[string]bool{})
	tests := []struct {
		line string
		want []tmToken // each must be among the line's tokens
	}{
		{`validator canonical_contract_v1 { # the default`, []tmToken{
			{"validator", "storage.type.block.lll"},
			{"canonical_contract_v1", "entity.name.type.block.lll"},
			{"#", "punctuation.definition.comment.lll"},
			{"# the default", "comment.line.number-sign.lll"},
		}},
		{`  require field "when" as "rfc3339"`, []tmToken{
			{"require", "keyword.other.statement.lll"},
			{"field", "keyword.other.statement.lll"},
			{`"when"`, "string.quoted.double.lll"},
			{"as", "keyword.other.statement.lll"},
		}},
		{`  when span.when >= 1h30m and percentile(score) > 0.5`, []tmToken{
			{"when", "keyword.other.statement.lll"},
			{"span", "variable.language.lll"},
			{"when", "variable.other.member.lll"},
			{">=", "keyword.operator.comparison.lll"},
			{"1h30m", "constant.numeric.duration.lll"},
			{"and", "keyword.operator.word.lll"},
			{"percentile", "support.function.builtin.lll"},
			{"score", "variable.other.lll"},
			{"0.5", "constant.numeric.lll"},
		}},
		{`  weights: { mass: 0.4, persistence: 1e-3 }`, []tmToken{
			{"weights", "variable.other.property.lll"},
			{"mass", "variable.other.property.lll"},
			{"1e-3", "constant.numeric.lll"},
		}},
		{`  policy_ref: "a\tb\q" # x`, []tmToken{
			{"policy_ref", "variable.other.property.lll"},
			{`\t`, "constant.character.escape.lll"},
			{`\q`, "invalid.illegal.escape.lll"},
			{"# x", "comment.line.number-sign.lll"},
		}},
		{`  on_fail "reject"`, []tmToken{{"on_fail", "keyword.other.statement.lll"}}},
		{`  when policy.quality_meter.min_score <= 500ms or not true`, []tmToken{
			{"policy", "variable.language.lll"},
			{"quality_meter", "variable.other.member.lll"},
			{"500ms", "constant.numeric.duration.lll"},
			{"not", "keyword.operator.word.lll"},
			{"true", "constant.language.lll"},
		}},
		{`  route "billing" when who matches "a*" and did in ["x"]`, []tmToken{
			{"route", "keyword.other.statement.lll"},
			{"matches", "keyword.operator.word.lll"},
			{"in", "keyword.operator.word.lll"},
		}},
	}
	for _, tt := range tests {
		got := tokenize(rules, tt.line)
		for _, w := range tt.want {
			found := false
			for _, tok := range got {
				if tok == w {
					found = true
				}
			}
			if !found {
				t.Errorf("%q: no token %q with scope %s; got %v", tt.line, w.text, w.scope, got)
			}
		}
	}
}
