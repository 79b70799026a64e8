package cli

import (
	"sync"

	"github.com/spf13/cobra"

	"github.com/logline/logline/internal/durable"
	"github.com/logline/logline/internal/openapi"
)

type openAPIOptions struct {
	out       string
	serverURL string
}

func (a *app) newOpenAPI() *cobra.Command {
	var o openAPIOptions
	cmd := &cobra.Command{
		Use:   "openapi [--out FILE] [--server-url URL]",
		Short: "Print the OpenAPI 3.1 document of the HTTP API",
		Long: `Print the OpenAPI 3.1 document (YAML) of LogLine's HTTP API: every route
with its parameters, bodies, answers and errors (application/problem+json),
the bearer-token security of every route that needs one, and the
capability it needs (x-logline-capability). A running server serves the
same document at GET /openapi.yaml, with its own URL in servers.

Entity schemas declared in .lll schema blocks will be added as
Span_<name> component schemas (not loaded yet).`,
		Example: `  logline openapi > openapi.yaml
  logline openapi --server-url https://logline.example.com --out openapi.yaml`,
		Args: noArgs,
		RunE: run(func(cmd *cobra.Command, _ []string) error {
			return a.openAPI(o)
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&o.out, "out", "o", "-", "file to write the document to, - for standard output")
	f.StringVar(&o.serverURL, "server-url", openapi.DefaultServerURL, "the server's public URL, for the document's servers entry")
	_ = cmd.MarkFlagFilename("out", "yaml", "yml")
	return cmd
}

func (a *app) openAPI(o openAPIOptions) error {
	// The command reads no data directory yet: entity schemas come from
	// the tenants' programs once .lll schema blocks are loaded.
	schemas, err := entitySchemas("")
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

// entitySchemas is the hook for the entity schemas of the OpenAPI
// document: the schema blocks of the .lll programs under the data
// directory data (DATA/cfg/tenants/<tenant>/*.lll), converted to
// openapi.EntitySchema. It returns none until the loader of issue 6
// provides them.
func entitySchemas(data string) ([]openapi.EntitySchema, error) {
	return nil, nil
}

// openAPIDocument is serve's gateway.Config.OpenAPI: the document of the
// server at serverURL, built on first request and kept.
func (a *app) openAPIDocument(serverURL, data string) func() ([]byte, error) {
	return sync.OnceValues(func() ([]byte, error) {
		schemas, err := entitySchemas(data)
		if err != nil {
			return nil, err
		}
		return openapi.Build(openapi.Options{Version: a.version, ServerURL: serverURL, Schemas: schemas})
	})
}
