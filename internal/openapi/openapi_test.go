package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite testdata/openapi.golden.yaml")

// testSchemas are entity schemas covering nested data paths and every
// field type.
func testSchemas() []EntitySchema {
	return []EntitySchema{
		{Name: "order", EntityType: "order", Description: "A customer's order.", Fields: []Field{
			{Path: "who", Type: "string", Required: true},
			{Path: "data.total", Type: "number", Required: true},
			{Path: "data.items", Type: "array", Required: true},
			{Path: "data.customer.id", Type: "string", Required: true},
			{Path: "data.customer.vip", Type: "bool"},
			{Path: "data.quantity", Type: "integer"},
			{Path: "data.placed_at", Type: "rfc3339"},
			{Path: "data.extra", Type: "object"},
			{Path: "data.note"},
			{Path: "metadata.source", Type: "string"},
		}},
		{Name: "invoice.v2", EntityType: "billing:invoice", Fields: []Field{
			{Path: "data.amount", Type: "integer", Required: true},
			{Path: "data.currency", Type: "string"},
		}},
	}
}

// load builds the document for opts and loads it with kin-openapi,
// checking that it is treated as OpenAPI 3.1 (JSON Schema 2020-12).
func load(t testing.TB, opts Options) (*openapi3.T, []byte) {
	t.Helper()
	b, err := Build(opts)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatalf("load the document: %v", err)
	}
	if doc.OpenAPI != "3.1.0" || !doc.IsOpenAPI31OrLater() || doc.IsOpenAPI30() {
		t.Fatalf("the document is OpenAPI %q (3.1: %v): want 3.1.0 validated as 3.1", doc.OpenAPI, doc.IsOpenAPI31OrLater())
	}
	return doc, b
}

func TestOpenAPIValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"zero options", Options{}},
		{"entity schemas", Options{Title: "acme's LogLine", Version: "1.2.3", ServerURL: "https://logline.example.com/base", Schemas: testSchemas()}},
		{"schema of entity type span", Options{Schemas: []EntitySchema{{Name: "plain", EntityType: "span", Fields: []Field{{Path: "data.x", Type: "string", Required: true}}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, _ := load(t, tc.opts)
			if err := doc.Validate(context.Background()); err != nil {
				t.Fatalf("the document does not validate: %v", err)
			}
		})
	}
}

// TestOpenAPIValidationIs31: the document uses 3.1-only JSON Schema
// (const, type arrays, if/else, dependentRequired), which a 3.0
// validation refuses: so the 3.1 validation above really ran as 3.1.
func TestOpenAPIValidationIs31(t *testing.T) {
	b, err := Build(Options{Schemas: testSchemas()})
	if err != nil {
		t.Fatal(err)
	}
	as30 := bytes.Replace(b, []byte("openapi: 3.1.0\n"), []byte("openapi: 3.0.3\n"), 1)
	doc, err := openapi3.NewLoader().LoadFromData(as30)
	if err != nil {
		t.Fatalf("load as 3.0: %v", err)
	}
	if !doc.IsOpenAPI30() {
		t.Fatal("the edited document is not 3.0")
	}
	if err := doc.Validate(context.Background()); err == nil {
		t.Fatal("the document validates as OpenAPI 3.0 too: the test cannot tell 3.1 validation from 3.0")
	}
}

func TestOpenAPIGolden(t *testing.T) {
	_, got := load(t, Options{Version: "test", Schemas: testSchemas()})
	path := filepath.Join("testdata", "openapi.golden.yaml")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestOpenAPIGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the document differs from %s (run go test -run TestOpenAPIGolden -update and review the diff)", path)
	}
}

func TestOpenAPIDeterministic(t *testing.T) {
	opts := Options{Schemas: testSchemas()}
	first, err := Build(opts)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	outs := make([][]byte, 8)
	for i := range outs {
		wg.Go(func() {
			b, err := Build(opts)
			if err != nil {
				t.Error(err)
			}
			outs[i] = b
		})
	}
	wg.Wait()
	for i, b := range outs {
		if !bytes.Equal(b, first) {
			t.Fatalf("build %d differs from the first", i)
		}
	}
}

