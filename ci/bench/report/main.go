// Command report turns the blocks of a ci/bench.sh run into one markdown
// table of medians and ratios, and optionally an SVG chart of µs per spawn
// against the parent's heap size. It is a module of its own so that the main
// module keeps its two dependencies.
//
// Each block file holds benchmark lines in Go's format, from `go test -bench`
// and from ci/bench/loops.c alike:
//
//	NAME[-GOMAXPROCS]  ITERATIONS  NS ns/op  [... N allocs/op]
//
// A ratio is taken within each block (the two numbers were measured minutes
// apart at most, under the same load) and its median over the blocks is
// reported with the range.
//
// The Go benchmarks alone are compared with benchstat (ci/bench.sh runs it,
// a tool of this module): allocations per spawn, and each backend against
// os/exec with confidence intervals, are read there. This tool keeps what
// benchstat cannot do: the C loops' rows and each method's ratio to its C
// loop, the heap and concurrency tables, the targets and the SVG chart.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

type result struct {
	ns      float64
	cpu     float64            // the parent's CPU time per spawn (cpu-ns/op); -1: not reported
	allocs  float64            // -1: not reported
	metrics map[string]float64 // every "VALUE UNIT" after ns/op, by unit
}

// run is every block's results by benchmark name (GOMAXPROCS suffix cut).
type run struct {
	blocks []map[string]result
	procs  int // the N of goroutines=N / threads=N
	sizes  []string
	ns     []string // the N of BenchmarkManyChildren, ascending
}

var lineRE = regexp.MustCompile(`^(\S+)\s+(\d+)\s+([0-9.]+) ns/op(.*)$`)
var allocsRE = regexp.MustCompile(`([0-9.]+) allocs/op`)
var cpuRE = regexp.MustCompile(`([0-9.]+) cpu-ns/op`)
var procsRE = regexp.MustCompile(`^(.*)-\d+$`)
var metricRE = regexp.MustCompile(`([0-9.e+-]+) (\S+)`)

func parse(r io.Reader) map[string]result {
	m := map[string]result{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := lineRE.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if f == nil {
			continue
		}
		name := f[1]
		if strings.HasPrefix(name, "Benchmark") {
			if p := procsRE.FindStringSubmatch(name); p != nil {
				name = p[1]
			}
		}
		ns, _ := strconv.ParseFloat(f[3], 64)
		res := result{ns: ns, cpu: -1, allocs: -1, metrics: map[string]float64{}}
		for _, mm := range metricRE.FindAllStringSubmatch(f[4], -1) {
			if v, err := strconv.ParseFloat(mm[1], 64); err == nil {
				res.metrics[mm[2]] = v
			}
		}
		if a := allocsRE.FindStringSubmatch(f[4]); a != nil {
			res.allocs, _ = strconv.ParseFloat(a[1], 64)
		}
		if c := cpuRE.FindStringSubmatch(f[4]); c != nil {
			res.cpu, _ = strconv.ParseFloat(c[1], 64)
		}
		m[name] = res
	}
	return m
}

// values returns key's ns/op in each block that has it.
func (r *run) values(key string) []float64 {
	var v []float64
	for _, b := range r.blocks {
		if x, ok := b[key]; ok {
			v = append(v, x.ns)
		}
	}
	return v
}

// metric returns key's metric unit in each block that has it.
func (r *run) metric(key, unit string) []float64 {
	var v []float64
	for _, b := range r.blocks {
		if x, ok := b[key]; ok {
			if m, ok := x.metrics[unit]; ok {
				v = append(v, m)
			}
		}
	}
	return v
}

// ratios returns f(block) for each block where f is defined.
func (r *run) ratios(f func(b map[string]result) (float64, bool)) []float64 {
	var v []float64
	for _, b := range r.blocks {
		if x, ok := f(b); ok {
			v = append(v, x)
		}
	}
	return v
}

