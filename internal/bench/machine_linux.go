package bench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }

// platformMachine reads /proc for the CPU model, memory, kernel and the
// mount that holds dir.
func platformMachine(m *Machine, dir string) {
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				f := strings.Fields(rest)
				if len(f) >= 1 {
					if kb, err := strconv.ParseUint(f[0], 10, 64); err == nil {
						m.MemoryBytes = kb * 1024
					}
				}
				break
			}
		}
	}
	var u syscall.Utsname
	if err := syscall.Uname(&u); err == nil {
		m.Kernel = utsString(u.Sysname[:]) + " " + utsString(u.Release[:])
	}
	m.Filesystem = mountOf(dir)
	m.LoadStart = loadAverage()
}

// loadAverage is the 1, 5 and 15 minute load average.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func utsString[T int8 | uint8](b []T) string {
	var sb strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}

// mountOf names the filesystem type, device and options of the longest
// mount point containing dir (from /proc/self/mounts).
func mountOf(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return ""
	}
	defer f.Close()
	best, bestLen := "", -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 4 {
			continue
		}
		mnt := unescapeMount(fl[1])
		if mnt != "/" && abs != mnt && !strings.HasPrefix(abs, mnt+"/") {
			continue
		}
		if len(mnt) > bestLen {
			bestLen = len(mnt)
			best = fmt.Sprintf("%s on %s (%s, %s)", fl[2], mnt, unescapeMount(fl[0]), fl[3])
		}
	}
	return best
}

// unescapeMount undoes the octal escapes of /proc/self/mounts ("\040").
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cpuTimes is the CPU time of all processes, the machine's total CPU time
// and this process's CPU time, in seconds.
type cpuTimes struct{ busy, total, self float64 }

// clockTicks is USER_HZ, the unit of /proc/stat (100 on every Linux
// architecture Go supports).
const clockTicks = 100

func readCPUTimes() (cpuTimes, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return cpuTimes{}, false
	}
	var v [8]float64
	for i := range v {
		n, err := strconv.ParseUint(f[i+1], 10, 64)
		if err != nil {
			return cpuTimes{}, false
		}
		v[i] = float64(n) / clockTicks
	}
	// user nice system idle iowait irq softirq steal. Processes' time is
	// user+nice+system; interrupts and hypervisor steal are nobody's.
	busy := v[0] + v[1] + v[2]
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return cpuTimes{}, false
	}
	self := float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	return cpuTimes{busy: busy, total: busy + v[3] + v[4] + v[5] + v[6] + v[7], self: self}, true
}

// pgProc is one PostgreSQL server process: when it started (clock ticks
// after boot) and the CPU seconds it has used.
type pgProc struct{ start, cpu float64 }

// postgresAux are the titles of the server's own processes, which work
// for every database (WAL, checkpoints, vacuum).
var postgresAux = []string{"checkpointer", "background writer", "walwriter", "autovacuum launcher",
	"logical replication launcher", "archiver", "stats collector", "walsender", "walreceiver", "startup"}

// postgresProcs returns the PostgreSQL server processes on this machine
// that work for database db: its backends and autovacuum workers (their
// process title names db), the server's own processes, and the
// postmaster. Backends of other databases are left out.
func postgresProcs(db string) (map[int]pgProc, bool) {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, false
	}
	out := map[int]pgProc{}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open || s[open+1:closing] != "postgres" {
			continue
		}
		title, err := os.ReadFile("/proc/" + d.Name() + "/cmdline")
		if err != nil || !postgresForDB(strings.TrimRight(strings.ReplaceAll(string(title), "\x00", " "), " "), db) {
			continue
		}
		f := strings.Fields(s[closing+1:])
		if len(f) < 20 {
			continue
		}
		utime, err1 := strconv.ParseFloat(f[11], 64)
		stime, err2 := strconv.ParseFloat(f[12], 64)
		start, err3 := strconv.ParseFloat(f[19], 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		out[pid] = pgProc{start: start, cpu: (utime + stime) / clockTicks}
	}
	return out, true
}

// postgresForDB reports whether a PostgreSQL process title belongs to db
// or to the server itself.
func postgresForDB(title, db string) bool {
	rest, ok := strings.CutPrefix(title, "postgres:")
	if !ok {
		return true // the postmaster: its command line, not a title
	}
	if slices.Contains(strings.Fields(rest), db) {
		return true
	}
	for _, aux := range postgresAux {
		if strings.HasSuffix(strings.TrimSpace(rest), aux) {
			return true
		}
	}
	return false
}
