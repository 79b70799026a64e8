package cli

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestCheckMetricsListen(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:9420", true},
		{"127.0.0.1:0", true},
		{"localhost:9420", true},
		{"[::1]:9420", true},
		{"10.1.2.3:9420", true},
		{"172.16.0.9:9420", true},
		{"192.168.1.20:9420", true},
		{"[fd00::1]:9420", true},
		{"0.0.0.0:9420", false},
		{"[::]:9420", false},
		{":9420", false}, // every interface
		{"8.8.8.8:9420", false},
		{"172.32.0.1:9420", false}, // just outside 172.16.0.0/12
		{"[2001:db8::1]:9420", false},
		{"metrics.example.com:9420", false},
		{"127.0.0.1", false}, // no port
	} {
		t.Run(tc.addr, func(t *testing.T) {
			err := checkMetricsListen(tc.addr)
			if (err == nil) != tc.ok {
				t.Fatalf("checkMetricsListen(%q) = %v, want ok=%v", tc.addr, err, tc.ok)
			}
			if err != nil && exitCode(err) != ExitUsage {
				t.Errorf("exit code %d, want %d (usage)", exitCode(err), ExitUsage)
			}
		})
	}
}

// TestServeMetricsListen: serve --metrics-listen serves GET /metrics
// without a token on its own listener (and nothing else there), counting
// the main listener's requests and the ledger's appends; on --addr the
// same route still wants a token.
func TestServeMetricsListen(t *testing.T) {
	data := t.TempDir()
	url, _, log := runServeAuth(t, data, "--metrics-listen", "127.0.0.1:0")
	maddr := waitMetricsAddr(t, log, regexp.MustCompile(`"metrics_addr":"([^"]+)"`))

	if resp := metricsGet(t, url+"/metrics"); resp.code != http.StatusUnauthorized {
		t.Errorf("GET /metrics on --addr without a token: %d, want 401", resp.code)
	}
	if resp := metricsGet(t, "http://"+maddr+"/spans"); resp.code != http.StatusNotFound {
		t.Errorf("GET /spans on the metrics listener: %d, want 404", resp.code)
	}
	resp := metricsGet(t, "http://"+maddr+"/metrics")
	if resp.code != http.StatusOK {
		t.Fatalf("GET /metrics on --metrics-listen without a token: %d %s", resp.code, resp.body)
	}
	for _, want := range []string{
		`logline_http_requests_total{code="401",method="GET",route="/metrics"} 1`,
		"\nlogline_ledger_entries ",
		"\nlogline_ledger_backlog_spans 0\n",
		"\ngo_goroutines ",
	} {
		if !strings.Contains(resp.body, want) {
			t.Errorf("the metrics listener's answer lacks %q", want)
		}
	}
}

// TestServeMetricsCountAppends: with serve's wiring, an ingest moves the
// HTTP, ledger and receipt metrics.
func TestServeMetricsCountAppends(t *testing.T) {
	url, _, log := runServe(t, t.TempDir(), "--metrics-listen", "127.0.0.1:0")
	maddr := waitMetricsAddr(t, log, regexp.MustCompile(`"metrics_addr":"([^"]+)"`))
	body := `{"tenant":"acme","id":"met1","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05Z"}`
	r, err := http.Post(url+"/ingest", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("ingest: %d", r.StatusCode)
	}
	resp := metricsGet(t, "http://"+maddr+"/metrics")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`\nlogline_http_requests_total\{code="201",method="POST",route="/ingest"\} 1\n`),
		regexp.MustCompile(`\nlogline_ledger_receipts_issued_total 1\n`),
		regexp.MustCompile(`\nlogline_ledger_spans_appended_total [1-9]`),
		regexp.MustCompile(`\nlogline_ledger_append_duration_seconds_count [1-9]`),
		regexp.MustCompile(`\nlogline_ledger_entries [1-9]`),
	} {
		if !want.MatchString(resp.body) {
			t.Errorf("the metrics lack %s", want)
		}
	}
}

type metricsAnswer struct {
	code int
	body string
}

func metricsGet(t *testing.T, url string) metricsAnswer {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return metricsAnswer{resp.StatusCode, string(b)}
}

// waitMetricsAddr waits until serve's log matches re and returns its first
// group.
func waitMetricsAddr(t *testing.T, log *syncBuf, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := re.FindStringSubmatch(log.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve never logged %s:\n%s", re, log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
