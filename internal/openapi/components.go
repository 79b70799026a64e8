package openapi

import "strings"

// b64Hash is a SHA-256 hash in standard base64 with padding.
func b64Hash(desc string) m {
	return m{"type", "string", "pattern", "^[A-Za-z0-9+/]{43}=$", "description", desc}
}

// count is a non-negative integer.
func count(desc string) m {
	s := m{"type", "integer", "minimum", 0}
	if desc != "" {
		s = append(s, "description", desc)
	}
	return s
}

// schemas are the component schemas, entity schemas last.
func schemas(ss []EntitySchema) m {
	out := m{
		"Tenant", m{"type", "string", "pattern", "^[a-z0-9_-]{1,64}$", "description", "A tenant name."},
		"Span", spanSchema(),
		"SpanEntry", spanEntrySchema(),
		"SpanInput", spanInputSchema(ss),
		"Problem", m{
			"title", "Problem",
			"description", "An RFC 9457 problem. Clients branch on code, never on title or detail. type is https://logline.dev/problems/<code with _ replaced by ->.",
			"type", "object",
			"required", l{"type", "title", "status", "code"},
			"properties", m{
				"type", m{"type", "string", "format", "uri"},
				"title", m{"type", "string", "description", "The code in words."},
				"status", m{"type", "integer", "minimum", 400, "maximum", 599},
				"detail", m{"type", "string", "description", "What went wrong, for people. A 5xx detail never carries internals."},
				"code", m{"type", "string", "pattern", "^[a-z0-9_]+$", "description", "The machine-readable code (docs/http-api.md#error-codes); its status never depends on the route.",
					"examples", l{"invalid_field", "missing_parameter", "unauthorized", "forbidden", "not_found", "conflict", "too_many_requests", "unavailable"}},
				"pointer", m{"type", "string", "description", "RFC 6901 pointer to the bad field."},
				"line", m{"type", "integer", "minimum", 1, "description", "The NDJSON line at fault."},
				"parameter", m{"type", "string", "description", "The query parameter at fault."},
				"header", m{"type", "string", "description", "The request header at fault."},
				"offset", count("Byte offset in the span or line where a decode error was found."),
				"retry_after_ms", m{"type", "integer", "minimum", 1, "description", "too_many_requests only: how long to wait before retrying, in milliseconds (with a 429 status also the Retry-After header)."},
			},
		},
		"QuotaProblem", m{
			"title", "QuotaProblem",
			"description", "429 too_many_requests: a quota of the token's tenant or role is exhausted (docs/auth.md#quotas), or — an ingest, without dimension and scope — the tenant's data plane refuses ingest under load (derived_events_perf on_overload reject_429, or slow_ingest past its wait).",
			"allOf", l{schemaRef("Problem"), m{
				"type", "object",
				"required", l{"retry_after_ms"},
				"properties", m{
					"code", m{"const", "too_many_requests"},
					"dimension", m{"type", "string", "enum", l{"requests", "spans", "bytes"}},
					"scope", m{"type", "string", "enum", l{"tenant", "role"}},
					"retry_after_ms", m{"type", "integer", "minimum", 1},
				},
			}},
		},
		"InclusionProof", m{
			"title", "InclusionProof",
			"description", "An RFC 6962 inclusion proof of the leaf at index in the tree of the given size (tlog.InclusionProof's JSON).",
			"type", "object",
			"required", l{"index", "size", "leaf_hash", "hashes"},
			"properties", m{
				"index", count(""),
				"size", m{"type", "integer", "minimum", 1},
				"leaf_hash", b64Hash("SHA-256(0x00 ‖ the stored entry)."),
				"hashes", m{"type", "array", "items", b64Hash("")},
			},
		},
		"ConsistencyProof", m{
			"title", "ConsistencyProof",
			"description", "An RFC 6962 consistency proof between the trees of sizes from and to (tlog.ConsistencyProof's JSON).",
			"type", "object",
			"required", l{"from", "to", "hashes"},
			"properties", m{
				"from", count(""),
				"to", count(""),
				"hashes", m{"type", "array", "items", b64Hash("")},
			},
		},
		"Receipt", m{
			"title", "Receipt",
			"description", "Proof that the span was appended at log_index (v8 §16): verify checkpoint with the log key (GET /log/key), then the inclusion proof of leaf_hash against its root.",
			"type", "object",
			"required", l{"op", "span_id", "tenant", "log_index", "leaf_hash", "jti", "kid", "ts", "checkpoint_size"},
			"properties", m{
				"op", m{"const", "ledger.append"},
				"span_id", m{"type", "string"},
				"tenant", schemaRef("Tenant"),
				"log_index", count(""),
				"leaf_hash", b64Hash("SHA-256(0x00 ‖ stored line): the Merkle leaf."),
				"jti", m{"type", "string", "pattern", "^r_[a-z2-7]{26}$", "description", "Derived from the leaf hash and the checkpoint size: the same receipt is always the same bytes."},
				"kid", m{"type", "string", "description", "Id of the log key that signed the checkpoint (8 hex digits)."},
				"ts", m{"type", "string", "format", "date-time", "description", "The entry's received_at."},
				"checkpoint_size", m{"type", "integer", "minimum", 1, "description", "Size of the checkpoint that covers the entry (> log_index)."},
				"checkpoint", m{"type", "string", "description", "The signed checkpoint note (C2SP tlog-checkpoint). Always in a single-span answer; in an NDJSON answer only in the first receipt under each checkpoint."},
				"inclusion", schemaRef("InclusionProof"),
			},
		},
		"AppendResult", m{
			"title", "AppendResult",
			"description", "The result of one stored span. receipt is present when the server signs checkpoints (logline serve always does).",
			"type", "object",
			"required", l{"id", "seq", "tenant", "log_index", "curr_hash", "prev_hash", "received_at", "duplicate"},
			"properties", m{
				"id", m{"type", "string"},
				"seq", count(""),
				"tenant", schemaRef("Tenant"),
				"log_index", count(""),
				"curr_hash", m{"type", "string", "pattern", "^[0-9a-f]{64}$"},
				"prev_hash", m{"type", "string", "pattern", "^[0-9a-f]{64}$"},
				"received_at", m{"type", "string", "format", "date-time"},
				"duplicate", m{"type", "boolean", "description", "That exact span was already stored: nothing new was stored."},
				"receipt", schemaRef("Receipt"),
			},
		},
		"IngestLine", m{
			"title", "IngestLine",
			"description", "One line of an NDJSON ingest answer: a result per input line (blank lines get none), in order, then one summary line.",
			"oneOf", l{
				m{"title", "accepted line", "allOf", l{schemaRef("AppendResult"), m{
					"type", "object",
					"required", l{"line", "ok"},
					"properties", m{"line", m{"type", "integer", "minimum", 1}, "ok", m{"const", true}},
				}}},
				m{"title", "rejected line",
					"type", "object",
					"required", l{"line", "ok", "error"},
					"properties", m{"line", m{"type", "integer", "minimum", 1}, "ok", m{"const", false}, "error", schemaRef("Problem")},
				},
				m{"title", "summary",
					"type", "object",
					"required", l{"summary"},
					"properties", m{"summary", schemaRef("IngestSummary")},
				},
			},
		},
		"IngestSummary", m{
			"title", "IngestSummary",
			"description", "lines = accepted + duplicates + rejected. error is set when the ingest ended early: the lines after the last result line were not processed. refused counts the rejected lines refused under load (too_many_requests with retry_after_ms: the data plane's backpressure); error is then that refusal.",
			"type", "object",
			"required", l{"lines", "accepted", "duplicates", "rejected"},
			"properties", m{
				"lines", count(""), "accepted", count(""), "duplicates", count(""), "rejected", count(""),
				"refused", m{"type", "integer", "minimum", 1, "description", "Present when lines were refused under load: how many (they are among rejected)."},
				"error", schemaRef("Problem"),
			},
		},
		"QueryPage", m{
			"title", "QueryPage",
			"description", "One page of GET /spans. next_cursor is absent on the last page; a page may hold fewer than limit spans, even none, while next_cursor is present.",
			"type", "object",
			"required", l{"spans"},
			"properties", m{
				"spans", m{"type", "array", "items", schemaRef("SpanEntry")},
				"next_cursor", m{"type", "string", "description", "Opaque: pass it back unchanged with the same filters."},
			},
		},
		"TrajectoryID", m{"type", "string", "pattern", "^t_[0-9a-f]{32}$", "description", "A trajectory id: t_ and 32 hex digits, derived from the tenant and the span that opened it."},
		"Trajectory", m{
			"title", "Trajectory",
			"description", "A trajectory as the data plane derived it: the answer of GET /trajectories/{id}, and the trajectory member of each entry of GET /trajectories. spans is one page of its edges in position order; span_count, first_when and last_when cover all of them. spans_truncated (true) and next_cursor are present when more edges follow.",
			"type", "object",
			"required", l{"trajectory_id", "this", "state", "spans", "span_count"},
			"properties", m{
				"trajectory_id", schemaRef("TrajectoryID"),
				"this", m{"type", "string", "description", "The this of the span that opened it."},
				"state", m{"type", "string", "enum", l{"open", "closed"}},
				"reason", m{"type", "string", "description", "Closed only: why it closed (timeout, window, rule, end_of_input).", "examples", l{"timeout"}},
				"spans", m{"type", "array", "items", schemaRef("TrajectoryEdge")},
				"span_count", count("How many spans it links: from its trajectory_closed when closed, else its edges."),
				"spans_truncated", m{"type", "boolean", "description", "Present (true) when edges follow those in spans (limit, or span_limit of GET /trajectories): read them with next_cursor."},
				"score", m{"type", "integer", "minimum", 0, "maximum", 100, "description", "Closed only: the quality score, the sum of the components."},
				"components", m{
					"type", "object",
					"required", l{"mass", "persistence", "verification"},
					"properties", m{
						"mass", m{"type", "integer", "minimum", 0, "maximum", 100},
						"persistence", m{"type", "integer", "minimum", 0, "maximum", 100},
						"verification", m{"type", "integer", "minimum", 0, "maximum", 100},
					},
				},
				"candidate", m{
					"type", "object",
					"description", "Present when it was flagged a diamond candidate: its score and the tenant's threshold then.",
					"required", l{"score", "threshold"},
					"properties", m{
						"score", m{"type", "integer", "minimum", 0, "maximum", 100},
						"threshold", m{"type", "integer", "minimum", 0, "maximum", 100},
					},
				},
				"first_when", m{"type", "string", "format", "date-time", "description", "The earliest when of its spans, as written."},
				"last_when", m{"type", "string", "format", "date-time", "description", "The latest when of its spans, as written."},
				"next_cursor", m{"type", "string", "description", "Opaque: pass it back unchanged for the next edges."},
			},
		},
		"TrajectoryEdge", m{
			"title", "TrajectoryEdge",
			"description", "One span linked into a trajectory.",
			"type", "object",
			"required", l{"position", "src_span_id", "when", "log_index"},
			"properties", m{
				"position", m{"type", "integer", "minimum", 1},
				"src_span_id", m{"type", "string", "description", "The id of the span linked."},
				"when", m{"type", "string", "format", "date-time", "description", "That span's when, as written."},
				"log_index", count("The log index of the trajectory_edge span itself."),
			},
		},
		"TrajectorySummary", m{
			"title", "TrajectorySummary",
			"description", "One entry of GET /trajectories: summary members from the thing's spans, and trajectory, what GET /trajectories/{id}?limit=<span_limit> answers for it.",
			"type", "object",
			"required", l{"trajectory_id", "state", "span_count", "trajectory"},
			"properties", m{
				"trajectory_id", schemaRef("TrajectoryID"),
				"state", m{"type", "string", "enum", l{"open", "closed"}},
				"reason", m{"type", "string", "description", "Closed only."},
				"span_count", count("From its trajectory_closed when closed; else its edges about this thing."),
				"score", m{"type", "integer", "minimum", 0, "maximum", 100},
				"candidate", m{"type", "boolean", "description", "Present (true) when it was flagged a diamond candidate."},
				"first_when", m{"type", "string", "format", "date-time"},
				"last_when", m{"type", "string", "format", "date-time"},
				"trajectory", m{"$ref", "#/components/schemas/Trajectory", "description", "The trajectory with its first span_limit edges, score, components and candidate: the same object as GET /trajectories/{id}?limit=<span_limit>."},
			},
		},
		"TrajectoryPage", m{
			"title", "TrajectoryPage",
			"description", "One page of GET /trajectories, newest first. next_cursor is absent on the last page.",
			"type", "object",
			"required", l{"trajectories"},
			"properties", m{
				"trajectories", m{"type", "array", "items", schemaRef("TrajectorySummary")},
				"next_cursor", m{"type", "string", "description", "Opaque: pass it back unchanged with the same this and state."},
			},
		},
		"DryRunResult", m{
			"title", "DryRunResult",
			"description", "What POST /quality/dryrun derived. range is present for a run over the ledger; derived_spans and truncated with spans=1.",
			"type", "object",
			"required", l{"tenant", "diamond", "summary"},
			"properties", m{
				"tenant", schemaRef("Tenant"),
				"diamond", m{"type", "boolean", "description", "Whether diamond candidates were flagged."},
				"range", m{
					"type", "object",
					"required", l{"from", "to", "entries"},
					"properties", m{
						"from", count("The first log index read."),
						"to", count("The log index read up to (exclusive)."),
						"entries", count("The tenant's entries given to the data plane."),
					},
				},
				"summary", schemaRef("QualitySummary"),
				"derived_spans", m{"type", "array", "items", schemaRef("Span"), "maxItems", 10000,
					"description", "The derived spans in order, as the server would append them (before curr_hash)."},
				"truncated", m{"type", "boolean", "description", "More spans were derived than derived_spans holds (summary counts them all)."},
			},
		},
		"QualitySummary", m{
			"title", "QualitySummary",
			"description", "The summary of a data-plane run, as logline quality simulate --json prints it.",
			"type", "object",
			"required", l{"spans", "linked", "not_linked", "trajectories", "closed", "derived_spans", "scores", "candidates", "candidate_percent"},
			"properties", m{
				"spans", count("Spans given."),
				"linked", count("Spans linked into a trajectory."),
				"not_linked", count("Spans not linked (a key field missing, an exception matching)."),
				"trajectories", count("Trajectories opened."),
				"closed", m{"type", "object", "additionalProperties", count(""), "description", "Trajectories closed, by reason."},
				"derived_spans", count("Spans derived."),
				"scores", m{
					"type", "object",
					"required", l{"count", "mean", "p50", "p95", "p99"},
					"properties", m{
						"count", count(""),
						"mean", m{"type", "number", "minimum", 0, "maximum", 100},
						"p50", m{"type", "integer", "minimum", -1, "maximum", 100, "description", "-1 when no score was given."},
						"p95", m{"type", "integer", "minimum", -1, "maximum", 100},
						"p99", m{"type", "integer", "minimum", -1, "maximum", 100},
					},
				},
				"candidates", count("Diamond candidates."),
				"candidate_percent", m{"type", "number", "minimum", 0, "maximum", 100, "description", "Candidates among the scored trajectories, in percent."},
			},
		},
		"ExportRequest", m{
			"title", "ExportRequest",
			"description", "Each member at most once; no other members.",
			"type", "object",
			"properties", m{
				"tenant", m{"type", l{"string", "null"}, "pattern", "^[a-z0-9_-]{1,64}$", "description", "Defaults to the token's tenant (another one is 403 tenant_mismatch); required without authentication."},
				"since", m{"type", l{"string", "null"}, "format", "date-time", "description", "Inclusive bound on received_at (RFC 3339 with offset); absent or null: unbounded."},
				"until", m{"type", l{"string", "null"}, "format", "date-time", "description", "Exclusive bound on received_at, after since; absent or null: unbounded."},
			},
			"additionalProperties", false,
			"examples", l{m{"tenant", "acme", "since", "2026-01-01T00:00:00Z", "until", "2026-02-01T00:00:00Z"}},
		},
		"ExportCreated", m{
			"title", "ExportCreated",
			"type", "object",
			"required", l{"id", "href", "bytes", "entries", "checkpoint_size"},
			"properties", m{
				"id", schemaRef("ExportID"),
				"href", m{"type", "string", "description", "/exports/<id>"},
				"bytes", count(""),
				"entries", count(""),
				"checkpoint_size", count(""),
			},
		},
		"ExportID", m{"type", "string", "pattern", "^[0-9A-HJKMNP-TV-Z]{26}$", "description", "A ULID."},
		"Usage", m{
			"title", "Usage",
			"description", "Canonical usage counters (v8 §24) per tenant since the server started: the token's tenant only (every tenant seen without authentication).",
			"type", "object",
			"required", l{"tenants"},
			"properties", m{"tenants", m{"type", "object", "additionalProperties", m{
				"type", "object",
				"required", l{"ingest_spans_count", "derived_spans_count", "exports_gb", "ws_minutes"},
				"properties", m{
					"ingest_spans_count", count("Spans newly stored through the append routes."),
					"derived_spans_count", count("Derived spans the data plane stored for the tenant since the server started."),
					"exports_gb", m{"type", "number", "minimum", 0, "description", "Bytes of bundles written by POST /exports / 10⁹."},
					"ws_minutes", m{"type", "number", "minimum", 0, "description", "WebSocket connection time (no WebSocket routes yet)."},
				},
			}}},
		},
		"JWKS", m{
			"title", "JWKS",
			"description", "The public keys that verify LogLine tokens (RFC 7517).",
			"type", "object",
			"required", l{"keys"},
			"properties", m{"keys", m{"type", "array", "items", m{
				"type", "object",
				"required", l{"kty", "crv", "x", "kid", "alg", "use"},
				"properties", m{
					"kty", m{"const", "OKP"},
					"crv", m{"const", "Ed25519"},
					"x", m{"type", "string", "pattern", "^[A-Za-z0-9_-]{43}$"},
					"kid", m{"type", "string", "examples", l{"llst-20261125-3ca928ae"}},
					"alg", m{"const", "EdDSA"},
					"use", m{"const", "sig"},
				},
			}}},
		},
		"TokenRequest", m{
			"title", "TokenRequest",
			"description", "An RFC 7523 JWT bearer grant: a service account's assertion (docs/auth.md#service-accounts).",
			"type", "object",
			"required", l{"grant_type", "assertion"},
			"properties", m{
				"grant_type", m{"const", "urn:ietf:params:oauth:grant-type:jwt-bearer"},
				"assertion", m{"type", "string", "description", "A JWS compact JWT signed with the account's Ed25519 key."},
				"scope", m{"type", "string", "description", "Accepted and ignored."},
			},
		},
		"TokenResponse", m{
			"title", "TokenResponse",
			"type", "object",
			"required", l{"access_token", "token_type", "expires_in"},
			"properties", m{
				"access_token", m{"type", "string", "description", "An LLST: an EdDSA JWT valid for at most 15 minutes."},
				"token_type", m{"const", "Bearer"},
				"expires_in", m{"type", "integer", "minimum", 0},
			},
		},
		"OAuthError", m{
			"title", "OAuthError",
			"description", "An RFC 6749 §5.2 error.",
			"type", "object",
			"required", l{"error"},
			"properties", m{
				"error", m{"type", "string", "enum", l{"invalid_request", "unsupported_grant_type", "invalid_grant", "server_error", "temporarily_unavailable"}},
				"error_description", m{"type", "string"},
			},
		},
		"LoginResult", m{
			"title", "LoginResult",
			"description", "One token per tenant whose tenant.yaml lists the person.",
			"type", "object",
			"required", l{"llid", "tokens"},
			"properties", m{
				"llid", m{"type", "string", "pattern", "^llid_[a-z2-7]{32}$"},
				"email", m{"type", "string"},
				"tokens", m{"type", "array", "items", m{
					"type", "object",
					"required", l{"tenant", "roles", "access_token", "token_type", "expires_in"},
					"properties", m{
						"tenant", schemaRef("Tenant"),
						"roles", m{"type", "array", "items", m{"type", "string"}},
						"access_token", m{"type", "string"},
						"token_type", m{"const", "Bearer"},
						"expires_in", m{"type", "integer", "minimum", 0},
					},
				}},
			},
		},
	}
	for _, s := range ss {
		out = append(out, "Span_"+s.Name, entitySchema(s))
	}
	return out
}

