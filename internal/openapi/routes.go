package openapi

import (
	"slices"
	"strconv"

	"github.com/logline/logline/internal/auth"
)

// operation is one route of the document: its ServeMux method and path,
// the capability a token must grant ("" for a public route) and the
// OpenAPI operation object without its security and capability, which
// Build adds from capability so the two cannot disagree.
type operation struct {
	method     string // upper case, as in a ServeMux pattern
	path       string
	capability auth.Capability
	op         m
}

// errorStatus gives the status of each shared error response (components/responses).
var errorStatus = map[string]int{
	"BadRequest": 400, "Unauthorized": 401, "Forbidden": 403, "NotFound": 404,
	"Conflict": 409, "PayloadTooLarge": 413, "UnsupportedMediaType": 415,
	"TooManyRequests": 429, "Internal": 500, "NotImplemented": 501, "Unavailable": 503,
}

// guarded are the errors of every route that needs a token.
var guarded = []string{"Unauthorized", "Forbidden", "TooManyRequests", "Internal"}

// status is one entry of an operation's responses.
type status struct {
	code int
	resp any
}

// answers builds a responses object: the given ones plus the named
// shared errors, ordered by status code.
func answers(ok []status, errs ...string) m {
	all := slices.Clone(ok)
	seen := map[int]bool{}
	for _, s := range ok {
		seen[s.code] = true
	}
	for _, e := range errs {
		code, known := errorStatus[e]
		if !known {
			panic("openapi: unknown shared response " + e)
		}
		if !seen[code] {
			seen[code] = true
			all = append(all, status{code, ref("responses", e)})
		}
	}
	slices.SortStableFunc(all, func(a, b status) int { return a.code - b.code })
	out := m{}
	for _, s := range all {
		out = append(out, strconv.Itoa(s.code), s.resp)
	}
	return out
}

// withGuard adds the errors of a guarded route to errs.
func withGuard(errs ...string) []string { return append(errs, guarded...) }

func param(ref string) m { return m{"$ref", "#/components/parameters/" + ref} }

func query(name, desc string, schema m) m {
	return m{"name", name, "in", "query", "description", desc, "schema", schema}
}

func header(name, desc string, schema m) m {
	return m{"name", name, "in", "header", "description", desc, "schema", schema}
}

func hdrs(names ...string) m {
	out := m{}
	for _, n := range names {
		out = append(out, n, ref("headers", n))
	}
	return out
}

func textPlain(desc string, example string) m {
	s := m{"type", "string"}
	if desc != "" {
		s = append(s, "description", desc)
	}
	c := m{"schema", s}
	if example != "" {
		c = append(c, "example", example)
	}
	return m{"text/plain; charset=utf-8", c}
}

func jsonOf(schema string) m { return m{"application/json", m{"schema", schemaRef(schema)}} }

// ndjsonLines is an NDJSON body whose lines follow the named schema.
// OpenAPI 3.1 has no way to say so (3.2's itemSchema does): the line
// schema is named in the description and in x-logline-line-schema.
func ndjsonLines(mediaType, line, desc string) m {
	return m{mediaType, m{
		"schema", m{"type", "string", "description", desc},
		"x-logline-line-schema", "#/components/schemas/" + line,
	}}
}

// ndjsonTypes are the content types an ingest takes as NDJSON.
var ndjsonTypes = []string{"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines"}