// opsOf lists the document's operations as "METHOD /path".
func opsOf(doc *openapi3.T) map[string]*openapi3.Operation {
	out := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			out[method+" "+path] = op
		}
	}
	return out
}

// TestOpenAPISecurity: an operation has a security requirement (exactly
// bearerAuth) if and only if it names a capability, and the public ones
// are the probes, the log key, this document and the identity routes.
func TestOpenAPISecurity(t *testing.T) {
	doc, _ := load(t, Options{})
	scheme := doc.Components.SecuritySchemes["bearerAuth"]
	if scheme == nil || scheme.Value.Type != "http" || scheme.Value.Scheme != "bearer" || scheme.Value.BearerFormat != "JWT" {
		t.Fatalf("bearerAuth = %+v, want http bearer JWT", scheme)
	}
	if doc.Security != nil {
		t.Errorf("top-level security %v: each operation says its own", doc.Security)
	}
	var public, optional []string
	for name, op := range opsOf(doc) {
		capability, hasCap := op.Extensions["x-logline-capability"].(string)
		secured := op.Security != nil && len(*op.Security) > 0
		if secured && len((*op.Security)[0]) == 0 {
			// Optional authentication: [{}, {bearerAuth: []}], no capability.
			optional = append(optional, name)
			if hasCap || len(*op.Security) != 2 || (*op.Security)[1]["bearerAuth"] == nil || op.Responses.Status(401) == nil {
				t.Errorf("%s: optional security %v with capability %q: want [{}, bearerAuth: []], no capability, a 401 response", name, *op.Security, capability)
			}
			secured = false
		}
		if hasCap != secured {
			t.Errorf("%s: capability %q but security %v: want both or neither", name, capability, op.Security)
		}
		if secured {
			if len(*op.Security) != 1 || len((*op.Security)[0]) != 1 || (*op.Security)[0]["bearerAuth"] == nil {
				t.Errorf("%s: security %v, want [bearerAuth: []]", name, *op.Security)
			}
			for _, code := range []int{401, 403, 429} {
				if op.Responses.Status(code) == nil {
					t.Errorf("%s: needs a token but has no %d response", name, code)
				}
			}
		} else {
			public = append(public, name)
		}
	}
	slices.Sort(public)
	want := []string{"GET /.well-known/jwks.json", "GET /auth/callback", "GET /auth/login", "GET /healthz", "GET /log/key", "GET /openapi.yaml", "GET /readyz", "POST /auth/token"}
	if !slices.Equal(public, want) {
		t.Errorf("public operations = %v, want %v", public, want)
	}
	if want := []string{"GET /openapi.yaml"}; !slices.Equal(optional, want) {
		t.Errorf("operations with optional authentication = %v, want %v", optional, want)
	}
}

// TestOpenAPIErrorsAreProblems: every error response is
// application/problem+json with the Problem schema, except POST
// /auth/token's OAuth errors and a 416 of http.ServeContent.
func TestOpenAPIErrorsAreProblems(t *testing.T) {
	doc, _ := load(t, Options{})
	for name, op := range opsOf(doc) {
		for code, r := range op.Responses.Map() {
			n, err := strconv.Atoi(code)
			if err != nil {
				t.Errorf("%s: response %q is not a status code", name, code)
				continue
			}
			if n < 400 || name == "POST /auth/token" || n == 416 {
				continue
			}
			mt := r.Value.Content.Get("application/problem+json")
			if mt == nil || len(r.Value.Content) != 1 {
				t.Errorf("%s %d: content %v, want application/problem+json only", name, n, r.Value.Content)
				continue
			}
			if got := mt.Schema.Ref; got != "#/components/schemas/Problem" && got != "#/components/schemas/QuotaProblem" {
				t.Errorf("%s %d: schema %q, want Problem", name, n, got)
			}
		}
		if op.Responses.Status(500) == nil {
			t.Errorf("%s: no 500 response", name)
		}
	}
}

