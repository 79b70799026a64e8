package openapi

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Version is the OpenAPI version of the document.
const Version = "3.1.0"

// Defaults for the zero values of Options.
const (
	DefaultTitle     = "LogLine HTTP API"
	DefaultVersion   = "devel"
	DefaultServerURL = "http://127.0.0.1:8420"
)

// Options say what the document is about. The zero value describes a
// server at DefaultServerURL without entity schemas.
type Options struct {
	// Title is info.title (default DefaultTitle).
	Title string
	// Version is info.version, the API's version: normally the logline
	// binary's (default DefaultVersion).
	Version string
	// ServerURL is the one entry of servers: the server's public URL
	// (default DefaultServerURL).
	ServerURL string
	// Schemas are the tenant's entity schemas (.lll schema blocks); each
	// becomes the component Span_<Name> and an alternative of the ingest
	// body. Build sorts nothing: give them in a stable order.
	Schemas []EntitySchema
}

// Build returns the OpenAPI 3.1.0 document, as YAML, of every built-in
// route and of opts.Schemas. The same Options always give the same bytes.
// Errors wrap ErrInvalidSchema for a bad entity schema.
func Build(opts Options) ([]byte, error) {
	if opts.Title == "" {
		opts.Title = DefaultTitle
	}
	if opts.Version == "" {
		opts.Version = DefaultVersion
	}
	if opts.ServerURL == "" {
		opts.ServerURL = DefaultServerURL
	}
	if u, err := url.Parse(opts.ServerURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("openapi: server URL %q: want http(s)://host[:port][/path]", opts.ServerURL)
	}
	if err := checkEntitySchemas(opts.Schemas); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	doc := m{
		"openapi", Version,
		"info", m{
			"title", opts.Title,
			"version", opts.Version,
			"summary", "An append-only ledger of signed spans.",
			"description", infoDescription,
		},
		"servers", l{m{"url", opts.ServerURL}},
		"tags", tags(),
		"paths", paths(),
		"components", m{
			"schemas", schemas(opts.Schemas),
			"responses", responses(),
			"parameters", parameters(),
			"headers", headers(),
			"securitySchemes", securitySchemes(),
		},
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(toNode(doc)); err != nil {
		return nil, fmt.Errorf("openapi: encode: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("openapi: encode: %w", err)
	}
	return buf.Bytes(), nil
}

const infoDescription = `LogLine's HTTP API: append signed spans, read them back, follow the log,
verify it (signed checkpoints, Merkle proofs), export a tenant, and get
tokens. The contract in words is docs/http-api.md; identity and access
are docs/auth.md.

Every operation with an x-logline-capability needs
"Authorization: Bearer <LLST>" whose grants cover that capability, and
acts in the token's tenant only; the others are public. Every error is an
RFC 9457 application/problem+json with a machine-readable code (POST
/auth/token answers RFC 6749 errors instead). Every GET also answers
HEAD, with the same requirement. An unknown path is 404 unknown_route; a
known path with another method is 405 method_not_allowed with an Allow
header.
`

func tags() l {
	t := func(name, desc string) m { return m{"name", name, "description", desc} }
	return l{
		t("append", "Append spans (one JSON span or an NDJSON stream); every result carries a receipt."),
		t("read", "Read stored spans by id or by query."),
		t("stream", "Follow the log as NDJSON or server-sent events."),
		t("verification", "Signed checkpoints, the log's keys and Merkle proofs."),
		t("exports", "Signed tenant exports that verify offline."),
		t("trajectories", "Derived structure: trajectories, their quality scores and diamond candidates, and the data plane's dry run."),
		t("usage", "Usage counters and Prometheus metrics."),
		t("identity", "Token keys, OpenID Connect login and service-account token exchange."),
		t("probes", "Liveness and readiness."),
		t("meta", "This document."),
	}
}

// paths groups the operations by path, in the order operations lists
// them, each with its security and capability.
func paths() m {
	out := m{}
	index := map[string]int{} // path → index of its value in out
	for _, o := range operations() {
		op := append(m{}, o.op...)
		if o.capability != "" {
			op = append(op,
				"security", l{m{"bearerAuth", l{}}},
				"x-logline-capability", string(o.capability))
		}
		method := strings.ToLower(o.method)
		if i, ok := index[o.path]; ok {
			out[i] = append(out[i].(m), method, op)
			continue
		}
		index[o.path] = len(out) + 1
		out = append(out, o.path, m{method, op})
	}
	return out
}
