package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/logline/logline/internal/durable"
	"github.com/logline/logline/internal/lll/check"
	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/lll/syntax"
	"github.com/logline/logline/internal/openapi"
	"github.com/logline/logline/internal/programs"
	"github.com/logline/logline/internal/span"
)

type openAPIOptions struct {
	out       string
	serverURL string
	data      string
	tenant    string
}

func (a *app) newOpenAPI() *cobra.Command {
	var o openAPIOptions
	cmd := &cobra.Command{
		Use:   "openapi [FILE.lll... | --tenant T [--data DIR]] [--out FILE] [--server-url URL]",
		Short: "Print the OpenAPI 3.1 document of the HTTP API",
		Long: `Print the OpenAPI 3.1 document (YAML) of LogLine's HTTP API: every route
with its parameters, bodies, answers and errors (application/problem+json),
the bearer-token security of every route that needs one, and the
capability it needs (x-logline-capability). A running server serves the
same document at GET /openapi.yaml, with its own URL in servers.

Entity schemas, the .lll schema blocks, become component schemas
Span_<name> (the span with the block's required and allowed fields) and
alternatives of the ingest body SpanInput:

  --tenant T        those of tenant T's programs in force, loaded from
                    DATA/cfg/tenants/T/ as the server loads them (.lll
                    sources and YAML policy files compiled together, or
                    one signed .lllb bundle trusted by
                    DATA/cfg/trusted-bundle-keys): the document the server
                    serves to T's tokens. Programs the server would refuse
                    are an error naming the reason. A tenant without
                    programs runs canonical_contract_v1, which has no
                    schemas. --data is read with --tenant only.
  FILE.lll...       those of these programs (and YAML policy files)
                    compiled together (- reads standard input); errors
                    are printed with a caret.

Without either the document holds the built-in routes only, as the
server serves it to callers without a token. A schema block the document
cannot express (two blocks of one entity_type, "data" declared as a
string, a member declared as a number and given members) is an error
naming the block or rule (exit 2).`,
		Example: `  logline openapi > openapi.yaml
  logline openapi --server-url https://logline.example.com --out openapi.yaml
  logline openapi --data /var/lib/logline --tenant acme
  logline openapi rules.lll shapes.lll`,
		RunE: run(func(cmd *cobra.Command, args []string) error {
			return a.openAPI(cmd.Context(), o, args)
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&o.out, "out", "o", "-", "file to write the document to, - for standard output")
	f.StringVar(&o.serverURL, "server-url", openapi.DefaultServerURL, "the server's public URL, for the document's servers entry")
	f.StringVar(&o.data, "data", DefaultData, "data directory of the server, read with --tenant only")
	f.StringVar(&o.tenant, "tenant", "", "include the entity schemas of this tenant's programs in DATA/cfg/tenants/T/")
	_ = cmd.MarkFlagFilename("out", "yaml", "yml")
	_ = cmd.MarkFlagDirname("data")
	return cmd
}

func (a *app) openAPI(ctx context.Context, o openAPIOptions, args []string) error {
	var (
		schemas []openapi.EntitySchema
		err     error
	)
	switch {
	case len(args) > 0 && o.tenant != "":
		return cmdlineErrorf("openapi takes FILE.lll arguments or --tenant T, not both")
	case len(args) > 0:
		schemas, err = a.fileEntitySchemas(args)
	case o.tenant != "":
		schemas, err = a.tenantEntitySchemas(ctx, o.data, o.tenant)
	}
	if err != nil {
		return err
	}
	doc, err := openapi.Build(openapi.Options{Version: a.version, ServerURL: o.serverURL, Schemas: schemas})
	if err != nil {
		return usageErrorf("openapi: %v", err)
	}
	if o.out == "-" || o.out == "" {
		if _, err := a.io.Out.Write(doc); err != nil {
			return ioErrorf("openapi: %w", err)
		}
		return nil
	}
	if err := durable.WriteFile(o.out, doc, 0o644); err != nil {
		return ioErrorf("openapi: %w", err)
	}
	return nil
}

// fileEntitySchemas compiles the .lll files named by args as one program
// and converts its schema blocks. Errors, of the program or of a schema
// block the document cannot express, are printed with a caret.
func (a *app) fileEntitySchemas(args []string) ([]openapi.EntitySchema, error) {
	files, err := readLLLFiles(a, args)
	if err != nil {
		return nil, err
	}
	prog, err := compileSources(a.io.Err, files)
	if err != nil {
		return nil, err
	}
	schemas, err := entitySchemasOf(prog)
	if err != nil {
		var se *syntax.Error
		if !errors.As(err, &se) {
			return nil, err
		}
		for _, f := range files {
			if f.name == se.File {
				se.Pos.Offset = lineColOffset(f.src, se.Pos.Line, se.Pos.Col)
			}
		}
		printLLLErrors(a.io.Err, syntax.ErrorList{se}, files)
		return nil, silentFail(ExitUsage)
	}
	return schemas, nil
}

// tenantEntitySchemas loads tenant's programs from the data directory
// data exactly as serve does and converts the schema blocks of the
// program in force. Programs serve would refuse are an error.
func (a *app) tenantEntitySchemas(ctx context.Context, data, tenant string) ([]openapi.EntitySchema, error) {
	if !span.ValidTenant(tenant) {
		return nil, usageErrorf("--tenant %q: want [a-z0-9_-]{1,64}", tenant)
	}
	if st, err := os.Stat(data); err != nil {
		return nil, usageErrorf("--data: %v", err)
	} else if !st.IsDir() {
		return nil, usageErrorf("--data %s: not a directory", data)
	}
	// Feature flags change how a program runs, not its schema blocks:
	// the tenant configuration is not needed.
	set, err := programs.Open(ctx, programs.Config{DataDir: data, ValidTenant: span.ValidTenant, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, ioErrorf("tenant programs: %w", err)
	}
	found := false
	for _, st := range set.Status() {
		if st.Tenant != tenant {
			continue
		}
		found = true
		if st.Err != "" {
			return nil, usageErrorf("tenant %s: its programs in %s are refused: %s", tenant, filepath.Join(data, "cfg", "tenants", tenant), st.Err)
		}
	}
	if !found {
		fmt.Fprintf(a.io.Err, "logline openapi: tenant %s has no programs in %s: it runs the default %s, which declares no entity schemas\n",
			tenant, filepath.Join(data, "cfg", "tenants", tenant), check.CanonicalContractName)
	}
	schemas, err := entitySchemasOf(set.Program(tenant))
	if err != nil {
		return nil, usageErrorf("tenant %s: %v", tenant, err)
	}
	return schemas, nil
}

// entitySchemasOf converts the schema blocks of p into the entity schemas
// of the OpenAPI document, in source order: the block's name, entity_type
// (the checker requires it) and description, and its require/allow field
// rules with their dotted paths and types. A block the document cannot
// express (openapi.CheckSchemas refuses it, or a path of a decoded bundle
// has an array step or a member name holding a dot) is a *syntax.Error at
// the block or the rule, wrapping openapi.ErrInvalidSchema.
func entitySchemasOf(p *ir.Program) ([]openapi.EntitySchema, error) {
	out := make([]openapi.EntitySchema, 0, len(p.Schemas))
	for _, s := range p.Schemas {
		es := openapi.EntitySchema{Name: s.Name, EntityType: s.EntityType, Description: s.Description}
		for _, r := range s.Fields {
			path, err := dottedPath(p, r.Path)
			if err != nil {
				return nil, positioned(p, r.Pos, fmt.Errorf("%w: schema %s: %s: %v", openapi.ErrInvalidSchema, s.Name, r.Text, err))
			}
			es.Fields = append(es.Fields, openapi.Field{Path: path, Type: r.Type.String(), Required: r.Required})
		}
		out = append(out, es)
	}
	if err := openapi.CheckSchemas(out); err != nil {
		var se *openapi.SchemaError
		if !errors.As(err, &se) {
			return nil, err
		}
		s := p.Schemas[se.Schema]
		pos := s.Pos
		if se.Field >= 0 {
			pos = s.Fields[se.Field].Pos
		}
		return nil, positioned(p, pos, se)
	}
	return out, nil
}

// dottedPath writes the path of a field rule as openapi.Field.Path does:
// the span member, then member names joined by dots.
func dottedPath(p *ir.Program, i int32) (string, error) {
	if i < 0 || int(i) >= len(p.Paths) {
		return "", fmt.Errorf("path %d does not exist", i)
	}
	path := p.Paths[i]
	parts := []string{path.Field}
	for _, st := range path.Steps {
		switch {
		case st.Index >= 0:
			return "", fmt.Errorf("%s steps into an array element; a schema names object members only", path)
		case st.Key == "" || strings.Contains(st.Key, "."):
			return "", fmt.Errorf("member %q of %s cannot be written in a dotted path", st.Key, path)
		}
		parts = append(parts, st.Key)
	}
	return strings.Join(parts, "."), nil
}

// positionedError is an error at a source position: a *syntax.Error
// (errors.As finds it, to print it with a caret) that also unwraps to its
// cause, so errors.Is(err, openapi.ErrInvalidSchema) holds.
type positionedError struct {
	at    *syntax.Error
	cause error
}

func (e *positionedError) Error() string   { return e.at.Error() }
func (e *positionedError) Unwrap() []error { return []error{e.at, e.cause} }

// positioned is err at pos of p: "file:line:col: err".
func positioned(p *ir.Program, pos ir.Pos, err error) error {
	e := &syntax.Error{Msg: err.Error()}
	if pos.IsValid() {
		if int(pos.File) < len(p.Files) {
			e.File = p.Files[pos.File]
		}
		e.Pos = syntax.Pos{Line: int(pos.Line), Col: int(pos.Col)}
	}
	return &positionedError{at: e, cause: err}
}

// lineColOffset is the byte offset of line:col (1-based) in src, or -1.
func lineColOffset(src []byte, line, col int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(src[off:], '\n')
		if i < 0 {
			return -1
		}
		off += i + 1
	}
	if off+col-1 > len(src) {
		return -1
	}
	return off + col - 1
}

// openAPIDocs is serve's gateway.Config.OpenAPI: the document of the
// server at serverURL, built-in for anonymous callers, and for a
// tenant's tokens with the entity schemas of the tenant's program in
// force. Documents are built on first request and kept, per tenant,
// while the tenant's program stays the same (a hot reload gives a new
// *ir.Program, so the next request rebuilds).
type openAPIDocs struct {
	version, serverURL string
	programs           *programs.Set
	builtin            func() ([]byte, error)

	mu       sync.Mutex
	byTenant map[string]tenantDoc
}

// tenantDoc is a tenant's document and the program it was built from.
type tenantDoc struct {
	prog *ir.Program
	doc  []byte
	err  error
}

func newOpenAPIDocs(version, serverURL string, set *programs.Set) *openAPIDocs {
	d := &openAPIDocs{version: version, serverURL: serverURL, programs: set, byTenant: map[string]tenantDoc{}}
	d.builtin = sync.OnceValues(func() ([]byte, error) {
		return openapi.Build(openapi.Options{Version: version, ServerURL: serverURL})
	})
	return d
}

// document returns the document for tenant ("" for anonymous callers).
// Safe for concurrent use: builds run outside the lock, so a request never
// waits for another tenant's build (two concurrent first requests of one
// tenant may both build; either result is kept).
func (d *openAPIDocs) document(tenant string) ([]byte, error) {
	if tenant == "" || d.programs == nil {
		return d.builtin()
	}
	prog := d.programs.Program(tenant)
	if len(prog.Schemas) == 0 {
		d.mu.Lock()
		delete(d.byTenant, tenant) // it may have had schemas before a reload
		d.mu.Unlock()
		return d.builtin()
	}
	d.mu.Lock()
	e, ok := d.byTenant[tenant]
	d.mu.Unlock()
	if ok && e.prog == prog {
		return e.doc, e.err
	}
	e = tenantDoc{prog: prog}
	schemas, err := entitySchemasOf(prog)
	if err == nil {
		e.doc, err = openapi.Build(openapi.Options{Version: d.version, ServerURL: d.serverURL, Schemas: schemas})
	}
	if err != nil {
		e.err = fmt.Errorf("tenant %s's entity schemas: %w", tenant, err)
	}
	d.mu.Lock()
	d.byTenant[tenant] = e
	d.mu.Unlock()
	return e.doc, e.err
}