// validate checks value (JSON text) against a component schema with JSON
// Schema 2020-12 semantics and format checks.
func validate(t *testing.T, doc *openapi3.T, schema, value string) error {
	t.Helper()
	ref := doc.Components.Schemas[schema]
	if ref == nil {
		t.Fatalf("no component schema %s", schema)
	}
	var v any
	if err := json.Unmarshal([]byte(value), &v); err != nil {
		t.Fatalf("bad test value %s: %v", value, err)
	}
	return doc.ValidateSchemaJSON(ref.Value, v, openapi3.EnableJSONSchema2020(), openapi3.EnableFormatValidation())
}

// TestOpenAPISchemasMatchTheWire: answers as docs/http-api.md shows them
// (and the gateway sends them) validate against their schemas, and
// near-misses do not.
func TestOpenAPISchemasMatchTheWire(t *testing.T) {
	doc, _ := load(t, Options{})
	const receipt = `{"op":"ledger.append","span_id":"s_01JDX3V5Q2W6HMSAF2C8T4N9PZ","tenant":"acme","log_index":42,"leaf_hash":"uQqOh4jWdhz/TKphJSybuzpUxsvSewhSmg93WzxQVsc=","jti":"r_abcdefghijklmnopqrstuvwxyz","kid":"946a2fb5","ts":"2026-11-25T14:00:00.123456789Z","checkpoint_size":43,"checkpoint":"logline.example/ledger\n43\n…\n"}`
	const result = `"id":"s_01JDX3V5Q2W6HMSAF2C8T4N9PZ","seq":0,"tenant":"acme","log_index":42,"curr_hash":"8bb0ef015f4f0887e88799c8be14aef10468d2e7c8810d46dc6666eccaed8c6c","prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","received_at":"2026-11-25T14:00:00.123456789Z","duplicate":false`
	const entry = `{"curr_hash":"8bb0ef015f4f0887e88799c8be14aef10468d2e7c8810d46dc6666eccaed8c6c","did":"paid","id":"ex0","log_index":0,"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","received_at":"2026-01-02T03:04:05Z","tenant":"acme","this":"invoice:7","when":"2026-01-02T03:04:05Z","who":"alice"}`
	for _, tc := range []struct {
		schema, value string
		ok            bool
	}{
		{"Span", `{"tenant":"acme","who":"alice","did":"paid","this":"invoice:7","when":"2026-01-02T03:04:05Z"}`, true},
		{"Span", `{"tenant_id":"acme","who":"alice","did":"paid","this":"invoice:7","at":"2026-01-02T03:04:05+02:00"}`, true},
		{"Span", `{"tenant":"acme","entity_type":"order","who":"alice","this":"o:1","when":"2026-01-02T03:04:05Z"}`, true},
		{"Span", `{"tenant":"acme","who":"alice","this":"invoice:7","when":"2026-01-02T03:04:05Z"}`, false},                                              // did missing for a span
		{"Span", `{"tenant":"acme","who":"alice","did":"","this":"invoice:7","when":"2026-01-02T03:04:05Z"}`, false},                                     // did empty for a span
		{"Span", `{"tenant":"acme","tenant_id":"acme","who":"a","did":"d","this":"x","when":"2026-01-02T03:04:05Z"}`, false},                             // a field and its alias
		{"Span", `{"tenant":"acme","who":"a","did":"d","this":"x","when":"2026-01-02T03:04:05Z","log_index":3}`, false},                                  // server field
		{"Span", `{"tenant":"acme","who":"a","did":"d","this":"x","when":"2026-01-02T03:04:05Z","colour":"red"}`, false},                                 // unknown field
		{"Span", `{"tenant":"Acme","who":"a","did":"d","this":"x","when":"2026-01-02T03:04:05Z"}`, false},                                                // bad tenant
		{"Span", `{"tenant":"acme","who":"a","did":"d","this":"x","when":"yesterday"}`, false},                                                           // bad time
		{"Span", `{"tenant":"acme","who":"a","did":"d","this":"x","when":"2026-01-02T03:04:05Z","public_key":"` + strings.Repeat("a", 64) + `"}`, false}, // key without signature
		{"SpanEntry", entry, true},
		{"SpanEntry", strings.Replace(entry, `"log_index":0,`, "", 1), false},
		{"AppendResult", `{` + result + `}`, true},
		{"AppendResult", `{` + result + `,"receipt":` + receipt + `}`, true},
		{"AppendResult", `{` + result + `,"receipt":` + strings.Replace(receipt, `"op":"ledger.append"`, `"op":"other"`, 1) + `}`, false},
		{"IngestLine", `{"line":1,"ok":true,` + result + `,"receipt":` + receipt + `}`, true},
		{"IngestLine", `{"line":2,"ok":false,"error":{"type":"https://logline.dev/problems/invalid-field","title":"Invalid field","status":400,"detail":"when: bad","pointer":"/when","code":"invalid_field","line":2}}`, true},
		{"IngestLine", `{"summary":{"lines":2,"accepted":1,"duplicates":0,"rejected":1}}`, true},
		{"IngestLine", `{"line":2,"ok":true,"error":{"type":"x","title":"x","status":400,"code":"x"}}`, false},
		{"Problem", `{"type":"https://logline.dev/problems/invalid-parameter","title":"Invalid parameter","status":400,"detail":"since: bad","code":"invalid_parameter","parameter":"since"}`, true},
		{"Problem", `{"title":"x","status":400,"code":"x"}`, false},
		{"QuotaProblem", `{"type":"https://logline.dev/problems/too-many-requests","title":"Too Many Requests","status":429,"detail":"…","code":"too_many_requests","dimension":"requests","scope":"tenant","retry_after_ms":473}`, true},
		{"QuotaProblem", `{"type":"https://logline.dev/problems/too-many-requests","title":"Too Many Requests","status":429,"code":"too_many_requests","dimension":"hours","retry_after_ms":1}`, false},
		{"QueryPage", `{"spans":[` + entry + `],"next_cursor":"abc"}`, true},
		{"QueryPage", `{"spans":[]}`, true},
		{"InclusionProof", `{"index":1,"size":3,"leaf_hash":"uQqOh4jWdhz/TKphJSybuzpUxsvSewhSmg93WzxQVsc=","hashes":["AKpLmJ0ckAbjbj0B+bFv3K8D608p0RIGnk+pERoh5kI=","OdkyK5MlyntcMFJDZpVQ7ib3HvoPp9LCQX8YRJTDUes="]}`, true},
		{"InclusionProof", `{"index":1,"size":3,"leaf_hash":"not base64","hashes":[]}`, false},
		{"ConsistencyProof", `{"from":1,"to":3,"hashes":["uQqOh4jWdhz/TKphJSybuzpUxsvSewhSmg93WzxQVsc="]}`, true},
		{"ExportRequest", `{"tenant":"acme","since":"2026-01-01T00:00:00Z","until":null}`, true},
		{"ExportRequest", `{}`, true},
		{"ExportRequest", `{"tenant":"acme","from":"2026-01-01T00:00:00Z"}`, false},
		{"ExportCreated", `{"id":"01JDX3V5Q2W6HMSAF2C8T4N9PZ","href":"/exports/01JDX3V5Q2W6HMSAF2C8T4N9PZ","bytes":4363442,"entries":2952,"checkpoint_size":8577}`, true},
		{"Usage", `{"tenants":{"acme":{"ingest_spans_count":1,"derived_spans_count":0,"exports_gb":0,"ws_minutes":0}}}`, true},
		{"JWKS", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"8FwdjRLNJqcp_K8b9R-DQo4P0kIMqcaAh0pN5HpMx7o","kid":"llst-20261125-3ca928ae","alg":"EdDSA","use":"sig"}]}`, true},
		{"TokenRequest", `{"grant_type":"urn:ietf:params:oauth:grant-type:jwt-bearer","assertion":"eyJ.eyJ.sig"}`, true},
		{"TokenRequest", `{"grant_type":"client_credentials","assertion":"eyJ.eyJ.sig"}`, false},
		{"TokenResponse", `{"access_token":"eyJ…","token_type":"Bearer","expires_in":900}`, true},
		{"OAuthError", `{"error":"invalid_grant","error_description":"assertion already used"}`, true},
		{"LoginResult", `{"llid":"llid_ofes4wn2gwimvhytqyc7ga2pawojekwr","email":"ada@example.com","tokens":[{"tenant":"acme","roles":["reader"],"access_token":"eyJ…","token_type":"Bearer","expires_in":899}]}`, true},
	} {
		err := validate(t, doc, tc.schema, tc.value)
		if (err == nil) != tc.ok {
			t.Errorf("%s %s: valid = %v (%v), want %v", tc.schema, tc.value, err == nil, err, tc.ok)
		}
	}
}

// TestOpenAPIEntitySchemas: Span_<Name> follows the fields (nested data
// paths, every type, required parents), and the ingest body picks the
// entity schema by entity_type.
func TestOpenAPIEntitySchemas(t *testing.T) {
	doc, _ := load(t, Options{Schemas: testSchemas()})
	for _, name := range []string{"Span_order", "Span_invoice.v2"} {
		if doc.Components.Schemas[name] == nil {
			t.Fatalf("no component %s", name)
		}
	}
	body := doc.Paths.Find("/ingest").Post.RequestBody.Value.Content.Get("application/json").Schema
	if body.Ref != "#/components/schemas/SpanInput" {
		t.Fatalf("ingest body schema %q, want SpanInput", body.Ref)
	}
	var alts []string
	for _, a := range doc.Components.Schemas["SpanInput"].Value.OneOf {
		alts = append(alts, a.Ref)
	}
	if want := []string{"#/components/schemas/Span_order", "#/components/schemas/Span_invoice.v2", ""}; !slices.Equal(alts, want) {
		t.Errorf("SpanInput.oneOf = %q, want %q", alts, want)
	}
	order := doc.Components.Schemas["Span_order"].Value.AllOf[1].Value
	if want := []string{"entity_type", "who", "data"}; !slices.Equal(order.Required, want) {
		t.Errorf("Span_order required = %v, want %v (an allowed metadata.source does not make metadata required)", order.Required, want)
	}
	data := order.Properties["data"].Value
	if want := []string{"total", "items", "customer"}; !slices.Equal(data.Required, want) {
		t.Errorf("data required = %v, want %v", data.Required, want)
	}
	customer := data.Properties["customer"].Value
	if !slices.Equal(customer.Required, []string{"id"}) || !customer.Properties["vip"].Value.Type.Is("boolean") {
		t.Errorf("data.customer = required %v, vip %v", customer.Required, customer.Properties["vip"].Value.Type)
	}
	types := map[string]string{"total": "number", "items": "array", "quantity": "integer", "placed_at": "string", "extra": "object"}
	for p, want := range types {
		if got := data.Properties[p].Value.Type; got == nil || !got.Is(want) {
			t.Errorf("data.%s type %v, want %s", p, got, want)
		}
	}
	if f := data.Properties["placed_at"].Value.Format; f != "date-time" {
		t.Errorf("rfc3339 field format %q, want date-time", f)
	}
	if n := data.Properties["note"].Value; n.Type != nil && len(*n.Type) > 0 {
		t.Errorf("untyped field has type %v", *n.Type)
	}

	const base = `"tenant":"acme","who":"alice","this":"o:1","when":"2026-01-02T03:04:05Z"`
	okData := `"data":{"total":12.5,"items":[1],"customer":{"id":"c1","vip":true},"quantity":2,"placed_at":"2026-01-02T03:04:05Z","extra":{},"note":null}`
	for _, tc := range []struct {
		name, schema, value string
		ok                  bool
	}{
		{"order", "Span_order", `{` + base + `,"entity_type":"order",` + okData + `}`, true},
		{"order in the ingest body", "SpanInput", `{` + base + `,"entity_type":"order",` + okData + `}`, true},
		{"order without data.total", "SpanInput", `{` + base + `,"entity_type":"order","data":{"items":[],"customer":{"id":"c"}}}`, false},
		{"order without data.customer.id", "SpanInput", `{` + base + `,"entity_type":"order","data":{"total":1,"items":[],"customer":{}}}`, false},
		{"order with a string total", "SpanInput", `{` + base + `,"entity_type":"order","data":{"total":"1","items":[],"customer":{"id":"c"}}}`, false},
		{"order with a fractional quantity", "SpanInput", `{` + base + `,"entity_type":"order","data":{"total":1,"quantity":1.5,"items":[],"customer":{"id":"c"}}}`, false},
		{"order with a vip that is not a bool", "SpanInput", `{` + base + `,"entity_type":"order","data":{"total":1,"items":[],"customer":{"id":"c","vip":"yes"}}}`, false},
		{"order with a bad placed_at", "SpanInput", `{` + base + `,"entity_type":"order","data":{"total":1,"items":[],"customer":{"id":"c"},"placed_at":"monday"}}`, false},
		{"order without data", "SpanInput", `{` + base + `,"entity_type":"order"}`, false},
		{"order with metadata.source a number", "SpanInput", `{` + base + `,"entity_type":"order","metadata":{"source":1},` + okData + `}`, false},
		{"invoice", "SpanInput", `{` + base + `,"entity_type":"billing:invoice","data":{"amount":100,"currency":"EUR"}}`, true},
		{"invoice without amount", "SpanInput", `{` + base + `,"entity_type":"billing:invoice","data":{}}`, false},
		{"a plain span", "SpanInput", `{` + base + `,"did":"paid"}`, true},
		{"another entity type", "SpanInput", `{` + base + `,"entity_type":"note","data":{"anything":1}}`, true},
		{"a span that is not a span", "SpanInput", `{"who":"alice"}`, false},
		{"Span_order for an invoice", "Span_order", `{` + base + `,"entity_type":"billing:invoice",` + okData + `}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validate(t, doc, tc.schema, tc.value)
			if (err == nil) != tc.ok {
				t.Errorf("valid = %v (%v), want %v", err == nil, err, tc.ok)
			}
		})
	}

	// A schema of entity type span also applies to spans without one.
	doc, _ = load(t, Options{Schemas: []EntitySchema{{Name: "plain", EntityType: "span", Fields: []Field{{Path: "data.x", Type: "string", Required: true}}}}})
	for _, tc := range []struct {
		value string
		ok    bool
	}{
		{`{` + base + `,"did":"d","data":{"x":"y"}}`, true},
		{`{` + base + `,"did":"d"}`, false},
		{`{` + base + `,"entity_type":"span","did":"d"}`, false},
		{`{` + base + `,"entity_type":"other"}`, true},
	} {
		if err := validate(t, doc, "SpanInput", tc.value); (err == nil) != tc.ok {
			t.Errorf("schema of type span, %s: valid = %v (%v), want %v", tc.value, err == nil, err, tc.ok)
		}
	}
}

