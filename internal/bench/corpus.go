package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logline/logline/internal/span"
)

// DefaultCorpus is the public corpus, relative to the directory that holds
// the repository (the repository's "..").
const DefaultCorpus = "shared/corpus/receipt.ndjson"

// maxCorpusTemplates bounds how many corpus lines are kept as templates.
const maxCorpusTemplates = 100_000

// corpus turns a file of spans into as many fresh spans as needed: span i
// is template i mod len with a new id. Templates are split around the id
// value so producing a span is two appends.
type corpus struct {
	source  string
	tmpl    []template
	skipped int
}

type template struct {
	pre, post []byte // the span JSON before and after the id's value
	tenant    string
}

// idPlaceholder marks where the id goes while a template is built (a
// JSON string no span id can equal).
const idPlaceholder = `"\u0000id\u0000"`

// findCorpus looks for DefaultCorpus next to the repository: in each
// directory from the working directory up to the root, as
// "../shared/corpus/…" and "shared/corpus/…".
func findCorpus() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		for _, p := range []string{
			filepath.Join(dir, "..", DefaultCorpus),
			filepath.Join(dir, DefaultCorpus),
		} {
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				return filepath.Clean(p)
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// loadCorpus reads path (one span per line). Lines that do not decode as
// spans are skipped and counted. An empty path, or a file with no usable
// line, gives generated templates.
func loadCorpus(path string) (*corpus, error) {
	c := &corpus{source: path}
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("corpus: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 1<<20), span.DefaultMaxSpanBytes*2)
		for sc.Scan() && len(c.tmpl) < maxCorpusTemplates {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			t, err := newTemplate(line)
			if err != nil {
				c.skipped++
				continue
			}
			c.tmpl = append(c.tmpl, t)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("corpus %s: %w", path, err)
		}
	}
	if len(c.tmpl) == 0 {
		c.source = "generated"
		for i := range 64 {
			line := fmt.Sprintf(`{"tenant":"bench","who":"user:%d","did":"recorded","this":"case:%d","when":"2026-01-%02dT%02d:04:05.678Z","status":"confirmed","confirmed_by":["group://g%d"],"data":{"amount":%d,"channel":"web","note":"generated span %d"}}`,
				i%7, i, 1+i%28, i%24, i%4, 100+i*37, i)
			t, err := newTemplate([]byte(line))
			if err != nil {
				return nil, fmt.Errorf("generated corpus: %w", err)
			}
			c.tmpl = append(c.tmpl, t)
		}
	}
	return c, nil
}

// newTemplate prepares one corpus span: server fields and any old hash or
// signature are dropped (a new id changes the hash), the id becomes a
// placeholder, and the result must decode as a span.
func newTemplate(line []byte) (template, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return template{}, err
	}
	for _, k := range []string{"curr_hash", "signature", "public_key", "log_index", "prev_hash", "received_at"} {
		delete(m, k)
	}
	tenantRaw, ok := m["tenant"]
	if !ok {
		tenantRaw = m["tenant_id"]
	}
	var tenant string
	if err := json.Unmarshal(tenantRaw, &tenant); err != nil || tenant == "" {
		return template{}, errors.New("no tenant")
	}
	m["id"] = json.RawMessage(idPlaceholder)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return template{}, err
	}
	out := bytes.TrimSpace(buf.Bytes())
	ph := []byte(idPlaceholder)
	i := bytes.Index(out, ph)
	if i < 0 {
		return template{}, errors.New("id placeholder lost")
	}
	t := template{pre: bytes.Clone(out[:i]), post: bytes.Clone(out[i+len(ph):]), tenant: tenant}
	if _, err := span.Decode(t.appendLine(nil, "probe-id"), span.DecodeOptions{}); err != nil {
		return template{}, err
	}
	return t, nil
}

func (t *template) appendLine(dst []byte, id string) []byte {
	dst = append(dst, t.pre...)
	dst = append(dst, '"')
	dst = append(dst, id...)
	dst = append(dst, '"')
	return append(dst, t.post...)
}

// appendLine appends span i (template i mod len) with the given id, no
// newline.
func (c *corpus) appendLine(dst []byte, id string, i int) []byte {
	return c.tmpl[i%len(c.tmpl)].appendLine(dst, id)
}

func (c *corpus) tenant(i int) string { return c.tmpl[i%len(c.tmpl)].tenant }

// ids names spans uniquely per run: "b<8 hex>-<kind><i>", so runs against
// one long-lived server never collide.
type ids struct{ prefix string }

func newIDs() ids {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return ids{prefix: "b" + hex.EncodeToString(b[:]) + "-"}
}

func (d ids) id(kind string, i int) string { return d.prefix + kind + strconv.Itoa(i) }

// body is one NDJSON request body.
type body struct {
	data  []byte
	lines int
}

// makeBodies builds n spans of the given id kind as NDJSON bodies of
// batch lines each. With kp non-nil each span is signed client-side with
// span.Sign first (in parallel); signSecs is then the signing time.
func makeBodies(ctx context.Context, c *corpus, d ids, kind string, n, batch int, kp *span.KeyPair) (bodies []body, bytesTotal int64, signSecs float64, err error) {
	nb := (n + batch - 1) / batch
	bodies = make([]body, nb)
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	start := time.Now()
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			var line []byte
			for {
				b := int(next.Add(1) - 1)
				if b >= nb || ctx.Err() != nil {
					return
				}
				lo, hi := b*batch, min(n, (b+1)*batch)
				buf := make([]byte, 0, (hi-lo)*600)
				for i := lo; i < hi; i++ {
					line = c.appendLine(line[:0], d.id(kind, i), i)
					if kp != nil {
						signed, err := span.Sign(line, *kp, span.DecodeOptions{})
						if err != nil {
							errOnce.Do(func() { firstErr = fmt.Errorf("sign span %d: %w", i, err) })
							return
						}
						buf = append(buf, signed...)
					} else {
						buf = append(buf, line...)
					}
					buf = append(buf, '\n')
				}
				bodies[b] = body{data: buf, lines: hi - lo}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, 0, 0, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, 0, err
	}
	for _, b := range bodies {
		bytesTotal += int64(len(b.data))
	}
	if kp != nil {
		signSecs = sinceSecs(start)
	}
	return bodies, bytesTotal, signSecs, nil
}

// lines builds n single spans (no newline) of the given id kind.
func (c *corpus) lines(d ids, kind string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = c.appendLine(nil, d.id(kind, i), i)
	}
	return out
}

// genReader is an endless-until-limit NDJSON body: fresh spans are made as
// they are read, so a body of any size costs no memory.
type genReader struct {
	c     *corpus
	d     ids
	kind  string
	limit int64 // stop after the line that reaches limit bytes

	n     int64 // bytes produced
	i     int   // next span
	buf   []byte
	off   int
	spans int
}

func (g *genReader) Read(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		if g.off == len(g.buf) {
			if g.n >= g.limit {
				break
			}
			g.buf = g.c.appendLine(g.buf[:0], g.d.id(g.kind, g.i), g.i)
			g.buf = append(g.buf, '\n')
			g.off = 0
			g.i++
			g.spans++
			g.n += int64(len(g.buf))
		}
		k := copy(p, g.buf[g.off:])
		g.off += k
		p = p[k:]
		total += k
	}
	if total == 0 {
		return 0, io.EOF
	}
	return total, nil
}
