package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/schollz/progressbar/v3"
)

// writeJSON writes v as one line of JSON.
func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if _, err := w.Write(b); err != nil {
		return ioErrorf("write: %w", err)
	}
	return nil
}

// writeEntry writes a stored entry: indented for a person on a terminal,
// the exact stored bytes otherwise.
func writeEntry(w io.Writer, entry []byte, pretty bool) error {
	var b []byte
	if pretty {
		var buf bytes.Buffer
		if err := json.Indent(&buf, entry, "", "  "); err == nil {
			b = buf.Bytes()
		}
	}
	if b == nil {
		b = bytes.TrimRight(entry, "\n")
	}
	b = append(b, '\n')
	if _, err := w.Write(b); err != nil {
		return ioErrorf("write: %w", err)
	}
	return nil
}

// entryView holds the fields of a stored entry shown to people.
type entryView struct {
	LogIndex   *uint64 `json:"log_index"`
	ID         string  `json:"id"`
	Seq        uint64  `json:"seq"`
	Tenant     string  `json:"tenant"`
	EntityType string  `json:"entity_type"`
	Who        string  `json:"who"`
	Did        string  `json:"did"`
	This       string  `json:"this"`
	When       string  `json:"when"`
	Status     string  `json:"status"`
	Signature  string  `json:"signature"`
}

func parseEntryView(line []byte) (entryView, error) {
	var v entryView
	if err := json.Unmarshal(line, &v); err != nil {
		return v, fmt.Errorf("malformed entry from server: %w", err)
	}
	if v.LogIndex == nil {
		return v, fmt.Errorf("entry from server without log_index: %s", truncateString(string(line), 120))
	}
	return v, nil
}

// oneLine is the compact human form of an entry used by tail.
func (v entryView) oneLine() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s %s %s · %s · %s", *v.LogIndex, v.When, v.Tenant,
		cell(v.Who, 48), cell(v.Did, 64), cell(v.This, 64))
	if v.EntityType != "" && v.EntityType != "span" {
		fmt.Fprintf(&b, " [%s]", v.EntityType)
	}
	if v.Status != "" {
		fmt.Fprintf(&b, " (%s)", v.Status)
	}
	if v.Signature != "" {
		b.WriteString(" signed")
	}
	fmt.Fprintf(&b, " id=%s", v.ID)
	if v.Seq > 0 {
		fmt.Fprintf(&b, " seq=%d", v.Seq)
	}
	return b.String()
}

// cell makes a value safe for one table cell: no tabs or line breaks,
// at most max runes.
func cell(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
	return truncateString(s, max)
}

func truncateString(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

// humanBytes renders a byte count with a binary unit.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// rate is count per second over d, 0 when d is 0.
func rate(count int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(count) / d.Seconds()
}

// newProgress returns a progress bar on w for max units (-1: unknown), or
// nil when w is not a terminal. All progress methods accept nil.
func newProgress(w io.Writer, tty bool, max int64, desc string, bytes bool) *progress {
	if !tty {
		return nil
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionFullWidth(),
	}
	if bytes {
		opts = append(opts, progressbar.OptionShowBytes(true), progressbar.OptionUseIECUnits(true))
	} else {
		opts = append(opts, progressbar.OptionShowCount())
	}
	if max < 0 {
		opts = append(opts, progressbar.OptionSpinnerType(14))
	}
	return &progress{bar: progressbar.NewOptions64(max, opts...)}
}

// progress wraps a progress bar; a nil *progress does nothing.
type progress struct{ bar *progressbar.ProgressBar }

func (p *progress) set(n int64) {
	if p != nil {
		_ = p.bar.Set64(n)
	}
}

func (p *progress) add(n int64) {
	if p != nil {
		_ = p.bar.Add64(n)
	}
}

// done removes the bar from the terminal.
func (p *progress) done() {
	if p != nil {
		_ = p.bar.Finish()
		_ = p.bar.Clear()
	}
}
