package cli

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/logline/logline/internal/client"
	"github.com/logline/logline/internal/durable"
	"github.com/logline/logline/internal/span"
	"github.com/logline/logline/internal/tlog"
)

// Files of the client's trust directory, one subdirectory per server:
//
//	<trust-dir>/<server>/log.key      the log key(s) trusted (pinned on first use)
//	<trust-dir>/<server>/checkpoint   the newest checkpoint verified so far
const (
	trustKeyFile        = "log.key"
	trustCheckpointFile = "checkpoint"
)

// defaultTrustDir is <user config dir>/logline/trust.
func defaultTrustDir() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return filepath.Join(".logline", "trust")
	}
	return filepath.Join(dir, "logline", "trust")
}

// serverDirName turns a server URL into a directory name.
func serverDirName(server string) string {
	u, err := url.Parse(server)
	host := server
	if err == nil && u.Host != "" {
		host = u.Host + u.Path
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, strings.TrimSuffix(host, "/"))
}

// verifyEntry proves that entry is in the server's log, as a client that
// trusts nothing but a log key would: the entry's own hash (and signature),
// the latest checkpoint's signature, the checkpoint's consistency with the
// newest one this client verified before, and the entry's inclusion in
// the checkpoint's tree. It returns what it verified, for the person.
func (a *app) verifyEntry(ctx context.Context, c *client.Client, o getOptions, entry []byte) ([]string, error) {
	var said []string
	e, err := span.ParseEntry(entry)
	if err != nil {
		return nil, failErrorf("the entry does not verify: %v", err)
	}
	sig := "unsigned"
	if e.Signed {
		sig = "client signature valid"
	}
	said = append(said, fmt.Sprintf("entry       log index %d: canonical, curr_hash matches its content, %s", e.LogIndex, sig))

	tl, more, err := checkLogGrowth(ctx, c, o.server, o.trustDir, o.logKey)
	said = append(said, more...)
	if err != nil {
		return nil, err
	}
	cp := tl.checkpoint
	if e.LogIndex >= cp.Size {
		return nil, failErrorf("log index %d is not in the checkpoint of size %d yet; retry", e.LogIndex, cp.Size)
	}
	body, err := c.InclusionProof(ctx, e.LogIndex, cp.Size)
	if err != nil {
		return nil, err
	}
	var ip tlog.InclusionProof
	if err := ip.UnmarshalJSON([]byte(strings.TrimSpace(string(body)))); err != nil {
		return nil, failErrorf("inclusion proof: %v", err)
	}
	leaf := sha256.Sum256(append([]byte{0}, entry...))
	if ip.Index != e.LogIndex || ip.Size != cp.Size || ip.LeafHash != leaf {
		return nil, failErrorf("the inclusion proof is not for this entry (index %d, size %d)", ip.Index, ip.Size)
	}
	if err := ip.Verify(cp.Root); err != nil {
		return nil, failErrorf("the entry is not in the checkpoint's tree: %v", err)
	}
	said = append(said, fmt.Sprintf("inclusion   the entry is leaf %d of the checkpoint's tree", e.LogIndex))
	if err := tl.remember(); err != nil {
		return nil, err
	}
	return said, nil
}

// trustedLog is a server's latest checkpoint, verified against the
// client's trusted log key and the newest checkpoint it verified before.
type trustedLog struct {
	dir        string // the server's trust directory
	origin     string
	note       []byte
	checkpoint tlog.Checkpoint
	previous   *tlog.Checkpoint // nil on first use
}

// remember makes the checkpoint the newest one verified.
func (t *trustedLog) remember() error {
	if err := durable.MkdirAll(t.dir, 0o700); err != nil {
		return ioErrorf("trust dir: %w", err)
	}
	if err := durable.WriteFile(filepath.Join(t.dir, trustCheckpointFile), t.note, 0o600); err != nil {
		return ioErrorf("trust dir: %w", err)
	}
	return nil
}

