// Package bench measures LogLine end to end (`logline bench`): durable
// NDJSON ingest of unsigned and client-signed spans, single-span POST
// latency, reads, the log stream, authentication (a second server with
// LLST bearer tokens and quotas: ingest beside auth off, token
// verification, a tenant over its quota beside a quiet one), crash
// recovery, memory under a large streamed body, LogLine on PostgreSQL
// (in-process `serve --store` nodes) and a PostgreSQL baseline with the
// Blueprint4 table — and reports the machine it ran on.
//
// By default it starts the same server `logline serve` runs (segment store
// in a temporary data directory, the gateway, real HTTP over 127.0.0.1,
// real fdatasync); with Config.Server the HTTP sections target a running
// server instead. Every loop is bounded in count and in time
// (Config.PhaseTimeout); a section cut short by its time limit says so.
//
// Run is the whole benchmark as a plain function (tests call it with tiny
// sizes); NewCommand wraps it as the cobra command and prints Report as a
// table or as JSON.
package bench
