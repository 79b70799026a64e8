// Package openapi writes the OpenAPI 3.1 document of LogLine's HTTP API:
// every built-in route of the gateway and the identity routes, plus the
// entity schemas a tenant declares in .lll schema blocks. `logline
// openapi` prints it and the server serves it at GET /openapi.yaml.
//
// It imports no LogLine package but internal/auth (capability names): the
// gateway's tests check that the document's paths, methods and
// capabilities are exactly the routes the gateway serves
// (gateway.BuiltinRoutes plus the identity routes).
//
// # The document
//
// YAML, deterministic (the same Options give the same bytes), with:
//
//   - one operation per route, tagged by area, its parameters, request
//     body and every response it can give, each error status as an
//     application/problem+json Problem (POST /auth/token: RFC 6749
//     OAuthError);
//   - on every route that needs a token, security [bearerAuth] (HTTP
//     bearer, JWT: an LLST) and the extension x-logline-capability naming
//     the capability the token must grant; public routes have neither,
//     except GET /openapi.yaml, whose security [{}, bearerAuth] says a
//     token is optional (with one, the token's tenant's entity schemas
//     are in the document);
//   - NDJSON bodies described as strings with the schema of one line in
//     the extension x-logline-line-schema (OpenAPI 3.1 cannot say it;
//     3.2's itemSchema can);
//   - component schemas Span (what a client sends), SpanEntry (what is
//     stored and served), SpanInput (the ingest body), AppendResult,
//     Receipt, IngestLine, IngestSummary, QueryPage, InclusionProof,
//     ConsistencyProof, ExportRequest, ExportCreated, Usage, JWKS,
//     TokenRequest, TokenResponse, OAuthError, LoginResult, Trajectory,
//     TrajectoryEdge, TrajectoryPage, TrajectorySummary, DryRunResult,
//     QualitySummary, Problem and QuotaProblem.
//
// # Entity schemas
//
// An EntitySchema{Name: "order", EntityType: "order", Fields: …} becomes
// the component schema Span_order:
//
//	Span_order:
//	  allOf:
//	    - $ref: '#/components/schemas/Span'
//	    - type: object
//	      required: [entity_type, data]
//	      properties:
//	        entity_type: {const: order}
//	        data:
//	          type: object
//	          required: [total]
//	          properties:
//	            total: {type: number}
//
// Dotted paths build nested objects; a required field makes every member
// on its path required. Field types map to JSON Schema as string, number,
// integer, array and object themselves, bool → boolean, rfc3339 → string
// with format date-time, "" → any. SpanInput is then oneOf every
// Span_<Name> and "a Span whose entity_type has no schema", so exactly one
// alternative matches any span. Build refuses (ErrInvalidSchema) two
// schemas of one name or one entity type, a path whose first member is
// not a span member a client may send, a path into a member that is not
// an object (only data, input, output, error and metadata are), an
// unknown type, and a member declared twice with different types or both
// as a non-object and as having members. Its error is then a
// *SchemaError naming the schema and the field by index, so a caller
// that converted them from .lll schema blocks can point at the source;
// CheckSchemas runs the same checks without building.
package openapi