// checkLogGrowth fetches the server's latest checkpoint and verifies its
// signature with the trusted log key (pinned in trustDir on first use, or
// read from logKey) and its consistency with the newest checkpoint this
// client verified before: a rollback or a fork fails. It does not
// remember the checkpoint; the caller does once all its checks passed.
// said reports what was verified, also on failure.
func checkLogGrowth(ctx context.Context, c *client.Client, server, trustDir, logKey string) (*trustedLog, []string, error) {
	var said []string
	dir := filepath.Join(trustDir, serverDirName(server))
	keyText, err := os.ReadFile(filepath.Join(dir, trustKeyFile))
	switch {
	case logKey != "":
		if keyText, err = os.ReadFile(logKey); err != nil {
			return nil, said, ioErrorf("--log-key: %w", err)
		}
		said = append(said, "log key     from "+logKey)
	case errors.Is(err, fs.ErrNotExist):
		if keyText, err = c.LogKey(ctx); err != nil {
			return nil, said, err
		}
		if err := durable.MkdirAll(dir, 0o700); err != nil {
			return nil, said, ioErrorf("trust dir: %w", err)
		}
		if err := durable.WriteFile(filepath.Join(dir, trustKeyFile), keyText, 0o600); err != nil {
			return nil, said, ioErrorf("trust dir: %w", err)
		}
		said = append(said, "log key     first use: now trusting the key this server publishes (pinned in "+dir+")")
	case err != nil:
		return nil, said, ioErrorf("trust dir: %w", err)
	default:
		said = append(said, "log key     the one pinned in "+dir)
	}
	origin, vs, err := parseLogKeys(keyText, "log key")
	if err != nil {
		return nil, said, err
	}

	cpNote, err := c.Checkpoint(ctx)
	if err != nil {
		return nil, said, err
	}
	cp, err := tlog.ParseCheckpoint(cpNote, vs, origin)
	if err != nil {
		return nil, said, failErrorf("the server's checkpoint does not verify with the trusted log key: %v", err)
	}
	said = append(said, fmt.Sprintf("checkpoint  size %d, signed by %s", cp.Size, origin))
	tl := &trustedLog{dir: dir, origin: origin, note: cpNote, checkpoint: cp}

	trustedNote, err := os.ReadFile(filepath.Join(dir, trustCheckpointFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		said = append(said, "consistency first checkpoint seen from this server: nothing to compare with yet")
		return tl, said, nil
	case err != nil:
		return nil, said, ioErrorf("trust dir: %w", err)
	}
	old, err := tlog.ParseCheckpoint(trustedNote, vs, origin)
	if err != nil {
		return nil, said, failErrorf("the checkpoint trusted before (%s) does not verify: %v", filepath.Join(dir, trustCheckpointFile), err)
	}
	tl.previous = &old
	switch {
	case old.Size > cp.Size:
		return nil, said, failErrorf("the server's checkpoint (size %d) is older than one verified before (size %d): the log went back", cp.Size, old.Size)
	case old.Size == cp.Size && old.Root != cp.Root:
		return nil, said, failErrorf("the server signed two different trees of size %d: the log is forked", cp.Size)
	case old.Size < cp.Size:
		body, err := c.ConsistencyProof(ctx, old.Size, cp.Size)
		if err != nil {
			return nil, said, err
		}
		var p tlog.ConsistencyProof
		if err := p.UnmarshalJSON([]byte(strings.TrimSpace(string(body)))); err != nil {
			return nil, said, failErrorf("consistency proof: %v", err)
		}
		if p.From != old.Size || p.To != cp.Size {
			return nil, said, failErrorf("consistency proof is for %d → %d, asked %d → %d", p.From, p.To, old.Size, cp.Size)
		}
		if err := tlog.VerifyConsistency(old.Size, cp.Size, p.Hashes, old.Root, cp.Root); err != nil {
			return nil, said, failErrorf("the log is not an extension of the checkpoint verified before (size %d): %v", old.Size, err)
		}
	}
	said = append(said, fmt.Sprintf("consistency the log only grew since the checkpoint verified before (size %d)", old.Size))
	return tl, said, nil
}

// parseLogKeys reads the text of GET /log/key (verifier keys, one per line,
// the active one first) and returns the log's origin and its verifiers.
func parseLogKeys(text []byte, source string) (string, note.Verifiers, error) {
	lk, err := tlog.ParseLogKeys(text)
	if err != nil {
		return "", nil, usageErrorf("%s: %v", source, err)
	}
	return lk.Origin, lk.Verifiers, nil
}
