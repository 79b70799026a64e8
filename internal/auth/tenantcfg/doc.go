// Package tenantcfg reads each tenant's access configuration — features,
// roles, members, login restriction and quotas — from
// DATA/cfg/tenants/<tenant>/tenant.yaml and keeps it current while the
// server runs (a Watcher polls every 2 s; no fsnotify).
//
// # Files
//
// A tenant is configured by DATA/cfg/tenants/<tenant>/tenant.yaml, or by
// the v8 seed's DATA/cfg/tenants/<tenant>.yaml (read, never written). Both
// present for one tenant is an error for that tenant. Tenant names follow
// the ledger's rule (Config.ValidTenant); a file or directory named
// otherwise is reported and ignored, as is <tenant>.yml. Names starting
// with "." are skipped (temporary files), symbolic links are followed,
// other entries are ignored (a tenant directory may hold
// service-accounts/ and nothing else). A file holds at most MaxFileSize
// bytes.
//
// A tenant without a file is not an error: it runs on Defaults — no
// members, the built-in roles only, DefaultLimits, features off.
//
// # Schema (version 1)
//
// Every key is optional; an unknown key anywhere is an error naming
// file:line:col, so that a typo never silently configures nothing. An
// empty file is the defaults. YAML aliases and multiple documents are
// refused.
//
//	version: 1                  # the only version so far
//	features:                   # v8 §5.3, both default false
//	  trajectory: true
//	  diamond: false
//	roles:                      # tenant-defined roles → grants (auth.ParseGrant:
//	  auditor: [ledger.read, admin.export]   # a capability, "family.*" or "*")
//	  ingest: [ledger.append]
//	members:                    # who gets which roles; exactly one selector each
//	  - llid: llid_4x…          # a LogLine identity, exactly
//	    roles: [admin]
//	    note: Ana (on-call)     # free text
//	  - issuer: https://accounts.google.com
//	    subject: "1098…"        # the id_token's sub, compared exactly
//	    roles: [writer, auditor]
//	  - hosted_domain: example.com   # Google's hd claim; issuer defaults to
//	    roles: [reader]              # https://accounts.google.com
//	login:
//	  allowed_domains: [example.com] # only people whose hd is listed act here
//	quotas:                     # token buckets; see below
//	  requests: {rate: 100, burst: 200}
//	  spans: 5000               # just a rate: burst = 2 × rate
//	  bytes: {rate: 50MB, burst: 100MB}
//	  roles:
//	    reader: {requests: {rate: 10, burst: 20}}
//
// Roles: the built-ins admin, writer and reader (auth.BuiltinRoles) always
// exist and cannot be redefined. Role names are 1–64 characters from a-z,
// 0-9, _ and -, starting with a letter. A role must grant something.
//
// Members: members are never selected by email — an address can be
// changed by its owner or reassigned by the provider, and a personal
// account can carry an address at a company's domain long after its owner
// left — so the key is the LLID, or the issuer and subject it is derived
// from (auth.LLID), or Google's hosted domain, which Google sets only for
// accounts the Workspace domain manages. hosted_domain matches only id
// tokens of its issuer: another provider could put any `hd` in its
// tokens. Every role a member names must exist. Issuers are https URLs
// (http only on a loopback host, for test providers) compared exactly.
//
// Login: login.allowed_domains, when present, admits only people whose
// id_token carries one of the listed hosted domains — members selected by
// llid or subject included. Service accounts and operator tokens are not
// people and are not affected.
//
// Quotas: three buckets — requests (one token per request), spans (one
// per span appended or returned) and bytes (one per byte of request
// body). A bucket is {rate: R, burst: B} or just R; R is per second, B
// defaults to 2×R (at least 1), and rate: unlimited removes the limit.
// Byte amounts are integers or sizes: "512KiB", "50MB", "1.5GB", with an
// optional "/s"; KB/MB/GB/TB are powers of 1000 and KiB/MiB/GiB/TiB of
// 1024. quotas.<bucket> limits the whole tenant; a bucket left out takes
// its default (DefaultLimits: requests 5000/s burst 10000, spans
// 250000/s burst 500000, bytes 256MB/s burst 512MB). quotas.roles.<role>.<bucket>
// limits all holders of a role together within the tenant; a role or
// bucket left out has no role-level limit.
//
// # Reloading
//
// Load reads everything once. A Watcher re-reads every Interval (only
// files whose bytes changed are parsed again) and publishes an immutable
// Snapshot through an atomic pointer. A file that turns invalid keeps its
// tenant's previous valid configuration (StateStale) and is reported by
// slog once per distinct problem and by Status; a tenant whose file was
// never valid runs on Defaults (StateInvalid); a removed file removes the
// tenant (Defaults again).
package tenantcfg