func ratioOf(a, b string) func(map[string]result) (float64, bool) {
	return func(m map[string]result) (float64, bool) {
		x, ok1 := m[a]
		y, ok2 := m[b]
		if !ok1 || !ok2 || y.ns == 0 {
			return 0, false
		}
		return x.ns / y.ns, true
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func minmax(v []float64) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range v {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

// us formats ns/op values as µs: "405 (398–431)".
func us(v []float64) string {
	if len(v) == 0 {
		return "—"
	}
	lo, hi := minmax(v)
	return fmt.Sprintf("%s (%s–%s)", num(median(v)/1e3), num(lo/1e3), num(hi/1e3))
}

func num(x float64) string {
	switch {
	case x >= 100:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case x >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

// ratio formats per-block ratios: "0.98× (0.95–1.02)".
func ratio(v []float64) string {
	if len(v) == 0 {
		return "—"
	}
	lo, hi := minmax(v)
	return fmt.Sprintf("%.2f× (%.2f–%.2f)", median(v), lo, hi)
}

func (r *run) allocs(key string) string {
	var v []float64
	for _, b := range r.blocks {
		if x, ok := b[key]; ok && x.allocs >= 0 {
			v = append(v, x.allocs)
		}
	}
	if len(v) == 0 {
		return "—"
	}
	return strconv.FormatFloat(median(v), 'f', -1, 64)
}

// cpu formats the median parent CPU time per spawn in µs.
func (r *run) cpu(key string) string {
	var v []float64
	for _, b := range r.blocks {
		if x, ok := b[key]; ok && x.cpu >= 0 {
			v = append(v, x.cpu)
		}
	}
	if len(v) == 0 {
		return "—"
	}
	return num(median(v) / 1e3)
}

// method is one way to spawn, as the table rows name it.
type method struct {
	label string
	key   func(prog string) string // serial spawn+wait of prog
	heap  func(size string) string // the same from a parent with a heap of size
	par   func(n int) string       // tiny, from n goroutines or threads
	match string                   // the C loop it is compared with (mode), or ""
}

func cMethod(label, mode string) method {
	return method{
		label: label,
		key:   func(prog string) string { return "C/" + prog + "/" + mode },
		heap:  func(size string) string { return "CHeap/" + size + "/tiny/" + mode },
		par:   func(n int) string { return fmt.Sprintf("CParallel/tiny/%s/threads=%d", mode, n) },
	}
}

func goMethod(label, name, match string) method {
	return method{
		label: label,
		key:   func(prog string) string { return "BenchmarkSpawnWait/" + prog + "/" + name },
		heap:  func(size string) string { return "BenchmarkSpawnWaitHeap/" + size + "/tiny/" + name },
		par: func(n int) string {
			return fmt.Sprintf("BenchmarkSpawnWaitParallel/tiny/%s/goroutines=%d", name, n)
		},
		match: match,
	}
}

var (
	cVfork   = cMethod("C vfork+execve", "vfork")
	cClone3  = cMethod("C raw clone3 (CLONE_VM\\|CLONE_VFORK)", "clone3")
	cPosix   = cMethod("C posix_spawn", "posix_spawn")
	cPosixSy = cMethod("C posix_spawn, system glibc", "posix_spawn@system")
	cPidfd   = cMethod("C pidfd_spawn", "pidfd_spawn")
	cFork    = cMethod("C fork+execve", "fork")
	goClone3 = goMethod("**spawn Clone3**", "clone3", "clone3")
	goWaitid = goMethod("spawn Clone3, blocking waitid on Fd (no Wait)", "clone3_waitid", "clone3")
	goRawW   = goMethod("spawn Clone3, raw waitid holding the P (diagnostic)", "clone3_rawwait", "clone3")
	goClone  = goMethod("spawn Clone3, its clone(2) path (clone3 filtered)", "clone3_via_clone", "vfork")
	goPidfd  = goMethod("**spawn PidfdSpawn**", "pidfd_spawn", "pidfd_spawn")
	goForkNP = goMethod("spawn ForkNP", "fork_np", "fork")
	goExec   = goMethod("os/exec Cmd.Run", "os_exec", "vfork")
	goSys    = goMethod("syscall.StartProcess+Wait4", "syscall", "vfork")
	methods  = []method{cVfork, cClone3, cPosix, cPosixSy, cPidfd, cFork, goClone3, goWaitid, goRawW, goClone, goPidfd, goForkNP, goExec, goSys}
)

func (r *run) has(key string) bool { return len(r.values(key)) > 0 }

// name is the Go benchmark's name of m ("clone3"), from its key.
func (m method) name() string { return strings.TrimPrefix(m.key("tiny"), "BenchmarkSpawnWait/tiny/") }

// small is the key of m's spawn+wait of tiny from a small parent for the
// heap comparisons: measured beside the large heaps (size 0) if it was.
func (r *run) small(m method) string {
	if k := m.heap("0"); r.has(k) {
		return k
	}
	return m.key("tiny")
}

func (r *run) write(w io.Writer) {
	fmt.Fprintf(w, "Medians of %d interleaved blocks (range in parentheses); every ratio is taken within a block, then its median is reported. Parent CPU is the spawning process's own user+system time per spawn, children excluded.\n", len(r.blocks))

	for _, prog := range []struct{ name, title string }{
		{"tiny", "Spawn+wait of a tiny static program (no C library, exits at once)"},
		{"true", "Spawn+wait of /bin/true (dynamically linked)"},
	} {
		fmt.Fprintf(w, "\n#### %s\n\n", prog.title)
		fmt.Fprintln(w, "| method | µs/spawn | × matching C loop | × os/exec | parent CPU µs/spawn |")
		fmt.Fprintln(w, "|---|---|---|---|---|")
		execKey := goExec.key(prog.name)
		for _, m := range methods {
			k := m.key(prog.name)
			if !r.has(k) {
				continue
			}
			match := "—"
			if m.match != "" {
				mk := "C/" + prog.name + "/" + m.match
				match = ratio(r.ratios(ratioOf(k, mk))) + " " + strings.TrimPrefix(mk, "C/"+prog.name+"/")
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", m.label, us(r.values(k)), match,
				ratio(r.ratios(ratioOf(k, execKey))), r.cpu(k))
		}
	}

	if len(r.sizes) > 0 {
		fmt.Fprintf(w, "\n#### Parent with a large live heap (tiny program), µs/spawn\n\n")
		head := "| method | small parent |"
		sep := "|---|---|"
		for _, s := range r.sizes {
			head += " " + s + " | × small at " + s + " |"
			sep += "---|---|"
		}
		fmt.Fprintln(w, head)
		fmt.Fprintln(w, sep)
		for _, m := range methods {
			small := r.small(m)
			if !r.has(small) {
				continue
			}
			row := "| " + m.label + " | " + us(r.values(small)) + " |"
			for _, s := range r.sizes {
				k := m.heap(s)
				row += " " + us(r.values(k)) + " | " + ratio(r.ratios(ratioOf(k, small))) + " |"
			}
			fmt.Fprintln(w, row)
		}
	}

	if r.procs > 1 {
		fmt.Fprintf(w, "\n#### Concurrency (tiny program): spawns/s from 1 and from %d goroutines (C: threads)\n\n", r.procs)
		fmt.Fprintf(w, "| method | 1 | %d | gain | gain ÷ C clone3's gain |\n", r.procs)
		fmt.Fprintln(w, "|---|---|---|---|---|")
		cGain := r.gain(cClone3)
		for _, m := range methods {
			if !r.has(m.par(r.procs)) {
				continue
			}
			g := r.gain(m)
			rel := r.ratios(func(b map[string]result) (float64, bool) {
				x, ok1 := g(b)
				y, ok2 := cGain(b)
				return x / y, ok1 && ok2
			})
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", m.label, rate(r.values(m.par(1))), rate(r.values(m.par(r.procs))),
				ratio(r.ratios(g)), ratio(rel))
		}
	}
	r.backendsPaired(w)
	r.paired(w)
	r.cmdTypes(w)
	r.userns(w)
	r.many(w)
	r.treeKill(w)
	r.goals(w)
}

// gain is spawns/s from procs goroutines over spawns/s from one.
func (r *run) gain(m method) func(map[string]result) (float64, bool) {
	one, n := m.par(1), m.par(r.procs)
	return func(b map[string]result) (float64, bool) {
		x, ok1 := b[one]
		y, ok2 := b[n]
		if !ok1 || !ok2 || y.ns == 0 {
			return 0, false
		}
		return x.ns / y.ns, true
	}
}

// rate formats ns/op as spawns/s.
func rate(v []float64) string {
	if len(v) == 0 {
		return "—"
	}
	lo, hi := minmax(v)
	return fmt.Sprintf("%.0f (%.0f–%.0f)", 1e9/median(v), 1e9/hi, 1e9/lo)
}

// row is one line of a table of one benchmark's metrics: its label and the
// metric name it reads.
type row struct{ label, name string }

// metricTable writes a titled table with a note under the title, a header
// line and one line per row: the label, then cells(row's name).
func metricTable(w io.Writer, title, note, head string, rows []row, cells func(name string) []string) {
	fmt.Fprintf(w, "\n#### %s\n\n", title)
	fmt.Fprintln(w, note)
	fmt.Fprintln(w)
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, "|---"+strings.Repeat("|---", strings.Count(head, "|")-2)+"|")
	for _, x := range rows {
		fmt.Fprintf(w, "| %s | %s |\n", x.label, strings.Join(cells(x.name), " | "))
	}
}

// backendsPaired writes BenchmarkBackendsPaired: Spawn+Wait on Clone3 and
// PidfdSpawn against os/exec, round by round within each block, beside the
// C loops' pidfd_spawn ÷ clone3 of the same blocks.
func (r *run) backendsPaired(w io.Writer) {
	const key = "BenchmarkBackendsPaired"
	if !r.has(key) {
		return
	}
	metricTable(w, "Backends against os/exec (tiny program; paired rounds)",
		"Each round runs os/exec's Cmd.Run and Spawn+Wait on each backend once, in rotating order; the block's number is the median over its rounds. The tiny-program table above runs each method for a second in turn, and on this VM two such runs of one method in fresh processes differ by up to a fifth; these ratios move by about 1% between runs. The last column sets PidfdSpawn beside Clone3 as the C pidfd_spawn loop is set beside the C clone3 loop in the same blocks.",
		"| method | µs/spawn | × os/exec | × Clone3 | C loops: × C clone3 |",
		[]row{
			{"**spawn Clone3**", "clone3"},
			{"**spawn PidfdSpawn**", "pidfd_spawn"},
			{"os/exec Cmd.Run", "os_exec"},
		}, func(name string) []string {
			rt, rc, cc := "1.00×", "—", "—"
			switch name {
			case "clone3":
				rt, rc, cc = ratio(r.metric(key, "clone3/os_exec")), "1.00×", "1.00×"
			case "pidfd_spawn":
				rt, rc = ratio(r.metric(key, "pidfd_spawn/os_exec")), ratio(r.metric(key, "pidfd_spawn/clone3"))
				cc = ratio(r.ratios(ratioOf("C/tiny/pidfd_spawn", "C/tiny/clone3")))
			}
			return []string{us(scale(r.metric(key, name+"-µs/op"), 1e3)), rt, rc, cc}
		})
}

// paired writes BenchmarkWaitPaired: Wait against a blocking waitid,
// round by round within each block.
func (r *run) paired(w io.Writer) {
	const key = "BenchmarkWaitPaired"
	if !r.has(key) {
		return
	}
	metricTable(w, "Wait against a blocking waitid (Clone3, tiny program; paired rounds)",
		"Each round spawns three children and waits for each a different way, in rotating order; the block's number is the median over its rounds.",
		"| wait | µs/spawn | × blocking waitid |",
		[]row{
			{"blocking waitid on Fd (a thread per waiter)", "waitid"},
			{"**Wait** (ppoll while ≤ 8 wait, else the wait set)", "wait"},
			{"Wait in the wait set (as beyond 8 waiters)", "set"},
		}, func(name string) []string {
			rt := "1.00×"
			if name != "waitid" {
				rt = ratio(r.metric(key, name+"/waitid"))
			}
			return []string{us(scale(r.metric(key, name+"-µs/op"), 1e3)), rt}
		})
}

// cmdTypes writes BenchmarkCmdTypes: Cmd.Run with os/exec's types against
// Spawn+Wait and os/exec's Cmd.Run, interleaved call by call.
func (r *run) cmdTypes(w io.Writer) {
	const key = "BenchmarkCmdTypes"
	if !r.has(key) {
		return
	}
	metricTable(w, "Cmd with os/exec's types (tiny program; the methods interleaved call by call)",
		"Cmd.Run finds the child as an *os.Process (os.FindProcess: pidfd_open of the unreaped child), waits on spawn's pidfd until it exits, and has os.Process.Wait reap it into an *os.ProcessState.",
		"| method | µs/run | × os/exec |",
		[]row{
			{"**Cmd.Run** (os/exec's types)", "cmd"},
			{"Spawn+Wait with the same three descriptors", "spawn_wait"},
			{"Spawn+Wait, no descriptors given", "spawn_wait_nil"},
			{"Spawn, then os.FindProcess + os.Process.Wait", "spawn_oswait"},
			{"os/exec Cmd.Run", "os_exec"},
		}, func(name string) []string {
			rt := "1.00×"
			if name != "os_exec" {
				rt = ratio(r.ratios(func(b map[string]result) (float64, bool) {
					a, ok1 := b[key].metrics[name+"-ns/op"]
					e, ok2 := b[key].metrics["os_exec-ns/op"]
					return a / e, ok1 && ok2 && e > 0
				}))
			}
			return []string{us(r.metric(key, name+"-ns/op")), rt}
		})
}

// userns writes BenchmarkUserNamespace: /bin/true in a new user namespace
// with uid and gid maps, spawn's Cmd (Clone3) beside os/exec's.
func (r *run) userns(w io.Writer) {
	const key = "BenchmarkUserNamespace/"
	if !r.has(key + "clone3/userns") {
		return
	}
	fmt.Fprintf(w, "\n#### A new user namespace with uid and gid maps (/bin/true, Cmd.Run)\n\n")
	fmt.Fprintln(w, "| method | no namespace, µs | × os/exec | user namespace, µs | × os/exec | × its own no-namespace run |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, x := range []struct{ label, name string }{{"**spawn Cmd, Clone3**", "clone3"}, {"spawn Cmd, ForkNP", "fork_np"}, {"os/exec Cmd", "os_exec"}} {
		none, ns := key+x.name+"/none", key+x.name+"/userns"
		if !r.has(ns) {
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", x.label,
			us(r.values(none)), ratio(r.ratios(ratioOf(none, key+"os_exec/none"))),
			us(r.values(ns)), ratio(r.ratios(ratioOf(ns, key+"os_exec/userns"))),
			ratio(r.ratios(ratioOf(ns, none))))
	}
}

func scale(v []float64, k float64) []float64 {
	for i := range v {
		v[i] *= k
	}
	return v
}

// manyMethods are the rows of the many-children table.
var manyMethods = []struct{ label, name string }{
	{"**spawn Clone3**", "clone3"}, {"**spawn PidfdSpawn**", "pidfd_spawn"}, {"os/exec Start+Wait", "os_exec"},
}

// manyKey names BenchmarkManyChildren's case.
func manyKey(n, name string) string { return "BenchmarkManyChildren/N=" + n + "/" + name }

// many writes BenchmarkManyChildren, measured once per run.
func (r *run) many(w io.Writer) {
	if len(r.ns) == 0 {
		return
	}
	fmt.Fprintf(w, "\n#### Many children, few threads: N children that block until told to exit, each started and waited from its own goroutine\n\n")
	fmt.Fprintln(w, "One run per case, each in a fresh process (peak RSS is VmHWM; peak threads is /proc/self/status Threads).")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| method | N | peak threads | peak RSS MiB | × os/exec RSS | start all, ms | wait all, ms | × os/exec wait all |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, n := range r.ns {
		ex := manyKey(n, "os_exec")
		for _, m := range manyMethods {
			k := manyKey(n, m.name)
			if !r.has(k) {
				continue
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", m.label, n,
				plain(r.metric(k, "peak-threads")), plain(r.metric(k, "peak-RSS-MiB")),
				ratio(r.ratios(metricRatio(k, ex, "peak-RSS-MiB"))),
				plain(r.metric(k, "start-all-ms")), plain(r.metric(k, "wait-all-ms")),
				ratio(r.ratios(metricRatio(k, ex, "wait-all-ms"))))
		}
	}
}

// treeKill writes BenchmarkGroupKill: killing and reaping a tree of 1,000
// processes through cgroup.kill against a /proc walk signalling each.
func (r *run) treeKill(w io.Writer) {
	const kill, walk = "BenchmarkGroupKill/cgroup.kill", "BenchmarkGroupKill/proc-walk"
	if !r.has(kill) {
		return
	}
	fmt.Fprintf(w, "\n#### Killing a tree of 1,000 processes and reaping it\n\n")
	fmt.Fprintln(w, "| method | ms per tree | × /proc walk | allocs |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, x := range []struct{ label, key string }{
		{"**Group.Kill** (cgroup.kill)", kill}, {"walk /proc, SIGKILL each by pidfd", walk},
	} {
		rt := "1.00×"
		if x.key != walk {
			rt = ratio(r.ratios(ratioOf(x.key, walk)))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", x.label, plain(scale(r.values(x.key), 1e-6)), rt, r.allocs(x.key))
	}
}

// plain formats the median of v with its range where there is one.
func plain(v []float64) string {
	if len(v) == 0 {
		return "—"
	}
	lo, hi := minmax(v)
	if lo == hi {
		return num(lo)
	}
	return fmt.Sprintf("%s (%s–%s)", num(median(v)), num(lo), num(hi))
}

func metricRatio(a, b, unit string) func(map[string]result) (float64, bool) {
	return func(m map[string]result) (float64, bool) {
		x, ok1 := m[a].metrics[unit]
		y, ok2 := m[b].metrics[unit]
		if !ok1 || !ok2 || y == 0 {
			return 0, false
		}
		return x / y, true
	}
}

// goals checks the targets of the performance issue against this run.
func (r *run) goals(w io.Writer) {
	fmt.Fprintf(w, "\n#### Targets\n\n")
	checkf := func(what string, v []float64, ok func(float64) bool, format func([]float64) string) {
		if len(v) == 0 {
			fmt.Fprintf(w, "- n/a: %s (not measured in this run)\n", what)
			return
		}
		verdict := "FAIL"
		if ok(median(v)) {
			verdict = "ok"
		}
		fmt.Fprintf(w, "- %s: %s — %s\n", verdict, what, format(v))
	}
	check := func(what string, v []float64, ok func(float64) bool) { checkf(what, v, ok, ratio) }
	le := func(limit float64) func(float64) bool { return func(x float64) bool { return x <= limit } }
	if r.has("BenchmarkCmdTypes") {
		check("Cmd.Run with os/exec's types: ≤ 0.80× os/exec (interleaved)", r.metric("BenchmarkCmdTypes", "cmd/os_exec"), le(0.80))
	}
	for _, m := range []method{goClone3, goPidfd} {
		name := strings.Trim(m.label, "*")
		check(name+", tiny: ≤ 1.05× the C "+m.match+" loop", r.ratios(ratioOf(m.key("tiny"), "C/tiny/"+m.match)), le(1.05))
		check(name+", tiny: ≤ 0.80× os/exec", r.ratios(ratioOf(m.key("tiny"), goExec.key("tiny"))), le(0.80))
		if r.has("BenchmarkBackendsPaired") {
			check(name+", tiny: ≤ 0.80× os/exec (paired rounds)", r.metric("BenchmarkBackendsPaired", m.name()+"/os_exec"), le(0.80))
		}
		for _, s := range r.sizes {
			check(name+", "+s+" heap: ≤ 1.10× the small parent", r.ratios(ratioOf(m.heap(s), r.small(m))), le(1.10))
		}
		if r.procs > 1 {
			g, cg := r.gain(m), r.gain(cClone3)
			check(fmt.Sprintf("%s, %d goroutines: gain ≥ 0.95× the C clone3 loop's %d-thread gain", name, r.procs, r.procs),
				r.ratios(func(b map[string]result) (float64, bool) {
					x, ok1 := g(b)
					y, ok2 := cg(b)
					return x / y, ok1 && ok2
				}), func(x float64) bool { return x >= 0.95 })
		}
		if m.name() == "clone3" && r.has("BenchmarkWaitPaired") {
			check("Clone3 Spawn+Wait: ≤ 1.10× Spawn + a blocking waitid on the pidfd (paired rounds)",
				r.metric("BenchmarkWaitPaired", "wait/waitid"), le(1.10))
		}
		for _, n := range r.ns {
			k, ex := manyKey(n, m.name()), manyKey(n, "os_exec")
			if !r.has(k) {
				continue
			}
			if n == "10000" {
				// The headline row. At 1,000 children the parent's own
				// few MiB weigh on both sides of the RSS ratio.
				checkf(name+", 10,000 children: < 40 OS threads", r.metric(k, "peak-threads"), func(x float64) bool { return x < 40 }, plain)
				check(name+", 10,000 children: peak RSS ≤ 1/3 of os/exec's", r.ratios(metricRatio(k, ex, "peak-RSS-MiB")), le(1.0/3))
			}
			check(name+", N = "+n+" children: wait-all time ≤ os/exec's", r.ratios(metricRatio(k, ex, "wait-all-ms")), le(1.0))
		}
		if a := r.allocs(m.key("tiny")); a != "—" {
			n, _ := strconv.ParseFloat(a, 64)
			e, _ := strconv.ParseFloat(r.allocs(goExec.key("tiny")), 64)
			verdict := "ok"
			if n > 8 || n >= e {
				verdict = "FAIL"
			}
			fmt.Fprintf(w, "- %s: %s: ≤ 8 allocations per Spawn+Wait and fewer than os/exec — %s vs %s\n",
				verdict, name, a, r.allocs(goExec.key("tiny")))
		}
	}
}

// svg draws µs/spawn (log scale) against heap size for each method.
func (r *run) svg(w io.Writer) {
	const W, H, left, right, top, bottom = 820, 420, 70, 290, 30, 50
	xs := append([]string{"small"}, r.sizes...)
	type series struct {
		label string
		pts   []float64 // µs, NaN where missing
	}
	var ss []series
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, m := range methods {
		s := series{label: strings.Trim(strings.ReplaceAll(m.label, "\\|", "|"), "*")}
		any := false
		for i, x := range xs {
			k := r.small(m)
			if i > 0 {
				k = m.heap(x)
			}
			v := median(r.values(k)) / 1e3
			s.pts = append(s.pts, v)
			if !math.IsNaN(v) {
				any = true
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
		if any {
			ss = append(ss, s)
		}
	}
	if len(ss) == 0 {
		return
	}
	l0, l1 := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if l1 == l0 {
		l1++
	}
	px := func(i int) float64 {
		if len(xs) == 1 {
			return left
		}
		return left + float64(i)*float64(W-left-right)/float64(len(xs)-1)
	}
	py := func(v float64) float64 {
		return top + (l1-math.Log10(v))/(l1-l0)*float64(H-top-bottom)
	}
	colors := []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#000000"}
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", W, H)
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(w, `<text x="%d" y="18" font-size="14">µs per spawn+wait of a tiny static program against the parent's live heap</text>`+"\n", left)
	for e := l0; e <= l1; e++ {
		y := py(math.Pow(10, e))
		fmt.Fprintf(w, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n",
			left, y, W-right, y, left-6, y+4, num(math.Pow(10, e)))
	}
	for i, x := range xs {
		fmt.Fprintf(w, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", px(i), H-bottom+18, x)
	}
	fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="middle">parent heap</text>`+"\n", left+(W-left-right)/2, H-12)
	for j, s := range ss {
		c := colors[j%len(colors)]
		var pts []string
		for i, v := range s.pts {
			if !math.IsNaN(v) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(i), py(v)))
				fmt.Fprintf(w, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", px(i), py(v), c)
			}
		}
		fmt.Fprintf(w, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), c)
		fmt.Fprintf(w, `<text x="%d" y="%d" fill="%s">%s</text>`+"\n", W-right+12, top+16*j+10, c, s.label)
	}
	fmt.Fprintln(w, "</svg>")
}

func main() {
	out := flag.String("o", "", "also write the markdown to this file")
	svgOut := flag.String("svg", "", "write the heap chart here (needs heap sizes)")
	header := flag.String("header", "", "a markdown file printed before the table")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: report [-o OUT.md] [-svg OUT.svg] [-header FILE] BLOCK-FILE...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	r := &run{}
	sizes := map[string]bool{}
	for _, name := range flag.Args() {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
		b := parse(f)
		f.Close()
		r.blocks = append(r.blocks, b)
		for k := range b {
			if p := strings.SplitN(k, "/", 3); len(p) == 3 && (p[0] == "BenchmarkSpawnWaitHeap" || p[0] == "CHeap") && p[1] != "0" {
				sizes[p[1]] = true
			}
			if n, ok := strings.CutPrefix(k, "BenchmarkManyChildren/N="); ok {
				n, _, _ = strings.Cut(n, "/")
				if !slices.Contains(r.ns, n) {
					r.ns = append(r.ns, n)
				}
			}
			if i := strings.LastIndex(k, "/goroutines="); i >= 0 {
				if n, _ := strconv.Atoi(k[i+len("/goroutines="):]); n > r.procs {
					r.procs = n
				}
			}
		}
	}
	for s := range sizes {
		r.sizes = append(r.sizes, s)
	}
	sort.Slice(r.sizes, func(i, j int) bool { return bytesOf(r.sizes[i]) < bytesOf(r.sizes[j]) })
	sort.Slice(r.ns, func(i, j int) bool { return bytesOf(r.ns[i]) < bytesOf(r.ns[j]) })

	var sb strings.Builder
	if *header != "" {
		h, err := os.ReadFile(*header)
		if err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
		sb.Write(h)
	}
	r.write(&sb)
	if *svgOut != "" && len(r.sizes) > 0 {
		f, err := os.Create(*svgOut)
		if err == nil {
			r.svg(f)
			err = f.Close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
		fmt.Fprintf(&sb, "\nChart: %s\n", filepath.Base(*svgOut))
	}
	os.Stdout.WriteString(sb.String())
	if *out != "" {
		if err := os.WriteFile(*out, []byte(sb.String()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
	}
}

func bytesOf(s string) float64 {
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if t, ok := strings.CutSuffix(s, u.suffix); ok {
			n, _ := strconv.ParseFloat(t, 64)
			return n * u.mult
		}
	}
	n, _ := strconv.ParseFloat(s, 64)
	return n
}