func operations() []operation {
	ingest := func(id, summary string) m {
		body := m{"application/json", m{"schema", schemaRef("SpanInput")}}
		for i, t := range ndjsonTypes {
			desc := "As application/x-ndjson."
			if i == 0 {
				desc = "One span per line (SpanInput), streamed with bounded memory. Lines end at \\n (CRLF works); blank lines are skipped but keep their number."
			}
			body = append(body, ndjsonLines(t, "SpanInput", desc)...)
		}
		return m{
			"operationId", id,
			"tags", l{"append"},
			"summary", summary,
			"description", "One span (application/json or no Content-Type) answers 201 with its result, or 200 with \"duplicate\":true when that exact span was already stored. NDJSON (any of the listed types) answers 200 with one result line per input line, in order, while the body is still being sent, then a summary line; read the answer while sending. While the tenant's data plane refuses ingest under load, an NDJSON body refused before anything of it was stored answers 429 with Retry-After as a whole; later, the refused lines get a per-line 429 and the summary counts them (refused). See docs/http-api.md#append.",
			"parameters", l{
				param("Tenant"),
				query("proof", "1/true: every receipt carries the inclusion proof of its entry.", m{"type", "string", "enum", l{"1", "true", "0", "false"}}),
				header("X-Idempotency-Key", "Spans without an id get one derived from (tenant, key, line number): a retried request stores nothing new and answers the original results.", m{"type", "string", "pattern", "^[A-Za-z0-9._:~-]{1,128}$"}),
			},
			"requestBody", m{"required", true, "content", body},
			"responses", answers([]status{
				{200, m{"description", "A duplicate single span (its original result), or the NDJSON answer.",
					"headers", hdrs("Location"),
					"content", append(jsonOf("AppendResult"), ndjsonLines("application/x-ndjson", "IngestLine", "One IngestLine per non-blank input line, then the summary line.")...)}},
				{201, m{"description", "The span was stored.", "headers", hdrs("Location"), "content", jsonOf("AppendResult")}},
			}, withGuard("BadRequest", "Forbidden", "Conflict", "PayloadTooLarge", "UnsupportedMediaType", "Unavailable")...),
		}
	}
	stream := func(id, summary string) m {
		return m{
			"operationId", id,
			"tags", l{"stream"},
			"summary", summary,
			"description", "Stored entries from cursor on, in log order, byte for byte (each line is a Merkle leaf). Without follow the answer ends at the current end of the log; with it the connection stays open. With Accept: text/event-stream the same entries come as server-sent events (id: log index, event: span, data: the entry; event: cutoff with {\"cursor\":N} when the client is cut off; \": heartbeat\" comments when idle). Resume with cursor = last log_index + 1 (or Last-Event-ID). See docs/http-api.md#stream.",
			"parameters", l{
				query("cursor", "The log index to start at (default 0).", m{"type", "integer", "minimum", 0, "default", 0}),
				param("Tenant"),
				query("follow", "Keep the connection open and send new entries as they are appended.", m{"type", "string", "enum", l{"1", "true", "yes", "on", "0", "false", "no", "off"}}),
				header("Last-Event-ID", "SSE only: resume after this log index (wins over cursor).", m{"type", "integer", "minimum", 0}),
			},
			"responses", answers([]status{{200, m{
				"description", "The entries; the trailer Logline-Next-Cursor says where to resume.",
				"headers", hdrs("Logline-Next-Cursor"),
				"content", append(ndjsonLines("application/x-ndjson", "SpanEntry", "One stored entry (SpanEntry) per line."),
					"text/event-stream", m{"schema", m{"type", "string", "description", "Server-sent events: event span (data: one SpanEntry) and event cutoff (data: {\"cursor\":N})."}}),
			}}}, withGuard("BadRequest", "NotFound", "Unavailable")...),
		}
	}
	treeHeaders := hdrs("Logline-Checkpoint-Size", "Logline-Checkpoint-Root")
	return []operation{
		{"POST", "/ingest", auth.LedgerAppend, ingest("ingest", "Append spans")},
		{"POST", "/api/spans", auth.LedgerAppend, ingest("appendSpans", "Append spans (alias of POST /ingest)")},
		{"GET", "/spans/{id}", auth.LedgerRead, m{
			"operationId", "getSpan",
			"tags", l{"read"},
			"summary", "Read one stored span",
			"description", "The stored entry, byte for byte. With a token the id is looked up in the token's tenant only.",
			"parameters", l{param("SpanID"), param("Tenant"), param("Seq")},
			"responses", answers([]status{{200, m{"description", "The stored entry.", "content", jsonOf("SpanEntry")}}},
				withGuard("BadRequest", "NotFound", "Conflict", "Unavailable")...),
		}},
		{"GET", "/spans", auth.LedgerRead, m{
			"operationId", "querySpans",
			"tags", l{"read"},
			"summary", "Query stored spans",
			"description", "One page of the tenant's entries matching every filter given (an empty value means no filter). Results are in log order when the query names this, trace_id or an entity_type other than span; otherwise, when it names since or until, in event-time order; otherwise in log order. See docs/http-api.md#read.",
			"parameters", l{
				param("Tenant"),
				query("this", "Only spans about this.", m{"type", "string"}),
				query("who", "Only spans by who.", m{"type", "string"}),
				query("did", "Only spans with this did.", m{"type", "string"}),
				query("entity_type", "Only spans of this entity type (span also matches spans that name none).", m{"type", "string"}),
				query("trace_id", "Only spans of this trace.", m{"type", "string"}),
				query("since", "when ≥ since (RFC 3339 with offset; percent-encode +).", m{"type", "string", "format", "date-time"}),
				query("until", "when < until (RFC 3339 with offset).", m{"type", "string", "format", "date-time"}),
				query("cursor", "next_cursor of the previous page, unchanged, with the same filters.", m{"type", "string"}),
				query("limit", "At most this many spans (default 100).", m{"type", "integer", "minimum", 1, "maximum", 1000, "default", 100}),
			},
			"responses", answers([]status{{200, m{"description", "One page.", "content", jsonOf("QueryPage")}}},
				withGuard("BadRequest", "NotFound", "Unavailable")...),
		}},
		{"GET", "/ledger/stream", auth.StreamRead, stream("streamLedger", "Follow the log")},
		{"GET", "/api/timeline/stream", auth.StreamRead, stream("streamTimeline", "Follow the log (alias of GET /ledger/stream)")},
		{"GET", "/checkpoint", auth.LedgerRead, m{
			"operationId", "getCheckpoint",
			"tags", l{"verification"},
			"summary", "The latest signed checkpoint",
			"description", "The C2SP tlog-checkpoint signed note of the log's latest tree head, exactly as signed (docs/checkpoints.md). 503 when the log has no signing key.",
			"responses", answers([]status{{200, m{
				"description", "The signed note.",
				"headers", append(slices.Clone(treeHeaders), hdrs("Cache-Control")...),
				"content", textPlain("A signed note: origin, tree size, root hash (base64), a blank line, signature lines.", "logline.example/ledger\n3\nwLBQUMpwOSrIZU/SmzgB+p0vEvB42ysHJaT9VVaPNXc=\n\n— logline.example/ledger lGovtdkb1TwXC/GwMDH+ZkX474SbLTkdjLdY6gBPrhEV8RBZxM5zviy2XTfgq7YXqDZVnyRhl8cE1kPsUZvYgG4qDAA=\n"),
			}}}, withGuard("NotImplemented", "Unavailable")...),
		}},
		{"GET", "/log/key", "", m{
			"operationId", "getLogKey",
			"tags", l{"verification"},
			"summary", "The log's public keys",
			"description", "The verifier keys (<origin>+<key id>+<base64>), one per line, the active key first, then retired ones from newest to oldest.",
			"responses", answers([]status{{200, m{
				"description", "The verifier keys.",
				"headers", hdrs("Cache-Control"),
				"content", textPlain("", "logline.example/ledger+946a2fb5+AZVD+MMfLq4VTUdAkaShpPhKCrYxZtkuDysOPBUWv41D\n"),
			}}}, "Internal", "NotImplemented", "Unavailable"),
		}},
		{"GET", "/proof/inclusion", auth.LedgerRead, m{
			"operationId", "proveInclusion",
			"tags", l{"verification"},
			"summary", "Inclusion proof of an entry",
			"description", "Exactly one of index and id. With id, tenant and seq select the span (with a token, in its tenant only). size defaults to the latest checkpoint's size.",
			"parameters", l{
				query("index", "The log index to prove.", m{"type", "integer", "minimum", 0}),
				query("id", "The span whose log index to prove.", m{"type", "string", "pattern", "^[A-Za-z0-9._:~-]{1,128}$"}),
				param("Tenant"),
				param("Seq"),
				query("size", "The tree size (default: the latest checkpoint's).", m{"type", "integer", "minimum", 1}),
			},
			"responses", answers([]status{{200, m{"description", "The proof.", "headers", treeHeaders, "content", jsonOf("InclusionProof")}}},
				withGuard("BadRequest", "NotFound", "Conflict", "NotImplemented", "Unavailable")...),
		}},
		{"GET", "/proof/consistency", auth.LedgerRead, m{
			"operationId", "proveConsistency",
			"tags", l{"verification"},
			"summary", "Consistency proof between two tree sizes",
			"parameters", l{
				m{"name", "from", "in", "query", "required", true, "description", "The older tree size.", "schema", m{"type", "integer", "minimum", 0}},
				query("to", "The newer tree size (default: the latest checkpoint's).", m{"type", "integer", "minimum", 0}),
			},
			"responses", answers([]status{{200, m{"description", "The proof.", "headers", treeHeaders, "content", jsonOf("ConsistencyProof")}}},
				withGuard("BadRequest", "NotImplemented", "Unavailable")...),
		}},
		{"GET", "/trajectories/{id}", auth.LedgerRead, m{
			"operationId", "getTrajectory",
			"tags", l{"trajectories"},
			"summary", "One trajectory: its spans, state, score and components",
			"description", "Assembled from the spans the data plane derived for it (trace_id = the trajectory id, who system:trajectory): its edges in position order — one page of them, limit and cursor — its state (open until a trajectory_closed), close reason, span count, quality score and components, the diamond candidate flag, and the earliest and latest event times of its spans. With a token, the trajectory is looked up in the token's tenant only. Every request reads all of the trajectory's derived spans. See docs/http-api.md#trajectories.",
			"parameters", l{
				m{"name", "id", "in", "path", "required", true, "description", "The trajectory id.", "schema", schemaRef("TrajectoryID")},
				param("Tenant"),
				query("limit", "At most this many edges (default 1000).", m{"type", "integer", "minimum", 1, "maximum", 10000, "default", 1000}),
				query("cursor", "next_cursor of the previous page, unchanged: the edges after it.", m{"type", "string"}),
			},
			"responses", answers([]status{{200, m{"description", "The trajectory.", "content", jsonOf("Trajectory")}}},
				withGuard("BadRequest", "NotFound", "Unavailable")...),
		}},
		{"GET", "/trajectories", auth.LedgerRead, m{
			"operationId", "listTrajectories",
			"tags", l{"trajectories"},
			"summary", "The trajectories of a thing",
			"description", "The trajectories opened by a span about this (the this of their first span), newest (latest opened) first; optionally only the open or the closed ones. Each entry has its summary and, as trajectory, the answer of GET /trajectories/{id} with its first span_limit edges (spans_truncated says when more follow). limit × span_limit is at most 100000. Every request reads all of the thing's derived spans, and all of each listed trajectory's. See docs/http-api.md#trajectories.",
			"parameters", l{
				m{"name", "this", "in", "query", "required", true, "description", "The thing (a span's this).", "schema", m{"type", "string", "minLength", 1}},
				param("Tenant"),
				query("state", "Only the open or only the closed trajectories.", m{"type", "string", "enum", l{"open", "closed"}}),
				query("limit", "At most this many trajectories (default 100).", m{"type", "integer", "minimum", 1, "maximum", 1000, "default", 100}),
				query("cursor", "next_cursor of the previous page, unchanged, with the same this and state.", m{"type", "string"}),
				query("span_limit", "At most this many edges of each trajectory (default 100); limit × span_limit may not exceed 100000.", m{"type", "integer", "minimum", 1, "maximum", 1000, "default", 100}),
			},
			"responses", answers([]status{{200, m{"description", "One page.", "content", jsonOf("TrajectoryPage")}}},
				withGuard("BadRequest", "NotFound", "Unavailable")...),
		}},
		{"POST", "/quality/dryrun", auth.QualityDryrun, dryRun()},
		{"POST", "/exports", auth.AdminExport, m{
			"operationId", "createExport",
			"tags", l{"exports"},
			"summary", "Write a signed tenant export",
			"description", "Writes one tenant's entries over a range of received_at, with inclusion proofs against one signed checkpoint and a signed manifest, as one NDJSON bundle that verifies offline with the log key (docs/exports.md). Answers once the bundle is durable.",
			"requestBody", m{"required", false, "content", jsonOf("ExportRequest")},
			"responses", answers([]status{{201, m{"description", "The bundle was written.", "headers", hdrs("Location"), "content", jsonOf("ExportCreated")}}},
				withGuard("BadRequest", "PayloadTooLarge", "UnsupportedMediaType", "NotImplemented", "Unavailable")...),
		}},
		{"GET", "/exports/{id}", auth.AdminExport, m{
			"operationId", "getExport",
			"tags", l{"exports"},
			"summary", "Download an export bundle",
			"description", "The bundle (Go's http.ServeContent: Range, If-None-Match and HEAD work). ETag \"<id>\"; a bundle never changes.",
			"parameters", l{
				m{"name", "id", "in", "path", "required", true, "schema", schemaRef("ExportID")},
				header("Range", "A byte range (RFC 9110).", m{"type", "string"}),
				header("If-None-Match", "The bundle's ETag: 304 if it matches.", m{"type", "string"}),
			},
			"responses", answers([]status{
				{200, m{"description", "The bundle.", "headers", hdrs("Cache-Control"), "content", m{"application/x-ndjson", m{"schema", m{"type", "string", "description", "The export bundle (docs/exports.md)."}}}}},
				{206, m{"description", "Part of the bundle.", "content", m{"application/x-ndjson", m{"schema", m{"type", "string"}}}}},
				{304, m{"description", "Not modified."}},
				{416, m{"description", "The range is not satisfiable.", "content", textPlain("", "")}},
			}, withGuard("NotFound", "NotImplemented", "Unavailable")...),
		}},
		{"GET", "/metrics/public", auth.AdminMetrics, m{
			"operationId", "getUsage",
			"tags", l{"usage"},
			"summary", "Usage counters",
			"responses", answers([]status{{200, m{"description", "The counters.", "headers", hdrs("Cache-Control"), "content", jsonOf("Usage")}}}, guarded...),
		}},
		{"GET", "/metrics", auth.AdminMetrics, m{
			"operationId", "getMetrics",
			"tags", l{"usage"},
			"summary", "Prometheus metrics",
			"description", "The server's metrics in the Prometheus text exposition format (protobuf when the scraper asks for it): HTTP requests by route, method and status, the ledger's append latency, batch sizes, backlog, appended spans and receipts, the Go runtime and the process (docs/metrics.md). Server-wide numbers without tenant labels. serve --metrics-listen serves the same on a separate listener without a token.",
			"responses", answers([]status{{200, m{"description", "The metrics.", "headers", hdrs("Cache-Control"),
				"content", m{"text/plain", m{"schema", m{"type", "string", "description", "Text exposition format 0.0.4."}, "example", "logline_http_requests_total{code=\"201\",method=\"POST\",route=\"/ingest\"} 42\n"}}}}},
				withGuard("NotImplemented")...),
		}},
		{"GET", "/healthz", "", m{
			"operationId", "healthz",
			"tags", l{"probes"},
			"summary", "The process is up",
			"responses", answers([]status{{200, m{"description", "Up.", "content", textPlain("", "ok\n")}}}, "Internal"),
		}},
		{"GET", "/readyz", "", m{
			"operationId", "readyz",
			"tags", l{"probes"},
			"summary", "The store is open and the server is not shutting down",
			"responses", answers([]status{{200, m{"description", "Ready.", "content", textPlain("", "ok\n")}}}, "Internal", "Unavailable"),
		}},
		{"GET", "/openapi.yaml", "", m{
			"operationId", "getOpenAPI",
			"tags", l{"meta"},
			"summary", "This document",
			"description", "Public: without a token, the built-in routes and components. With a valid token (any capability), the document also holds the entity schemas of the token's tenant's .lll schema blocks (Span_<name>, and SpanInput choosing among them), as its programs in force define them. A token that does not verify is 401, never a silent fallback to the anonymous document.",
			// Optional authentication: anonymous or a bearer token.
			"security", l{m{}, m{"bearerAuth", l{}}},
			"responses", answers([]status{{200, m{"description", "The OpenAPI 3.1 document of this server (and of the token's tenant).", "headers", hdrs("Cache-Control", "Vary"),
				"content", m{"application/yaml", m{"schema", m{"type", "string"}}}}}}, "Unauthorized", "TooManyRequests", "Internal", "NotImplemented"),
		}},
		{"GET", "/.well-known/jwks.json", "", m{
			"operationId", "getJWKS",
			"tags", l{"identity"},
			"summary", "The keys that verify LogLine tokens",
			"responses", answers([]status{{200, m{"description", "The key set.", "headers", hdrs("Cache-Control"), "content", jsonOf("JWKS")}}}, "Internal"),
		}},
		{"GET", "/auth/login", "", m{
			"operationId", "login",
			"tags", l{"identity"},
			"summary", "Start an OpenID Connect login",
			"description", "Redirects to the provider (authorization code flow with PKCE S256) and sets the login cookie (__Host-logline-login, or logline-login on a loopback http server). 501 when login is not configured (serve --oidc-client-id). See docs/auth.md#login-openid-connect.",
			"parameters", l{query("return_to", "A path on this server (checked, not used yet).", m{"type", "string"})},
			"responses", answers([]status{
				{302, m{"description", "To the provider.", "headers", m{"Location", ref("headers", "Location"), "Set-Cookie", m{"description", "The login's browser binding.", "schema", m{"type", "string"}}}}},
				{400, problemResponse("400 bad_return_to: return_to is not a path on this server.")},
			}, "Internal", "NotImplemented", "Unavailable"),
		}},
		{"GET", "/auth/callback", "", m{
			"operationId", "loginCallback",
			"tags", l{"identity"},
			"summary", "Complete an OpenID Connect login",
			"description", "Checks the state against the login cookie, exchanges the code, verifies the id_token and answers one token per tenant that lists the person (JSON, or a page for Accept: text/html). Errors are problems with the codes of docs/auth.md#login-openid-connect.",
			"parameters", l{
				query("state", "The login's state.", m{"type", "string"}),
				query("code", "The provider's authorization code.", m{"type", "string"}),
				query("error", "The provider's error, when it refused.", m{"type", "string"}),
			},
			"responses", answers([]status{
				{200, m{"description", "Signed in.", "headers", hdrs("Cache-Control"),
					"content", append(jsonOf("LoginResult"), "text/html; charset=utf-8", m{"schema", m{"type", "string"}})}},
				{400, problemResponse("400 bad_state, state_mismatch, missing_code or exchange_refused.")},
				{401, problemResponse("401 invalid_id_token or nonce_mismatch.")},
				{403, problemResponse("403 provider_denied, domain_not_allowed or no_tenant (detail names the person's LLID).")},
				{502, problemResponse("502 provider_unavailable: the provider could not be reached.")},
			}, "Internal", "NotImplemented", "Unavailable"),
		}},
		{"POST", "/auth/token", "", m{
			"operationId", "exchangeToken",
			"tags", l{"identity"},
			"summary", "Trade a service account's assertion for a token",
			"description", "RFC 7523: a service account signs a short JWT with its key and gets an LLST for its tenant and roles. Errors are RFC 6749 §5.2 JSON, not problems. Every answer carries Cache-Control: no-store. See docs/auth.md#service-accounts.",
			"requestBody", m{"required", true, "content", m{"application/x-www-form-urlencoded", m{"schema", schemaRef("TokenRequest")}}},
			"responses", answers([]status{
				{200, m{"description", "The token.", "headers", hdrs("Cache-Control"), "content", jsonOf("TokenResponse")}},
				{400, m{"description", "invalid_request (not a form, a parameter twice, no assertion, parameters in the URL), unsupported_grant_type or invalid_grant (error_description says why).", "content", jsonOf("OAuthError")}},
				{413, m{"description", "invalid_request: a body over 16 KiB.", "content", jsonOf("OAuthError")}},
				{500, m{"description", "server_error: the token could not be issued.", "content", jsonOf("OAuthError")}},
				{503, m{"description", "temporarily_unavailable: too many assertions in flight.", "headers", hdrs("Retry-After"), "content", jsonOf("OAuthError")}},
			}),
		}},
	}
}