// problemResponse is an error response with a problem body.
func problemResponse(desc string, extra ...any) m {
	r := m{"description", desc}
	r = append(r, extra...)
	return append(r, "content", m{"application/problem+json", m{"schema", schemaRef("Problem")}})
}

// responses are the shared error responses, one per status.
func responses() m {
	return m{
		"BadRequest", problemResponse("400: the request is malformed; code says how (malformed_json, invalid_field, missing_parameter, invalid_parameter, invalid_header, bad_cursor, out_of_range, …)."),
		"Unauthorized", problemResponse("401 unauthorized: no bearer token, a malformed Authorization header, or a token that does not verify (detail says why).",
			"headers", m{"WWW-Authenticate", ref("headers", "WWW-Authenticate")}),
		"Forbidden", problemResponse("403: forbidden (the token does not grant the route's capability) or tenant_mismatch (the request names a tenant other than its token's)."),
		"NotFound", problemResponse("404 not_found: nothing with that id — also the answer for another tenant's resources."),
		"Conflict", problemResponse("409: conflict (a seq gap, or a re-append of an existing (tenant, id, seq) with other content) or ambiguous_id (an id in several tenants, looked up without tenant)."),
		"PayloadTooLarge", problemResponse("413: too_large (a span over the span limit) or body_too_large (a body over the body limit)."),
		"UnsupportedMediaType", problemResponse("415 unsupported_media_type: a Content-Type the route does not take."),
		"TooManyRequests", m{
			"description", "429 too_many_requests: a quota of the token's tenant or role is exhausted; on an ingest also the tenant's data plane refusing ingest under load before anything of the request was stored (an NDJSON body too: resend all of it after Retry-After).",
			"headers", m{"Retry-After", ref("headers", "Retry-After")},
			"content", m{"application/problem+json", m{"schema", schemaRef("QuotaProblem")}},
		},
		"Internal", problemResponse("500 internal: anything else (logged by the server, never described)."),
		"NotImplemented", problemResponse("501 not_implemented: this server was built without what the route needs."),
		"Unavailable", problemResponse("503 unavailable: the store is closed, the server is not ready or is shutting down; retry later."),
	}
}

