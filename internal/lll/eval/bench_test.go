package eval

import (
	"context"
	"testing"

	"github.com/logline/logline/internal/lll/check"
	"github.com/logline/logline/internal/lll/syntax"
)

// fiveRules are the "five rules" of the typical validator set,
// next to canonical_contract_v1: field rules into data, guards with
// comparisons, membership, globs and a policy read.
const fiveRules = `
policy limits {
  max_deadline_days: 90
  departments: ["General", "Sales", "Support"]
}

validator receipt_data {
  input: "span"
  require field "data" as "object"
  allow field "data.channel" as "string"
  on_fail "warn"
}

validator receipt_department {
  when did matches "*receipt*" and status == "confirmed"
  require field "data.department" as "string"
}

validator known_department {
  when has(data.department) and not (data.department in policy.limits.departments)
  allow field "data.responsible" as "string"
  on_fail "warn"
}

validator recent_enough {
  when span.when > time("2000-01-01T00:00:00Z") and len(confirmed_by) >= 1
  require field "confirmed_by" as "array"
}
`

// plusFive compiles canonical_contract_v1 and fiveRules together.
func plusFive(b *testing.B) *Machine {
	f1, err := syntax.Parse(check.CanonicalContractFile, check.CanonicalContractSource())
	if err != nil {
		b.Fatal(err)
	}
	f2, err := syntax.Parse("five.lll", []byte(fiveRules))
	if err != nil {
		b.Fatal(syntax.FormatErrors(err, []byte(fiveRules)))
	}
	prog, err := check.Check([]*syntax.File{f1, f2}, check.Options{})
	if err != nil {
		b.Fatal(syntax.FormatErrors(err, []byte(fiveRules)))
	}
	m, err := New(prog, Config{})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkCanonicalContractPlusFive is the target: the typical
// validator set over corpus spans, one after the other (1,000 distinct
// spans, so their bytes are mostly not in the CPU's nearest caches).
func BenchmarkCanonicalContractPlusFive(b *testing.B) {
	spans := corpus(b, 1000)
	m := plusFive(b)
	ctx := context.Background()
	for _, sp := range spans {
		v, err := m.Validate(ctx, sp)
		if err != nil || len(v) != 0 {
			b.Fatalf("corpus span %s: %v %v", sp.ID, v, err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := m.Validate(ctx, spans[i%len(spans)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCanonicalContractPlusFiveHot validates one span again and
// again, as ingest does right after decoding it (its bytes in cache).
func BenchmarkCanonicalContractPlusFiveHot(b *testing.B) {
	sp := corpus(b, 1)[0]
	m := plusFive(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Validate(ctx, sp); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCanonicalContract(b *testing.B) {
	spans := corpus(b, 1000)
	prog, err := check.CanonicalContract()
	if err != nil {
		b.Fatal(err)
	}
	m, err := New(prog, Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := m.Validate(ctx, spans[i%len(spans)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRules measures the rules of fiveRules one by one (and an
// empty validator: the cost of a call), for a breakdown.
func BenchmarkRules(b *testing.B) {
	spans := corpus(b, 1000)
	rules := []struct{ name, src string }{
		{"Empty", `validator e { description: "x" }`},
		{"DataObject", `validator d { require field "data" as "object" }`},
		{"DataMember", `validator d { allow field "data.channel" as "string" }`},
		{"GlobAndEq", `validator g { when did matches "*receipt*" and status == "confirmed" }`},
		{"HasIn", `policy limits { departments: ["General", "Sales", "Support"] }
validator k { when has(data.department) and not (data.department in policy.limits.departments) }`},
		{"TimeCompare", `validator r { when span.when > time("2000-01-01T00:00:00Z") }`},
		{"LenArray", `validator r { when len(confirmed_by) >= 1 }`},
	}
	for _, r := range rules {
		b.Run(r.name, func(b *testing.B) {
			m := machine(b, r.src, Config{})
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := m.Validate(ctx, spans[i%len(spans)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