func TestOpenAPIRefusesBadSchemas(t *testing.T) {
	ok := EntitySchema{Name: "a", EntityType: "a"}
	with := func(fs ...Field) []EntitySchema {
		s := ok
		s.Fields = fs
		return []EntitySchema{s}
	}
	for _, tc := range []struct {
		name          string
		schemas       []EntitySchema
		want          string
		schema, field int // the SchemaError's indices
	}{
		{"empty name", []EntitySchema{{EntityType: "a"}}, "name", 0, -1},
		{"name with a slash", []EntitySchema{{Name: "a/b", EntityType: "a"}}, "name", 0, -1},
		{"no entity type", []EntitySchema{{Name: "a"}}, "entity_type", 0, -1},
		{"upper-case entity type", []EntitySchema{{Name: "a", EntityType: "Order"}}, "entity_type", 0, -1},
		{"two of one name", []EntitySchema{ok, {Name: "a", EntityType: "b"}}, "declared twice", 1, -1},
		{"two of one entity type", []EntitySchema{ok, {Name: "b", EntityType: "a"}}, "both describe", 1, -1},
		{"unknown type", with(Field{Path: "data.x", Type: "float"}), "type", 0, 0},
		{"empty path", with(Field{Path: ""}), "empty member", 0, 0},
		{"empty member", with(Field{Path: "data..x"}), "empty member", 0, 0},
		{"trailing dot", with(Field{Path: "data."}), "empty member", 0, 0},
		{"unknown top-level member", with(Field{Path: "colour"}), "not a span member", 0, 0},
		{"server field", with(Field{Path: "log_index"}), "not a span member", 0, 0},
		{"alias", with(Field{Path: "tenant_id"}), "not a span member", 0, 0},
		{"path into a string", with(Field{Path: "who.first"}), "not an object", 0, 0},
		{"data as a string", with(Field{Path: "data", Type: "string"}), "always an object", 0, 0},
		{"members of a number", with(Field{Path: "data.total", Type: "number"}, Field{Path: "data.total.cents"}), "no members", 0, 1},
		{"a number with members", with(Field{Path: "data.total.cents"}, Field{Path: "data.total", Type: "number"}), "has members", 0, 1},
		{"invalid UTF-8", with(Field{Path: "data.\xff"}), "not valid UTF-8", 0, 0},
		{"declared twice", with(Field{Path: "data.x", Type: "number"}, Field{Path: "data.x", Type: "string"}), "declared twice", 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(Options{Schemas: tc.schemas})
			if !errors.Is(err, ErrInvalidSchema) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Build = %v, want ErrInvalidSchema mentioning %q", err, tc.want)
			}
			var se *SchemaError
			if !errors.As(err, &se) || se.Schema != tc.schema || se.Field != tc.field {
				t.Errorf("Build = %#v, want a *SchemaError at schema %d, field %d", err, tc.schema, tc.field)
			}
			if cerr := CheckSchemas(tc.schemas); cerr == nil || !strings.HasSuffix(err.Error(), cerr.Error()) {
				t.Errorf("CheckSchemas = %v, want the error of Build (%v)", cerr, err)
			}
		})
	}
	if _, err := Build(Options{ServerURL: "ftp://x"}); err == nil {
		t.Error("Build accepted an ftp server URL")
	}
	if err := CheckSchemas(testSchemas()); err != nil {
		t.Errorf("CheckSchemas(testSchemas()) = %v", err)
	}
	// The same field twice with the same type is one constraint.
	if _, err := Build(Options{Schemas: with(Field{Path: "data.x", Type: "number"}, Field{Path: "data.x", Type: "number", Required: true})}); err != nil {
		t.Errorf("a field repeated with the same type: %v", err)
	}
}

