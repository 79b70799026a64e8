package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// PGStore is LogLine on PostgreSQL, measured in the same run as the
// embedded store and the raw Blueprint4 baseline: in-process servers as
// `logline serve --store URL` runs them, on a database of their own, over
// real HTTP. Everything LogLine adds is paid: hashes, tenant chains,
// Merkle stored hashes, a signed checkpoint per commit, RLS.
type PGStore struct {
	PGServer
	Database string       `json:"database"`
	Ingest   []Throughput `json:"ingest"`  // "1 node", then "2 nodes" (one database)
	Latency  Latency      `json:"latency"` // single-span POST /ingest through one node
	Stream   Throughput   `json:"stream"`  // GET /ledger/stream from 0, one node
	// CPU microseconds per span during the one-node ingest: this
	// process's (clients and server) and the PostgreSQL processes' that
	// work for the database (its backends, WAL writer, checkpointer, …).
	GoCPUMicros       float64 `json:"go_cpu_us_per_span"`
	PostgresCPUMicros float64 `json:"postgres_cpu_us_per_span"`
	// OtherCPUShare is the share of all cores that other processes used
	// while the section ran: neither this one nor PostgreSQL working for
	// the bench database. -1 when unknown.
	OtherCPUShare float64 `json:"other_cpu_share"`
	Skipped       string  `json:"skipped,omitempty"`
	Error         string  `json:"error,omitempty"`
}

// pgStoreOptions sizes the section.
type pgStoreOptions struct {
	URL             string // an administrator's URL: the section creates and drops its database
	Work            string // parent of the nodes' data directories (keys, receipts, checkpoints)
	Spans           int    // per ingest run
	Clients         int
	Batch           int
	LatencyClients  int
	LatencyRequests int
	Timeout         time.Duration
	Log             *slog.Logger // progress
	ServerLog       *slog.Logger // the in-process servers
}