// dryRun is POST /quality/dryrun.
func dryRun() m {
	body := m{}
	for i, t := range ndjsonTypes {
		desc := "As application/x-ndjson."
		if i == 0 {
			desc = "Spans of the request's tenant, one per line (SpanInput), checked as an append checks them; a span without an id is given dryrun-<line>."
		}
		body = append(body, ndjsonLines(t, "SpanInput", desc)...)
	}
	return m{
		"operationId", "dryRunQuality",
		"tags", l{"trajectories"},
		"summary", "Run the data plane over spans, storing nothing",
		"description", "Links the spans into trajectories, closes them (what is still open at the end closes with reason end_of_input), scores them and flags the diamond candidates, with the tenant's program in force and trajectories on, exactly as logline quality simulate does offline. The spans are the body (NDJSON), or, with from and/or to and no body, the tenant's own ledger entries in that range of log indexes (the spans the data plane derived are skipped). The first bad line refuses the whole request with a problem naming it. See docs/http-api.md#quality-dry-run.",
		"parameters", l{
			query("tenant", "The tenant; optional, defaults to the token's (another one is 403 tenant_mismatch). Required without authentication.", schemaRef("Tenant")),
			query("diamond", "Flag diamond candidates (1) or not (0); default: as the tenant's features.diamond says.", m{"type", "string", "enum", l{"1", "true", "yes", "on", "0", "false", "no", "off"}}),
			query("spans", "1: the answer carries the derived spans (at most 10000; truncated says whether more were derived).", m{"type", "string", "enum", l{"1", "true", "yes", "on", "0", "false", "no", "off"}}),
			query("from", "Run over the tenant's ledger entries from this log index (default 0); no body.", m{"type", "integer", "minimum", 0}),
			query("to", "Up to this log index, exclusive (default and at most the log's size; a range covers at most 1000000 entries); no body.", m{"type", "integer", "minimum", 0}),
		},
		"requestBody", m{"required", false, "content", body},
		"responses", answers([]status{
			{200, m{"description", "What the data plane derived.", "headers", hdrs("Cache-Control"), "content", jsonOf("DryRunResult")}},
			{422, problemResponse("422 close_rule_failed: the tenant's close rule could not be evaluated on a span (line names it).")},
		}, withGuard("BadRequest", "Forbidden", "PayloadTooLarge", "UnsupportedMediaType", "NotImplemented", "Unavailable")...),
	}
}