// FuzzEntitySchema: whatever the schema's fields, Build never panics,
// and what it accepts is a valid OpenAPI 3.1 document.
func FuzzEntitySchema(f *testing.F) {
	f.Add("order", "order", "data.total", "number", true, "data.customer.id", "string")
	f.Add("x", "span", "who", "", false, "metadata.a.b.c", "rfc3339")
	f.Add("a.b", "a:b", "data", "object", true, "data.x", "bool")
	f.Fuzz(func(t *testing.T, name, entityType, p1, t1 string, r1 bool, p2, t2 string) {
		opts := Options{Schemas: []EntitySchema{{Name: name, EntityType: entityType, Fields: []Field{{Path: p1, Type: t1, Required: r1}, {Path: p2, Type: t2}}}}}
		b, err := Build(opts)
		if err != nil {
			if !errors.Is(err, ErrInvalidSchema) {
				t.Fatalf("Build error %v does not wrap ErrInvalidSchema", err)
			}
			return
		}
		var n yaml.Node
		if err := yaml.Unmarshal(b, &n); err != nil {
			t.Fatalf("Build wrote YAML that does not parse: %v", err)
		}
		doc, err := openapi3.NewLoader().LoadFromData(b)
		if err != nil {
			t.Fatalf("load: %v", err)
		}
		if err := doc.Validate(context.Background()); err != nil {
			t.Fatalf("validate: %v\nschema %q/%q fields %q %q, %q %q", err, name, entityType, p1, t1, p2, t2)
		}
	})
}