// measurePGStore runs the section in a new database logline_bench_<pid>,
// dropped afterwards. An unreachable server is a skip (Skipped says why)
// with errUnreachable.
func measurePGStore(ctx context.Context, c *corpus, d ids, o pgStoreOptions) (res PGStore, err error) {
	res.OtherCPUShare = -1
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		res.Skipped = "LogLine on PostgreSQL needs a postgres:// URL"
		return res, nil
	}
	adm, skipped, err := openPGAdmin(ctx, o.URL)
	if adm == nil {
		res.Skipped = skipped
		return res, err
	}
	admin := adm.conn
	defer admin.Close(context.WithoutCancel(ctx))
	res.PGServer = adm.PGServer
	res.Database = "logline_bench_" + strconv.Itoa(os.Getpid())
	db := pgx.Identifier{res.Database}.Sanitize()
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
		return res, fmt.Errorf("postgres: drop old database: %w", err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		return res, fmt.Errorf("postgres: create database: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, derr := admin.Exec(dctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); derr != nil {
			err = errors.Join(err, fmt.Errorf("postgres: drop database: %w", derr))
		}
	}()
	u.Path = "/" + res.Database
	dbURL := u.String()

	cpuStart, okStart := readCPUTimes()
	pg := watchPostgres(res.Database)
	defer func() {
		cpuEnd, okEnd := readCPUTimes()
		if total, ok := pg.stop(); ok {
			res.OtherCPUShare = otherShare(cpuStart, cpuEnd, okStart && okEnd, total)
		}
	}()

	node := func(i int) (*localServer, *target, error) {
		srv, err := startLocalPG(ctx, filepath.Join(o.Work, "pg-node-"+strconv.Itoa(i)), dbURL, "bench-"+strconv.Itoa(i), o.ServerLog)
		if err != nil {
			return nil, nil, fmt.Errorf("start node %d: %w", i, err)
		}
		return srv, &target{base: srv.url, hc: newHTTPClient()}, nil
	}
	srv1, t1, err := node(1)
	if err != nil {
		return res, err
	}
	defer func() {
		t1.hc.CloseIdleConnections()
		err = errors.Join(err, srv1.Close())
	}()
	var errs []error
	fail := func(what, msg string) {
		if msg != "" {
			errs = append(errs, fmt.Errorf("%s: %s", what, msg))
		}
	}

	// One node.
	o.Log.Info("bench: LogLine on PostgreSQL, NDJSON ingest through one node", "spans", o.Spans)
	bodies, _, _, err := makeBodies(ctx, c, d, "g", o.Spans, o.Batch, nil)
	if err != nil {
		return res, err
	}
	a, okA := readCPUTimes()
	pgA, okPGA := pg.total()
	one, _ := ingestBodies(ctx, t1, "1 node", bodies, o.Clients, o.Batch, time.Now().Add(o.Timeout))
	b, okB := readCPUTimes()
	pgB, okPGB := pg.total()
	res.Ingest = append(res.Ingest, one)
	fail("ingest through one node", one.Error)
	res.GoCPUMicros = cpuPerEntry(a, b, okA && okB, uint64(one.Spans))
	if okPGA && okPGB && one.Spans > 0 {
		res.PostgresCPUMicros = (pgB - pgA) * 1e6 / float64(one.Spans)
	}

	// Two nodes on the database, the clients split between them.
	o.Log.Info("bench: LogLine on PostgreSQL, NDJSON ingest through two nodes", "spans", o.Spans)
	if bodies, _, _, err = makeBodies(ctx, c, d, "h", o.Spans, o.Batch, nil); err != nil {
		return res, err
	}
	srv2, t2, err := node(2)
	if err != nil {
		return res, err
	}
	two := ingestSplit(ctx, []*target{t1, t2}, "2 nodes", bodies, o.Clients, o.Batch, time.Now().Add(o.Timeout))
	t2.hc.CloseIdleConnections()
	res.Ingest = append(res.Ingest, two)
	fail("ingest through two nodes", two.Error)
	if err := srv2.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close node 2: %w", err))
	}
	bodies = nil

	o.Log.Info("bench: LogLine on PostgreSQL, single-span POST latency", "clients", o.LatencyClients, "requests", o.LatencyRequests)
	res.Latency = ingestLatency(ctx, t1, c, d, o.LatencyClients, o.LatencyRequests, time.Now().Add(o.Timeout))
	fail("single-span latency", res.Latency.Error)

	o.Log.Info("bench: LogLine on PostgreSQL, stream from cursor 0")
	res.Stream = streamAll(ctx, t1, time.Now().Add(o.Timeout))
	fail("stream", res.Stream.Error)
	return res, errors.Join(errs...)
}

// pgWatch adds up the CPU time of the PostgreSQL processes working for a
// database (postgresProcs), read every pgWatchEvery: backends and
// autovacuum workers that end meanwhile are counted up to their last
// reading.
type pgWatch struct {
	db   string
	mu   sync.Mutex // guards last, sum, ok
	last map[int]pgProc
	sum  float64
	ok   bool
	quit chan struct{}
	done chan struct{}
}

const pgWatchEvery = 200 * time.Millisecond

func watchPostgres(db string) *pgWatch {
	w := &pgWatch{db: db, quit: make(chan struct{}), done: make(chan struct{})}
	w.last, w.ok = postgresProcs(db)
	go func() {
		defer close(w.done)
		t := time.NewTicker(pgWatchEvery)
		defer t.Stop()
		for {
			select {
			case <-w.quit:
				return
			case <-t.C:
				w.total()
			}
		}
	}()
	return w
}

// total reads the processes now and returns the CPU seconds so far.
func (w *pgWatch) total() (float64, bool) {
	now, ok := postgresProcs(w.db)
	w.mu.Lock()
	defer w.mu.Unlock()
	if !ok || !w.ok {
		w.ok = false
		return 0, false
	}
	w.sum += postgresCPU(w.last, now)
	w.last = now
	return w.sum, true
}

// stop ends the watch and returns the total.
func (w *pgWatch) stop() (float64, bool) {
	close(w.quit)
	<-w.done
	return w.total()
}
