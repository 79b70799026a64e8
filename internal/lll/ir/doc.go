// Package ir is the compiled form of a tenant's .lll programs: what
// internal/lll/check produces, internal/lll/eval runs, the data plane
// reads (policies, pipelines) and a signed .lllb bundle carries. It is
// plain, position-carrying data with a deterministic binary encoding;
// it imports nothing from LogLine.
//
// # Program
//
// A Program holds pools — Files (source names for positions), Consts
// (constants: literals, policy entries, folded expressions), Paths (span
// field paths such as data.items[0].sku) and Nodes (expressions) — and
// the blocks: Policies (keys sorted, known policies' defaults filled),
// Validators, Routers, Pipelines, Schemas and Alarms, in source order.
//
// An expression is a Node index. Nodes form a DAG in topological order:
// a node's operands are always earlier nodes, so evaluation recurses at
// most MaxDepth deep and always terminates. Each node carries its static
// Type (TAny where it depends on span data) and its source Pos.
//
// # Encoding
//
// Encode writes, with uvarint counts and lengths, zig-zag varint
// integers, and strings as a uvarint length then UTF-8 bytes:
//
//	"LLIR" version(1 byte, = Version)
//	files      count, string…
//	consts     count, value…
//	paths      count, (field string, count, step…)…      step: 0 key-string | 1 index-varint
//	nodes      count, (op byte, type byte, A varint, B varint, args count varint…, pos)…
//	policies   count, (name, known byte, count (key, value, default byte, pos)…, pos)…
//	validators count, (name, description, input strings, conds, rules, on_fail byte, count (type, with varint, pos)…, pos)…
//	routers    count, (name, description, input strings, conds, count (target, when varint, pos)…, pos)…
//	pipelines  count, (name, description, input strings, policy_ref, conds, count (type, builtin varint, args, pos)…, pos)…
//	schemas    count, (name, description, entity_type, rules, pos)…
//	alarms     count, (name, description, input strings, severity byte, message, conds, pos)…
//
//	pos   = file varint, line varint, col varint
//	conds = count, (node varint, text string, pos)…
//	rules = count, (required byte, path varint, type byte, text string, pos)…
//	value = type byte, then: null —; bool 0|1; number, percentile 8-byte
//	        big-endian IEEE 754; string string; duration varint (ns);
//	        time varint (Unix s), varint (ns); list count, value…;
//	        map count, (key string, value)… with keys sorted
//
// The encoding is canonical: the same Program always encodes to the same
// bytes, and Decode refuses any input that does not re-encode to itself
// (overlong varints, stray bytes), so a program's hash names it. Decode
// also validates the whole program (Validate): the bytes come from disk
// and are never trusted further than that.
package ir
