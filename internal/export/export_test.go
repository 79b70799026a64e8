package export_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/logline/logline/internal/export"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/span"
)

// expect is what a bundle of tenant over [since, until) against a tree of
// size holds, computed from the store directly.
type expect struct {
	before, after *span.Entry
	entries       []*span.Entry
}

func expected(all []*span.Entry, since, until time.Time) expect {
	var x expect
	for _, e := range all {
		switch {
		case !since.IsZero() && e.ReceivedAt.Before(since):
			x.before = e
		case !until.IsZero() && !e.ReceivedAt.Before(until):
			if x.after == nil {
				x.after = e
			}
		default:
			x.entries = append(x.entries, e)
		}
	}
	return x
}

// TestRoundTrip exports ranges of the corpus and verifies them, checking
// every manifest field against the store.
func TestRoundTrip(t *testing.T) {
	f := corpus(t)
	cp := f.st.Checkpoint()
	tb := f.tenantEntries(t, "t_b", cp.Size)
	if len(tb) < 1000 {
		t.Fatalf("fixture: %d entries of t_b", len(tb))
	}
	mid := tb[len(tb)/3].ReceivedAt
	late := tb[2*len(tb)/3].ReceivedAt
	last := tb[len(tb)-1].ReceivedAt
	for _, tc := range []struct {
		name         string
		tenant       string
		since, until time.Time
		checkpoint   ledger.Checkpoint // zero: the latest
		empty        bool
	}{
		{name: "whole tenant", tenant: "t_a"},
		{name: "since and until: both witnesses", tenant: "t_b", since: mid, until: late},
		{name: "since only", tenant: "t_b", since: mid},
		{name: "until only", tenant: "t_c", until: late},
		{name: "empty range between two batches", tenant: "t_b", since: mid.Add(time.Nanosecond), until: mid.Add(2 * time.Nanosecond), empty: true},
		{name: "empty range after the end", tenant: "t_b", since: last.Add(time.Hour), empty: true},
		{name: "empty range before the start", tenant: "t_b", until: tb[0].ReceivedAt, empty: true},
		{name: "unknown tenant", tenant: "nobody", empty: true},
		{name: "older checkpoint", tenant: "t_c", since: mid, checkpoint: f.older},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := f.options(tc.tenant, tc.since, tc.until)
			if tc.checkpoint.Note != nil {
				o.Checkpoint = tc.checkpoint
			}
			var progress []uint64
			o.Progress = func(done, total uint64) {
				if total != o.Checkpoint.Size {
					t.Errorf("progress total %d, want %d", total, o.Checkpoint.Size)
				}
				progress = append(progress, done)
			}
			data, m := f.write(t, o)
			x := expected(f.tenantEntries(t, tc.tenant, o.Checkpoint.Size), tc.since, tc.until)
			if tc.empty != (len(x.entries) == 0) {
				t.Fatalf("test case: %d entries in the range, want empty=%v", len(x.entries), tc.empty)
			}

			rep, err := verify(data, f.keys.Verifiers())
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if rep.Manifest != m {
				t.Errorf("Verify's manifest %+v\nWrite's %+v", rep.Manifest, m)
			}
			if rep.Bytes != int64(len(data)) {
				t.Errorf("report: %d bytes, want %d", rep.Bytes, len(data))
			}
			if got, want := m.Entries, uint64(len(x.entries)); got != want {
				t.Fatalf("entries: got %d, want %d", got, want)
			}
			if m.Before != (x.before != nil) || m.After != (x.after != nil) {
				t.Errorf("witnesses: got before %v after %v, want %v %v", m.Before, m.After, x.before != nil, x.after != nil)
			}
			if m.CompleteToCheckpoint != (x.after == nil) {
				t.Errorf("complete_to_checkpoint %v with after witness %v", m.CompleteToCheckpoint, x.after != nil)
			}
			wantPrev := span.ZeroHash
			if x.before != nil {
				wantPrev = x.before.Hash
				if rep.BeforeIndex != x.before.LogIndex {
					t.Errorf("before witness at %d, want %d", rep.BeforeIndex, x.before.LogIndex)
				}
			}
			if x.after != nil && rep.AfterIndex != x.after.LogIndex {
				t.Errorf("after witness at %d, want %d", rep.AfterIndex, x.after.LogIndex)
			}
			wantHead := wantPrev
			if n := len(x.entries); n > 0 {
				wantHead = x.entries[n-1].Hash
				if m.FirstIndex != x.entries[0].LogIndex || m.LastIndex != x.entries[n-1].LogIndex {
					t.Errorf("indexes %d..%d, want %d..%d", m.FirstIndex, m.LastIndex, x.entries[0].LogIndex, x.entries[n-1].LogIndex)
				}
			}
			if m.PrevHash != wantPrev || m.Head != wantHead {
				t.Errorf("prev_hash %s head %s, want %s %s", m.PrevHash, m.Head, wantPrev, wantHead)
			}
			if m.CheckpointSize != o.Checkpoint.Size || m.CheckpointRoot != o.Checkpoint.Root {
				t.Errorf("checkpoint %d, want %d", m.CheckpointSize, o.Checkpoint.Size)
			}
			// Every entry line of the bundle is the stored line.
			ls := lines(data)
			var want [][]byte
			for _, e := range append(append([]*span.Entry{x.before}, x.entries...), x.after) {
				if e != nil {
					want = append(want, e.Line)
				}
			}
			if got := len(ls); got != 2+2*len(want) {
				t.Fatalf("%d lines, want %d", got, 2+2*len(want))
			}
			for i, w := range want {
				if !bytes.Equal(ls[2+2*i], w) {
					t.Fatalf("record %d: entry line differs from the stored line", i)
				}
			}
			if len(progress) > 0 && progress[len(progress)-1] > o.Checkpoint.Size {
				t.Errorf("progress reached %d, past the checkpoint %d", progress[len(progress)-1], o.Checkpoint.Size)
			}
			if len(x.entries) > 0 {
				if len(rep.Proven()) == 0 {
					t.Error("report proves nothing")
				}
			}
			if (len(rep.Attested()) == 0) != m.After {
				t.Errorf("attested %q with an after witness %v", rep.Attested(), m.After)
			}
		})
	}
}

