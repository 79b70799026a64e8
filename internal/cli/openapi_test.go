package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/logline/logline/internal/lll/check"
	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/lll/syntax"
	"github.com/logline/logline/internal/openapi"
	"github.com/logline/logline/internal/programs"
)

// loadOpenAPIDoc loads and validates an OpenAPI 3.1 document.
func loadOpenAPIDoc(t *testing.T, b []byte) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate: %v", err)
	}
	return doc
}

func TestOpenAPICommand(t *testing.T) {
	ctx := context.Background()
	out, errOut, code := runMain(t, ctx, nil, "", "openapi")
	if code != 0 {
		t.Fatalf("openapi: exit %d\n%s", code, errOut)
	}
	doc := loadOpenAPIDoc(t, []byte(out))
	if doc.Info.Version != "test" || len(doc.Servers) != 1 || doc.Servers[0].URL != openapi.DefaultServerURL {
		t.Errorf("version %q, servers %v; want the binary's version and %s", doc.Info.Version, doc.Servers, openapi.DefaultServerURL)
	}
	if doc.Paths.Find("/openapi.yaml") == nil || doc.Paths.Find("/ingest") == nil {
		t.Error("the document lacks /openapi.yaml or /ingest")
	}

	file := filepath.Join(t.TempDir(), "openapi.yaml")
	out, errOut, code = runMain(t, ctx, nil, "", "openapi", "--server-url", "https://logline.example.com", "--out", file)
	if code != 0 || out != "" {
		t.Fatalf("openapi --out: exit %d, stdout %q\n%s", code, out, errOut)
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want, err := openapi.Build(openapi.Options{Version: "test", ServerURL: "https://logline.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Error("--out wrote another document than openapi.Build")
	}

	// The URL also comes from the environment.
	out, _, code = runMain(t, ctx, map[string]string{"LOGLINE_SERVER_URL": "https://env.example"}, "", "openapi")
	if code != 0 || loadOpenAPIDoc(t, []byte(out)).Servers[0].URL != "https://env.example" {
		t.Errorf("LOGLINE_SERVER_URL: exit %d", code)
	}

	for _, args := range [][]string{
		{"openapi", "--server-url", "ftp://x"},
		{"openapi", "--server-url", "not a url"},
		{"openapi", "extra"},
	} {
		if _, errOut, code := runMain(t, ctx, nil, "", args...); code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", args, code, errOut)
		}
	}
}

// TestServeServesOpenAPI: serve answers GET /openapi.yaml without a token
// with the built-in document of itself (its URL in servers, no tenant's
// schemas); with a token of tenant acme, with acme's entity schemas and
// not bakery's, the same document as `logline openapi --tenant acme`; a
// token that does not verify is 401.
func TestServeServesOpenAPI(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	writeProgram(t, data, "acme", "orders.lll", orderSchema)
	writeProgram(t, data, "bakery", "invoices.lll", invoiceSchema)
	url, _, _ := runServeAuth(t, data)
	resp, err := http.Get(url + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi.yaml: %d %v\n%s", resp.StatusCode, err, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("Content-Type %q, want application/yaml", ct)
	}
	doc := loadOpenAPIDoc(t, body)
	if doc.Servers[0].URL != url {
		t.Errorf("servers %q, want the server's URL %q", doc.Servers[0].URL, url)
	}
	if doc.Components.Schemas["Span_order"] != nil || doc.Components.Schemas["Span_invoice"] != nil {
		t.Error("the anonymous document holds a tenant's entity schemas")
	}
	out, _, _ := runMain(t, ctx, nil, "", "openapi", "--server-url", url)
	if out != string(body) {
		t.Error("GET /openapi.yaml differs from logline openapi --server-url URL")
	}

	token, errOut, code := runMain(t, ctx, nil, "", "token", "issue", "--data", data, "--tenant", "acme", "--role", "admin")
	if code != 0 {
		t.Fatalf("token issue: exit %d\n%s", code, errOut)
	}
	status, acme := bearerGet(t, url+"/openapi.yaml", strings.TrimSpace(token))
	if status != http.StatusOK {
		t.Fatalf("GET /openapi.yaml with acme's token: %d\n%s", status, acme)
	}
	doc = loadOpenAPIDoc(t, acme)
	if doc.Components.Schemas["Span_order"] == nil || doc.Components.Schemas["Span_invoice"] != nil {
		t.Error("acme's document does not hold exactly acme's entity schemas")
	}
	if doc.Servers[0].URL != url {
		t.Errorf("acme's document: servers %q, want %q", doc.Servers[0].URL, url)
	}
	out, errOut, _ = runMain(t, ctx, nil, "", "openapi", "--server-url", url, "--data", data, "--tenant", "acme")
	if out != string(acme) {
		t.Errorf("GET /openapi.yaml with acme's token differs from logline openapi --data DATA --tenant acme\n%s", errOut)
	}
	if status, body := bearerGet(t, url+"/openapi.yaml", "forged"); status != http.StatusUnauthorized {
		t.Errorf("GET /openapi.yaml with a forged token: %d, want 401\n%s", status, body)
	}
}

// compileForTest compiles .lll sources (name, text, name, text, …) as
// one program.
func compileForTest(t *testing.T, nameText ...string) *ir.Program {
	t.Helper()
	var files []programSource
	for i := 0; i+1 < len(nameText); i += 2 {
		files = append(files, programSource{name: nameText[i], src: []byte(nameText[i+1])})
	}
	var errs bytes.Buffer
	prog, err := compileSources(&errs, files)
	if err != nil {
		t.Fatalf("compile: %v\n%s", err, errs.String())
	}
	return prog
}

// TestEntitySchemasOf: schema blocks become openapi.EntitySchemas in
// source order (across files) with their entity_type, description and
// field rules (required or allowed, dotted paths, every type); what the
// document cannot express is an error at the block or the rule.
func TestEntitySchemasOf(t *testing.T) {
	const order = `# orders
schema order {
  entity_type: "order"
  description: "A customer's order."
  require field "who" as "string"
  require field "data.total" as "number"
  require field "data.customer.id"
  allow field "data.customer.vip" as "bool"
  allow field "data.quantity" as "integer"
  allow field "data.items" as "array"
  allow field "data.extra" as "object"
  allow field "data.placed_at" as "rfc3339"
  allow field "metadata.source" as "string"
  allow field "data"
}
`
	const invoice = `schema invoice_v2 {
  entity_type: "billing:invoice"
  require field "data.amount" as "integer"
}

validator unrelated {
  require field "status"
}
`
	for _, tc := range []struct {
		name    string
		sources []string // name, text, …
		want    []openapi.EntitySchema
		err     string // the error, with its position
		// mutate changes the compiled program into one the checker
		// refuses but a bundle could hold (defence in depth).
		mutate func(*ir.Program)
	}{
		{"no schema blocks", []string{"v.lll", "validator v {\n  require field \"status\"\n}\n"}, []openapi.EntitySchema{}, "", nil},
		{"fields, types and files", []string{"order.lll", order, "invoice.lll", invoice}, []openapi.EntitySchema{
			{Name: "order", EntityType: "order", Description: "A customer's order.", Fields: []openapi.Field{
				{Path: "who", Type: "string", Required: true},
				{Path: "data.total", Type: "number", Required: true},
				{Path: "data.customer.id", Required: true},
				{Path: "data.customer.vip", Type: "bool"},
				{Path: "data.quantity", Type: "integer"},
				{Path: "data.items", Type: "array"},
				{Path: "data.extra", Type: "object"},
				{Path: "data.placed_at", Type: "rfc3339"},
				{Path: "metadata.source", Type: "string"},
				{Path: "data"},
			}},
			{Name: "invoice_v2", EntityType: "billing:invoice", Fields: []openapi.Field{{Path: "data.amount", Type: "integer", Required: true}}},
		}, "", nil},
		{"entity type span", []string{"s.lll", "schema plain {\n  entity_type: \"span\"\n}\n"}, []openapi.EntitySchema{{Name: "plain", EntityType: "span"}}, "", nil},
		{"two blocks of one entity type", []string{"a.lll", "schema a {\n  entity_type: \"order\"\n}\n", "b.lll", "schema b {\n  entity_type: \"other\"\n}\n"}, nil,
			`b.lll:1:8: invalid entity schema: schemas a and b both describe entity_type "order"`,
			func(p *ir.Program) { p.Schemas[1].EntityType = "order" }},
		{"data as a string", []string{"a.lll", "schema a {\n  entity_type: \"a\"\n  require field \"data\" as \"object\"\n}\n"}, nil,
			`a.lll:3:3: invalid entity schema: schema a: field "data": "data" is always an object`,
			func(p *ir.Program) { p.Schemas[0].Fields[0].Type = ir.FieldString }},
		{"members of a number", []string{"a.lll", "schema a {\n  entity_type: \"a\"\n  require field \"data.total\" as \"object\"\n  allow field \"data.total.cents\"\n}\n"}, nil,
			`a.lll:4:3: invalid entity schema: schema a: field "data.total.cents": "data.total" is declared as number, so it has no members`,
			func(p *ir.Program) { p.Schemas[0].Fields[0].Type = ir.FieldNumber }},
		{"a name too long for a component", []string{"a.lll", "schema " + strings.Repeat("n", 65) + " {\n  entity_type: \"a\"\n}\n"}, nil,
			`a.lll:1:8: invalid entity schema: name "` + strings.Repeat("n", 65) + `": want 1–64 characters from [A-Za-z0-9_.-]`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prog := compileForTest(t, tc.sources...)
			if tc.mutate != nil {
				tc.mutate(prog)
			}
			got, err := entitySchemasOf(prog)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err || !errors.Is(err, openapi.ErrInvalidSchema) {
					t.Fatalf("error %v, want %q wrapping ErrInvalidSchema", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}

	// A decoded bundle is not bound by the checker's dotted paths.
	for _, tc := range []struct {
		name string
		step ir.Step
		want string
	}{
		{"array element", ir.Step{Index: 0}, "array element"},
		{"member with a dot", ir.Step{Key: "a.b", Index: -1}, "dotted path"},
	} {
		p := &ir.Program{
			Files:   []string{"x.lll"},
			Paths:   []ir.Path{{Field: "data", Steps: []ir.Step{tc.step}}},
			Schemas: []ir.Schema{{Name: "x", EntityType: "x", Fields: []ir.FieldRule{{Required: true, Path: 0, Text: `require field "…"`, Pos: ir.Pos{Line: 2, Col: 3}}}}},
		}
		if _, err := entitySchemasOf(p); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "x.lll:2:3: ") {
			t.Errorf("%s: %v, want an error at x.lll:2:3 mentioning %q", tc.name, err, tc.want)
		}
	}
}

// validateSpan validates a JSON span against a component schema of doc.
func validateSpan(t *testing.T, doc *openapi3.T, component, span string) error {
	t.Helper()
	s := doc.Components.Schemas[component]
	if s == nil {
		t.Fatalf("no component %s", component)
	}
	var v any
	if err := json.Unmarshal([]byte(span), &v); err != nil {
		t.Fatal(err)
	}
	return doc.ValidateSchemaJSON(s.Value, v, openapi3.EnableJSONSchema2020(), openapi3.EnableFormatValidation())
}

const orderSchema = `schema order {
  entity_type: "order"
  description: "A customer's order."
  require field "data.total" as "number"
  allow field "data.placed_at" as "rfc3339"
}
`

// TestOpenAPIFiles: `logline openapi FILE.lll...` holds the schema blocks
// of the files compiled together, and the document is valid; errors of
// the program or of a block the document cannot express are printed with
// a caret (exit 2).
func TestOpenAPIFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	put := func(name, src string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	orders := put("orders.lll", orderSchema)
	invoices := put("invoices.lll", "schema invoice {\n  entity_type: \"invoice\"\n  require field \"data.amount\" as \"integer\"\n}\n")
	out, errOut, code := runMain(t, ctx, nil, "", "openapi", orders, invoices)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	doc := loadOpenAPIDoc(t, []byte(out))
	for _, c := range []string{"Span_order", "Span_invoice"} {
		if doc.Components.Schemas[c] == nil {
			t.Errorf("no component %s", c)
		}
	}
	if d := doc.Components.Schemas["Span_order"].Value.Description; !strings.HasPrefix(d, "A customer's order.") {
		t.Errorf("Span_order's description %q does not carry the block's", d)
	}
	const base = `"tenant":"acme","who":"w","this":"x","when":"2026-01-02T03:04:05Z"`
	if err := validateSpan(t, doc, "SpanInput", `{`+base+`,"entity_type":"order","data":{"total":1.5,"placed_at":"2026-01-02T03:04:05Z"}}`); err != nil {
		t.Errorf("a valid order: %v", err)
	}
	for _, bad := range []string{
		`{` + base + `,"entity_type":"order","data":{}}`,
		`{` + base + `,"entity_type":"order","data":{"total":1,"placed_at":"tuesday"}}`,
		`{` + base + `,"entity_type":"invoice","data":{"amount":1.5}}`,
	} {
		if validateSpan(t, doc, "SpanInput", bad) == nil {
			t.Errorf("%s matches SpanInput", bad)
		}
	}
	// Standard input too.
	if out2, errOut, code := runMain(t, ctx, nil, orderSchema, "openapi", "-"); code != 0 || !strings.Contains(out2, "Span_order:") {
		t.Errorf("openapi -: exit %d\n%s", code, errOut)
	}

	for _, tc := range []struct {
		name string
		args []string
		want []string // on standard error
	}{
		{"a program that does not compile", []string{put("into_who.lll", "schema a {\n  entity_type: \"a\"\n  require field \"who.name\"\n}\n")},
			[]string{"into_who.lll:3:17: who is a string; it has no members", "\t  require field \"who.name\"\n\t                ^", "1 error(s)"}},
		{"two schemas of one entity type", []string{orders, put("again.lll", "schema order_again {\n  entity_type: \"order\"\n}\n")},
			[]string{"again.lll:2:16: schema order_again: entity type \"order\" already has a schema (order at ", "\t  entity_type: \"order\"\n\t               ^"}},
		{"files and a tenant", []string{orders, "--tenant", "acme"}, []string{"not both"}},
		{"a missing file", []string{filepath.Join(dir, "nothing.lll")}, []string{"nothing.lll"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runMain(t, ctx, nil, "", append([]string{"openapi"}, tc.args...)...)
			if code != ExitUsage || out != "" {
				t.Errorf("exit %d, stdout %d bytes; want 2 and nothing", code, len(out))
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}

// writeProgram writes DATA/cfg/tenants/<tenant>/<name>.
func writeProgram(t *testing.T, data, tenant, name, src string) {
	t.Helper()
	dir := filepath.Join(data, "cfg", "tenants", tenant)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

const invoiceSchema = "schema invoice {\n  entity_type: \"invoice\"\n  require field \"data.amount\" as \"integer\"\n}\n"

// TestOpenAPITenant: `logline openapi --data DIR --tenant T` holds T's
// schema blocks as the server loads them (sources, or a trusted bundle),
// and no other tenant's; programs the server refuses are an error with
// the reason; a tenant without programs gets the built-in document and a
// note; --tenant alone reads the default data directory.
func TestOpenAPITenant(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	writeProgram(t, data, "acme", "orders.lll", orderSchema)
	writeProgram(t, data, "bakery", "invoices.lll", invoiceSchema)
	writeProgram(t, data, "broken", "x.lll", "schema x {\n")

	// A signed bundle, refused until its key is trusted.
	dir := t.TempDir()
	key := filepath.Join(dir, "ci.key")
	keyOut, errOut, code := runMain(t, ctx, nil, "", "keys", "new", "--out", key)
	if code != 0 {
		t.Fatalf("keys new: %d %s", code, errOut)
	}
	src := filepath.Join(dir, "b.lll")
	if err := os.WriteFile(src, []byte(strings.ReplaceAll(invoiceSchema, "invoice", "parcel")), 0o644); err != nil {
		t.Fatal(err)
	}
	bundleDir := filepath.Join(data, "cfg", "tenants", "courier")
	if err := os.MkdirAll(bundleDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runMain(t, ctx, nil, "", "compile", src, "-o", filepath.Join(bundleDir, "courier.lllb"), "--key", key); code != 0 {
		t.Fatalf("compile: %d %s", code, errOut)
	}

	openapiOf := func(args ...string) (*openapi3.T, string, int) {
		t.Helper()
		out, errOut, code := runMain(t, ctx, nil, "", append([]string{"openapi"}, args...)...)
		if code != 0 {
			return nil, errOut, code
		}
		return loadOpenAPIDoc(t, []byte(out)), errOut, code
	}
	has := func(doc *openapi3.T, names ...string) []string {
		var got []string
		for _, n := range names {
			if doc.Components.Schemas[n] != nil {
				got = append(got, n)
			}
		}
		return got
	}
	all := []string{"Span_order", "Span_invoice", "Span_parcel"}
	for _, tc := range []struct {
		tenant string
		want   []string
		note   bool // the "no programs" note on standard error
	}{
		{"acme", []string{"Span_order"}, false},
		{"bakery", []string{"Span_invoice"}, false},
		{"nobody", nil, true},
	} {
		doc, errOut, code := openapiOf("--data", data, "--tenant", tc.tenant)
		if code != 0 {
			t.Fatalf("--tenant %s: exit %d\n%s", tc.tenant, code, errOut)
		}
		if got := has(doc, all...); !slices.Equal(got, tc.want) {
			t.Errorf("--tenant %s: components %v, want %v", tc.tenant, got, tc.want)
		}
		if note := strings.Contains(errOut, "has no programs"); note != tc.note {
			t.Errorf("--tenant %s: stderr %q", tc.tenant, errOut)
		}
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"refused sources", []string{"--data", data, "--tenant", "broken"}, "tenant broken: its programs in " + filepath.Join(data, "cfg", "tenants", "broken") + " are refused: "},
		{"an untrusted bundle", []string{"--data", data, "--tenant", "courier"}, "courier.lllb"},
		{"a bad tenant name", []string{"--data", data, "--tenant", "Acme"}, `--tenant "Acme"`},
		{"a missing data directory", []string{"--data", filepath.Join(data, "nothing"), "--tenant", "acme"}, "--data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, errOut, code := openapiOf(tc.args...)
			if code != ExitUsage || doc != nil || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 mentioning %q", code, errOut, tc.want)
			}
		})
	}

	// Trusting the key runs the bundle.
	pub := strings.TrimSpace(strings.TrimPrefix(keyOut, "public key:"))
	if err := os.WriteFile(filepath.Join(data, "cfg", "trusted-bundle-keys"), []byte(pub+" ci\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	doc, errOut, code := openapiOf("--data", data, "--tenant", "courier")
	if code != 0 {
		t.Fatalf("a trusted bundle: exit %d\n%s", code, errOut)
	}
	if got := has(doc, all...); !slices.Equal(got, []string{"Span_parcel"}) {
		t.Errorf("a trusted bundle: components %v, want Span_parcel", got)
	}

	// --tenant without --data reads ./data.
	t.Chdir(filepath.Dir(data))
	if err := os.Rename(data, "data"); err != nil {
		t.Fatal(err)
	}
	doc, errOut, code = openapiOf("--tenant", "acme")
	if code != 0 {
		t.Fatalf("--tenant without --data: exit %d\n%s", code, errOut)
	}
	if got := has(doc, all...); !slices.Equal(got, []string{"Span_order"}) {
		t.Errorf("--tenant without --data: components %v, want Span_order", got)
	}
}

// TestOpenAPIDocsFollowReloads: serve's documents are built once per
// tenant and program (the same bytes while nothing changes), the built-in
// document for anonymous callers and tenants without schemas, and a
// reloaded program shows without a restart; a block the document cannot
// express is an error naming the tenant and the source position.
func TestOpenAPIDocsFollowReloads(t *testing.T) {
	data := t.TempDir()
	writeProgram(t, data, "acme", "orders.lll", orderSchema)
	set, err := programs.Open(context.Background(), programs.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	docs := newOpenAPIDocs("test", "https://logline.example", set)
	get := func(tenant string) []byte {
		t.Helper()
		b, err := docs.document(tenant)
		if err != nil {
			t.Fatalf("document(%q): %v", tenant, err)
		}
		return b
	}
	builtin, err := openapi.Build(openapi.Options{Version: "test", ServerURL: "https://logline.example"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(get(""), builtin) || !bytes.Equal(get("bakery"), builtin) {
		t.Error("the anonymous document or that of a tenant without schemas is not the built-in one")
	}
	acme := get("acme")
	if !bytes.Contains(acme, []byte("Span_order:")) {
		t.Fatal("acme's document lacks Span_order")
	}
	if again := get("acme"); &again[0] != &acme[0] {
		t.Error("a second request rebuilt acme's unchanged document")
	}

	writeProgram(t, data, "acme", "invoices.lll", invoiceSchema)
	if err := set.Reload(); err != nil {
		t.Fatal(err)
	}
	if b := get("acme"); !bytes.Contains(b, []byte("Span_order:")) || !bytes.Contains(b, []byte("Span_invoice:")) {
		t.Error("acme's document does not show the reloaded program")
	}

	// A second schema of order is refused by the checker: the program
	// in force, and so the document, stay as they were.
	before := get("acme")
	writeProgram(t, data, "acme", "zz.lll", "schema order_again {\n  entity_type: \"order\"\n}\n")
	if err := set.Reload(); err == nil {
		t.Fatal("a second schema of entity type order was accepted")
	}
	if b := get("acme"); !bytes.Equal(b, before) {
		t.Error("a refused program changed acme's document")
	}
	if err := os.Remove(filepath.Join(data, "cfg", "tenants", "acme", "zz.lll")); err != nil {
		t.Fatal(err)
	}
	if err := set.Reload(); err != nil {
		t.Fatal(err)
	}
	if b := get("acme"); !bytes.Contains(b, []byte("Span_invoice:")) {
		t.Error("acme's document changed once the refused file was removed")
	}

	// Concurrent requests during reloads (go test -race).
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 20 {
				tenant := []string{"", "acme", "bakery", "acme"}[i]
				if _, err := docs.document(tenant); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for i := range 3 {
		writeProgram(t, data, "acme", "extra.lll", fmt.Sprintf("schema extra%d {\n  entity_type: \"extra\"\n}\n", i))
		if err := set.Reload(); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
	if b := get("acme"); !bytes.Contains(b, []byte("Span_extra2:")) {
		t.Error("acme's document does not show the last reload")
	}
}

// FuzzEntitySchemasOf: whatever program compiles, its schema blocks
// either convert to schemas the OpenAPI builder accepts or give an error
// at a source position wrapping ErrInvalidSchema — never a panic, never
// a document Build refuses.
func FuzzEntitySchemasOf(f *testing.F) {
	f.Add(orderSchema)
	f.Add(invoiceSchema + orderSchema)
	f.Add("schema a {\n  entity_type: \"a\"\n  require field \"data\" as \"string\"\n}\n")
	f.Add("schema a {\n  entity_type: \"a\"\n  require field \"data.x\" as \"number\"\n  allow field \"data.x.y\"\n}\nschema b {\n  entity_type: \"a\"\n}\n")
	f.Fuzz(func(t *testing.T, src string) {
		file, err := syntax.Parse("f.lll", []byte(src))
		if err != nil {
			return
		}
		prog, err := check.Check([]*syntax.File{file}, check.Options{})
		if err != nil {
			return
		}
		schemas, err := entitySchemasOf(prog)
		if err != nil {
			var se *syntax.Error
			if !errors.Is(err, openapi.ErrInvalidSchema) || !errors.As(err, &se) || se.File != "f.lll" || !se.Pos.IsValid() {
				t.Fatalf("error %v: want ErrInvalidSchema at a position of f.lll", err)
			}
			return
		}
		if len(schemas) != len(prog.Schemas) {
			t.Fatalf("%d schemas for %d blocks", len(schemas), len(prog.Schemas))
		}
		if _, err := openapi.Build(openapi.Options{Schemas: schemas}); err != nil {
			t.Fatalf("entitySchemasOf accepted what Build refuses: %v", err)
		}
	})
}
