package crashtest

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	flagSeed   = flag.Uint64("crash.seed", 0, "random seed of the crash tests (0: taken from the clock and logged)")
	flagRounds = flag.Int("crash.rounds", 0, "kill/restart rounds of TestKillDuringIngest (0: $LOGLINE_CRASH_ROUNDS, else 20)")
	flagRace   = flag.Bool("crash.race", false, "build the logline binary with -race")
	flagBin    = flag.String("crash.bin", "", "test this logline binary instead of building one")
)

const (
	// defaultRounds is the number of kill/restart rounds in a default run.
	defaultRounds = 20
	// roundsEnv sets the rounds when -crash.rounds is not given.
	roundsEnv = "LOGLINE_CRASH_ROUNDS"
)

// binPath is the logline binary under test, set by TestMain.
var binPath string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if *flagBin != "" {
		p, err := filepath.Abs(*flagBin)
		if err != nil {
			fmt.Fprintf(os.Stderr, "crashtest: -crash.bin: %v\n", err)
			return 2
		}
		binPath = p
		return m.Run()
	}
	tmp, err := os.MkdirTemp("", "logline-crashtest-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "crashtest: %v\n", err)
		return 2
	}
	defer os.RemoveAll(tmp)
	start := time.Now()
	binPath = filepath.Join(tmp, "logline")
	if err := buildBinary(binPath, *flagRace); err != nil {
		fmt.Fprintf(os.Stderr, "crashtest: building logline: %v\n", err)
		return 1
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "crashtest: built %s in %v (race=%v)\n", binPath, time.Since(start).Round(time.Millisecond), *flagRace)
	}
	return m.Run()
}

// buildBinary builds ./cmd/logline of this module into out, once per run:
// every server start then execs the binary (no `go run` per start).
func buildBinary(out string, race bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	var stderr bytes.Buffer
	list := exec.CommandContext(ctx, goTool, "list", "-m", "-f", "{{.Dir}}")
	list.Stderr = &stderr
	dir, err := list.Output()
	if err != nil {
		return fmt.Errorf("go list -m: %v\n%s", err, stderr.Bytes())
	}
	args := []string{"build", "-o", out}
	if race {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/logline")
	build := exec.CommandContext(ctx, goTool, args...)
	build.Dir = strings.TrimSpace(string(dir))
	if b, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s (in %s): %v\n%s", strings.Join(args, " "), build.Dir, err, b)
	}
	return nil
}

// runSeed is the seed of this run: -crash.seed, or the clock.
var runSeed = sync.OnceValue(func() uint64 {
	if *flagSeed != 0 {
		return *flagSeed
	}
	return uint64(time.Now().UnixNano())
})

// newRand returns the test's random source. It is derived from the run
// seed and the test name, and the seed is logged so that a failure can be
// replayed with -crash.seed (timing still varies between runs; the
// workload and the kill schedule do not).
func newRand(t *testing.T) (*rand.Rand, uint64) {
	t.Helper()
	seed := runSeed()
	t.Logf("seed %d (replay: go test ./internal/crashtest -run '^%s$' -crash.seed=%d)", seed, t.Name(), seed)
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	return rand.New(rand.NewPCG(seed, h.Sum64())), seed
}

// subRand derives an independent source for one goroutine of one round.
func subRand(seed uint64, parts ...int) *rand.Rand {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(strconv.Itoa(p) + "/"))
	}
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// rounds is the number of kill/restart rounds: -crash.rounds, then
// $LOGLINE_CRASH_ROUNDS, then defaultRounds (fewer with -short).
func rounds(t *testing.T) int {
	t.Helper()
	if *flagRounds > 0 {
		return *flagRounds
	}
	if v := os.Getenv(roundsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("%s=%q: want a positive integer", roundsEnv, v)
		}
		return n
	}
	if testing.Short() {
		return 5
	}
	return defaultRounds
}