// headers are the shared response headers.
func headers() m {
	return m{
		"WWW-Authenticate", m{"description", "Bearer realm=\"logline\" (RFC 6750).", "schema", m{"type", "string"}},
		"Retry-After", m{"description", "Whole seconds to wait, at least 1.", "schema", m{"type", "integer", "minimum", 1}},
		"Location", m{"description", "Where the created resource is.", "schema", m{"type", "string"}},
		"Logline-Checkpoint-Size", m{"description", "The size of the tree the proof or checkpoint is for.", "schema", m{"type", "integer", "minimum", 0}},
		"Logline-Checkpoint-Root", m{"description", "The root of that tree (standard base64). Check proofs against a checkpoint you verified, never against this header alone.", "schema", b64Hash("")},
		"Logline-Next-Cursor", m{"description", "A trailer (declared in Trailer): the next log index to read, set whenever the server ends the stream (end of log without follow, cut-off, shutdown).", "schema", m{"type", "integer", "minimum", 0}},
		"Cache-Control", m{"description", "Caching rules of the answer.", "schema", m{"type", "string"}},
		"Vary", m{"description", "Request headers the answer depends on (Authorization: the document differs per tenant).", "schema", m{"type", "string"}},
	}
}

// parameters are the shared parameters.
func parameters() m {
	q := func(name, desc string, schema m) m {
		return m{"name", name, "in", "query", "description", desc, "schema", schema}
	}
	return m{
		"Tenant", q("tenant", "The tenant; optional, defaults to the token's. A read naming another tenant answers 404 not_found, a write 403 tenant_mismatch. Without authentication (serve --dev) it selects any tenant.", schemaRef("Tenant")),
		"Seq", q("seq", "The version; default the latest.", m{"type", "integer", "minimum", 0}),
		"SpanID", m{"name", "id", "in", "path", "required", true, "description", "The span's id.", "schema", m{"type", "string", "pattern", "^[A-Za-z0-9._:~-]{1,128}$"}},
	}
}

// securitySchemes: LogLine tokens.
func securitySchemes() m {
	return m{"bearerAuth", m{
		"type", "http",
		"scheme", "bearer",
		"bearerFormat", "JWT",
		"description", strings.Join([]string{
			"A LogLine session token (LLST): an EdDSA JWT valid for at most 15 minutes, from POST /auth/token (service accounts),",
			"GET /auth/callback (people) or `logline token issue` (operators). A request acts in the token's tenant with the",
			"capabilities it grants; each operation names the one it needs in x-logline-capability (docs/auth.md).",
		}, " "),
	}}
}
