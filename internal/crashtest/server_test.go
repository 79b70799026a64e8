package crashtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// startTimeout bounds how long serve may take to open the ledger and
	// listen (recovery of a large torn segment included).
	startTimeout = 60 * time.Second
	// stopTimeout bounds a graceful stop (SIGTERM to exit).
	stopTimeout = 15 * time.Second
	// cmdTimeout bounds one `logline verify`.
	cmdTimeout = 2 * time.Minute
)

// server is one `logline serve` process.
type server struct {
	dir    string
	cmd    *exec.Cmd
	addr   string // HOST:PORT it listens on
	base   string // http://HOST:PORT
	http   *http.Client
	out    *syncBuffer // stdout and stderr
	exited chan struct{}
	err    error // from Wait; read after exited is closed
}

// syncBuffer is a bytes.Buffer safe for a writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// listeningRE matches the log line serve writes once it listens; it is
// the fallback when the address file is not there.
var listeningRE = regexp.MustCompile(`listening on http://(127\.0\.0\.1:[0-9]+)`)

// spawn starts `logline serve` on dir (with the extra flags, e.g.
// --store) without waiting for it to listen. t.Cleanup kills it if the
// test leaves it running.
func spawn(t *testing.T, dir string, extra ...string) *server {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), "addr")
	s := &server{dir: dir, out: new(syncBuffer), exited: make(chan struct{})}
	s.cmd = exec.Command(binPath, append([]string{"serve", "--dev", "--data", dir, "--addr", "127.0.0.1:0", "--addr-file", addrFile}, extra...)...)
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	s.cmd.Env = append(os.Environ(), "LOGLINE_LOG_LEVEL=info")
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s serve: %v", binPath, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		if !s.hasExited() {
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	})
	s.addr = addrFile // resolved by waitListening
	return s
}

// startServer starts serve on dir (with the extra flags) and waits until
// it listens.
func startServer(t *testing.T, dir string, extra ...string) *server {
	t.Helper()
	s := spawn(t, dir, extra...)
	if err := s.waitListening(startTimeout); err != nil {
		t.Fatalf("serve --data %s did not start: %v\noutput:\n%s", dir, err, s.out)
	}
	return s
}

// waitListening waits for the address file (or the "listening on" log
// line). It fails when the process exits first.
func (s *server) waitListening(timeout time.Duration) error {
	addrFile := s.addr
	deadline := time.Now().Add(timeout)
	for {
		if b, err := os.ReadFile(addrFile); err == nil && bytes.HasSuffix(b, []byte("\n")) {
			s.setAddr(strings.TrimSpace(string(b)))
			return nil
		}
		if m := listeningRE.FindStringSubmatch(s.out.String()); m != nil {
			s.setAddr(m[1])
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("exited before listening: %v", s.err)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening after %v", timeout)
		}
	}
}

func (s *server) setAddr(addr string) {
	s.addr = addr
	s.base = "http://" + addr
	s.http = &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}}
}

func (s *server) hasExited() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Kill(); err != nil && !s.hasExited() {
		t.Fatalf("kill serve: %v", err)
	}
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		t.Fatalf("serve still running %v after SIGKILL", stopTimeout)
	}
	if s.http != nil {
		s.http.CloseIdleConnections()
	}
}

// stop sends SIGTERM and waits up to timeout. It returns the exit code
// and how long the process took to exit.
func (s *server) stop(t *testing.T, timeout time.Duration) (code int, took time.Duration) {
	t.Helper()
	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !s.hasExited() {
		t.Fatalf("SIGTERM serve: %v", err)
	}
	select {
	case <-s.exited:
	case <-time.After(timeout):
		t.Fatalf("serve did not exit within %v of SIGTERM\noutput:\n%s", timeout, s.out)
	}
	if s.http != nil {
		s.http.CloseIdleConnections()
	}
	return exitCode(s.err), time.Since(start)
}

// stopOK stops the server gracefully and requires exit status 0.
func (s *server) stopOK(t *testing.T) {
	t.Helper()
	if code, _ := s.stop(t, stopTimeout); code != 0 {
		t.Fatalf("serve exit status after SIGTERM: got %d, want 0\noutput:\n%s", code, s.out)
	}
}

// exitCode is the exit status of a finished command (-1 when it was
// killed by a signal or never ran).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// logRecord is one JSON log line of serve (slog's JSON handler).
type logRecord map[string]any

// logRecords returns the JSON log lines of the server whose message
// contains msg.
func (s *server) logRecords(msg string) []logRecord {
	var recs []logRecord
	for _, line := range strings.Split(s.out.String(), "\n") {
		if !strings.Contains(line, msg) {
			continue
		}
		var r logRecord
		if json.Unmarshal([]byte(line), &r) != nil {
			r = logRecord{"msg": line} // not JSON: keep the text
		}
		recs = append(recs, r)
	}
	return recs
}

// runVerify runs `logline verify --data dir` and returns its exit code and
// combined output.
func runVerify(t *testing.T, dir string) (int, string) {
	t.Helper()
	return runLogline(t, "verify", "--data", dir)
}

// verifyOK requires `logline verify --data dir` to pass and reports
// whether it did.
func verifyOK(t *testing.T, dir string) bool {
	t.Helper()
	start := time.Now()
	code, out := runVerify(t, dir)
	if code != 0 {
		t.Errorf("logline verify --data %s: exit status got %d, want 0\n%s", dir, code, out)
		return false
	}
	t.Logf("verify --data %s: ok in %v", dir, time.Since(start).Round(time.Millisecond))
	return true
}