// TestWriteOptions: unusable options are refused before anything is
// written.
func TestWriteOptions(t *testing.T) {
	f := corpus(t)
	now := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	other := newTestLog(t, t.TempDir(), 9)
	defer other.st.Close()
	for _, tc := range []struct {
		name string
		mod  func(*export.Options)
	}{
		{"bad tenant", func(o *export.Options) { o.Tenant = "Not A Tenant" }},
		{"empty tenant", func(o *export.Options) { o.Tenant = "" }},
		{"until equals since", func(o *export.Options) { o.Since, o.Until = now, now }},
		{"until before since", func(o *export.Options) { o.Since, o.Until = now, now.Add(-time.Second) }},
		{"no checkpoint note", func(o *export.Options) { o.Checkpoint.Note = nil }},
		{"no signer", func(o *export.Options) { o.Signer = nil }},
		{"signer of another log", func(o *export.Options) { o.Origin = "other.example/log" }},
		{"note of another tree", func(o *export.Options) { o.Checkpoint.Size-- }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := f.options("t_a", time.Time{}, time.Time{})
			tc.mod(&o)
			var buf bytes.Buffer
			_, err := export.Write(context.Background(), &buf, f.st, o)
			if !errors.Is(err, export.ErrOptions) {
				t.Fatalf("got %v, want ErrOptions", err)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes", buf.Len())
			}
		})
	}
}

// TestWriteCanceled: a canceled export stops with ctx's error and writes
// no manifest.
func TestWriteCanceled(t *testing.T) {
	f := corpus(t)
	ctx, cancel := context.WithCancel(context.Background())
	o := f.options("t_a", time.Time{}, time.Time{})
	o.Progress = func(done, total uint64) { cancel() }
	var buf bytes.Buffer
	if _, err := export.Write(ctx, &buf, f.st, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if bytes.Contains(buf.Bytes(), []byte(`{"manifest":`)) {
		t.Error("a canceled export wrote a manifest")
	}
}
