package syntax

import (
	"fmt"
	"strings"
	"testing"
)

// program1000 generates a typical program of about 1,000 lines: policies
// with lists and maps, validators with field rules and conditions,
// pipelines, routers and alarms, with comments.
func program1000() []byte {
	var b strings.Builder
	for i := 0; b.Len() == 0 || strings.Count(b.String(), "\n") < 1000; i++ {
		fmt.Fprintf(&b, `# Rules for tenant group %d.
policy limits_%d {
  window: 24h
  close_timeout: "6h"
  key_fields: ["this", "who"]
  weights: { mass: 0.4, persistence: 0.3, verification: 0.3 }
  exceptions: ["this:heartbeat-*", "did:ping"] # probes
}

validator orders_%d {
  input: "order|refund"
  require field "id"
  require field "when" as "rfc3339"
  require field "data.total" as "number"
  allow field "confirmed_by" as "array"
  when entity_type == "order" and data.total >= policy.limits_%d.min
    or who matches "batch-*"
  on_fail "reject"
  emit "order_seen" with { total: data.total * 100 / 3, who: lower(who) }
}

pipeline linker_%d {
  policy_ref: "limits_%d"
  when features.trajectory
  derive "trajectory_edge" on link_open_or_continue()
}

router route_%d {
  route "billing" when data.total > 100 and not (did in ["test", "dry_run"])
  route "archive"
}

alarm big_%d {
  severity: "critical"
  message: "refund above the limit"
  when -data.total < -10000 and span.when > time("2024-01-01T00:00:00Z")
}

`, i, i, i, i, i, i, i, i)
	}
	return []byte(b.String())
}

func BenchmarkParse1000Lines(b *testing.B) {
	src := program1000()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("bench.lll", src); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFormat1000Lines(b *testing.B) {
	src := program1000()
	f, err := Parse("bench.lll", src)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		Format(f)
	}
}

func TestProgram1000Parses(t *testing.T) {
	src := program1000()
	if n := strings.Count(string(src), "\n"); n < 1000 {
		t.Fatalf("generated %d lines, want ≥ 1000", n)
	}
	checkIdempotent(t, string(src))
}
