//go:build linux

package spawn

// Benchmarks (SPEC §7): spawn+wait of a tiny static program and of /bin/true
// by every backend this machine has, beside os/exec's Cmd.Run and
// syscall.StartProcess+Wait4, all in the same run; with a parent holding a
// large live heap; from one goroutine and from GOMAXPROCS. ci/bench.sh runs
// them interleaved with C loops that do the same and prints a table of
// ratios; run it rather than comparing numbers of different runs.
//
//	go test -run '^$' -bench . -benchtime 1s
//	go test -run '^$' -bench . -exec "$PWD/ci/with-glibc trixie"   # with PidfdSpawn
//
// SPAWN_BENCH_TINY names a prebuilt tiny program (ci/bench.sh passes its
// own, so that the C loops and these run the same file); otherwise it is
// built once per process from ci/bench/tiny.c with gcc (static, without a C
// library), and its benchmarks skip if that fails. SPAWN_BENCH_HEAP is a
// comma-separated list of heap sizes for BenchmarkSpawnWaitHeap (default
// 2GiB; 0 measures the small parent beside the large ones).

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// benchTiny builds ci/bench/tiny.c (see benchC) and returns its path.
var benchTiny = sync.OnceValues(func() (string, error) { return benchC("tiny") })

// benchHold builds ci/bench/hold.c, the child that reads its standard input
// until end of file.
var benchHold = sync.OnceValues(func() (string, error) { return benchC("hold") })

// benchC builds ci/bench/NAME.c (static, no C library) into the user's cache
// directory, named by the source's hash so that runs share it, and returns
// its path.
func benchC(name string) (string, error) {
	src, err := os.ReadFile(filepath.Join("ci", "bench", name+".c"))
	if err != nil {
		return "", err
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(src)
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "spawn-bench", runtime.GOARCH+"-"+name+"-"+hex.EncodeToString(sum[:8]))
	bin := filepath.Join(dir, name)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, name+".c"), src, 0o644); err != nil {
		return "", err
	}
	cmd := exec.Command(gcc, "-static", "-nostdlib", "-O2", "-o", filepath.Join(tmp, name), filepath.Join(tmp, name+".c"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %v\n%s", cmd, err, out)
	}
	// Publish the directory whole; a concurrent build may have won.
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(bin); serr != nil {
			return "", err
		}
	}
	return bin, nil
}

// A benchProgram is a child: the tiny static program (no C library, exits at
// once) or /bin/true (dynamically linked).
type benchProgram struct {
	name, path string
	err        error // why it cannot run here
}

func benchPrograms() []benchProgram {
	tiny := benchProgram{name: "tiny", path: os.Getenv("SPAWN_BENCH_TINY")}
	if tiny.path == "" {
		var err error
		if tiny.path, err = benchTiny(); err != nil {
			tiny.err = fmt.Errorf("the tiny static program needs gcc to build ci/bench/tiny.c: %w", err)
		}
	}
	return []benchProgram{tiny, {name: "true", path: "/bin/true"}}
}

// A benchMethod spawns path and waits for it to exit 0.
type benchMethod struct {
	name string
	err  error // why it cannot run here
	run  func(path string, argv []string) error
}

// A diagnostic method runs only in BenchmarkSpawnWait.
func benchMethods(diagnostic bool) []benchMethod {
	var ms []benchMethod
	for _, be := range []Backend{Clone3, PidfdSpawn, ForkNP} {
		attr := &Attr{Backend: be}
		ms = append(ms, benchMethod{name: be.String(), err: Available(be), run: func(path string, argv []string) error {
			p, err := Spawn(path, argv, attr)
			if err != nil {
				return err
			}
			st, err := p.Wait() // closes the pidfd, as users rely on
			if err == nil && !st.Success() {
				err = fmt.Errorf("%s: %v", path, st)
			}
			return err
		}})
	}
	if diagnostic {
		// Clone3 on its clone(2) path, forced where clone3 works: what a
		// container whose seccomp profile filters clone3 gets.
		cloneAttr := &Attr{Backend: Clone3}
		ms = append(ms, benchMethod{name: "clone3_via_clone", err: Available(Clone3), run: func(path string, argv []string) error {
			was := forceClonePath.Swap(true)
			defer forceClonePath.Store(was)
			p, err := Spawn(path, argv, cloneAttr)
			if err != nil {
				return err
			}
			st, err := p.Wait()
			p.Release()
			if err == nil && !st.Success() {
				err = fmt.Errorf("%s: %v", path, st)
			}
			return err
		}})
		// Clone3 without Wait: a blocking waitid(P_PIDFD) on p.Fd() in the
		// goroutine's own thread, as os/exec's Wait does. It isolates the
		// spawn from Wait's park in the runtime poller (and holds a
		// thread per waiting goroutine).
		//
		// clone3_rawwait makes that waitid a raw syscall, which the runtime
		// does not see: the goroutine keeps its P while it blocks (never do
		// that in a program). It measures the spawn without any of the
		// runtime's work around a wait.
		for _, w := range []struct {
			name string
			call func(trap, a1, a2, a3, a4, a5, a6 uintptr) (r1, r2 uintptr, err syscall.Errno)
		}{{"clone3_waitid", syscall.Syscall6}, {"clone3_rawwait", syscall.RawSyscall6}} {
			attr := &Attr{Backend: Clone3}
			ms = append(ms, benchMethod{name: w.name, err: Available(Clone3), run: func(path string, argv []string) error {
				p, err := Spawn(path, argv, attr)
				if err != nil {
					return err
				}
				defer p.Release()
				var si sigchld
				for {
					_, _, errno := w.call(unix.SYS_WAITID, unix.P_PIDFD, uintptr(p.Fd()), uintptr(unsafe.Pointer(&si)), unix.WEXITED, 0, 0)
					if errno == 0 {
						break
					}
					if errno != syscall.EINTR {
						return os.NewSyscallError("waitid", errno)
					}
				}
				if si.code != cldExited || si.status != 0 {
					return fmt.Errorf("%s: %v", path, statusOf(si.code, si.status))
				}
				return nil
			}})
		}
	}
	ms = append(ms, benchMethod{name: "os_exec", run: func(path string, argv []string) error {
		return exec.Command(path, argv[1:]...).Run()
	}}, benchMethod{name: "syscall", run: func(path string, argv []string) error {
		pid, _, err := syscall.StartProcess(path, argv, &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}})
		if err != nil {
			return err
		}
		var ws syscall.WaitStatus
		for {
			_, err = syscall.Wait4(pid, &ws, 0, nil)
			if err != syscall.EINTR {
				break
			}
		}
		if err == nil && ws.ExitStatus() != 0 {
			err = fmt.Errorf("%s: exit status %d", path, ws.ExitStatus())
		}
		return err
	}})
	return ms
}

// benchEach runs body for every program and method as sub-benchmarks
// PROGRAM/METHOD.
func benchEach(b *testing.B, diagnostic bool, body func(b *testing.B, m benchMethod, path string, argv []string)) {
	methods := benchMethods(diagnostic)
	for _, prog := range benchPrograms() {
		b.Run(prog.name, func(b *testing.B) {
			if prog.err != nil {
				b.Skip(prog.err)
			}
			for _, m := range methods {
				b.Run(m.name, func(b *testing.B) {
					if m.err != nil {
						b.Skipf("%s: %v", m.name, m.err)
					}
					body(b, m, prog.path, []string{filepath.Base(prog.path)})
				})
			}
		})
	}
}

// serialLoop spawns and waits in the benchmark's goroutine.
func serialLoop(b *testing.B, m benchMethod, path string, argv []string) {
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		if err := m.run(path, argv); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, cpu0)
}

// reportRates adds spawns/s and the CPU time this process (all its threads,
// not the children) spent per spawn since cpu0.
func reportRates(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "spawns/s")
}

// cpuTime is the user and system time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSpawnWait is one spawn+wait at a time from a small parent.
func BenchmarkSpawnWait(b *testing.B) {
	benchEach(b, true, serialLoop)
}

// benchHeap is the large live heap of BenchmarkSpawnWaitHeap, allocated only
// while it runs.
var benchHeap []byte

// BenchmarkSpawnWaitHeap is BenchmarkSpawnWait from a parent holding a live,
// touched heap of each SPAWN_BENCH_HEAP size (default 2GiB): vfork-style
// children share the parent's memory, a fork copies its page tables.
func BenchmarkSpawnWaitHeap(b *testing.B) {
	sizes := os.Getenv("SPAWN_BENCH_HEAP")
	if sizes == "" {
		sizes = "2GiB"
	}
	for _, s := range strings.Split(sizes, ",") {
		n, err := parseSize(s)
		if err != nil {
			b.Fatalf("SPAWN_BENCH_HEAP=%q: %v", sizes, err)
		}
		b.Run(s, func(b *testing.B) {
			benchHeap = make([]byte, n)
			// Resident and written: populated in one call where the
			// kernel can (Linux 5.14), since a fault per page takes
			// long in a VM.
			if unix.Madvise(benchHeap, unix.MADV_POPULATE_WRITE) != nil {
				for i := 0; i < len(benchHeap); i += 4096 {
					benchHeap[i] = 1
				}
			}
			defer func() {
				benchHeap = nil
				debug.FreeOSMemory()
			}()
			benchEach(b, false, serialLoop)
			runtime.KeepAlive(benchHeap)
		})
	}
}

// parseSize reads "2GiB", "512MiB", "0".
func parseSize(s string) (int, error) {
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if t, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = t, u.mult
			break
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q (want e.g. 2GiB, 512MiB)", s)
	}
	return n * mult, nil
}

// BenchmarkSpawnWaitParallel spawns from one goroutine and from GOMAXPROCS
// goroutines at once; spawns/s of the two give the scaling.
func BenchmarkSpawnWaitParallel(b *testing.B) {
	benchEach(b, false, func(b *testing.B, m benchMethod, path string, argv []string) {
		b.Run("goroutines=1", func(b *testing.B) { serialLoop(b, m, path, argv) })
		b.Run("goroutines="+strconv.Itoa(runtime.GOMAXPROCS(0)), func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(1)
			cpu0 := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := m.run(path, argv); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportRates(b, cpu0)
		})
	})
}

// BenchmarkWaitPaired interleaves, round by round, three ways to wait for
// a Clone3 child of the tiny program: Spawn + a blocking waitid on the pidfd
// (the diagnostic row clone3_waitid of BenchmarkSpawnWait: a thread held
// per waiting goroutine), Spawn+Wait as it is (a blocked ppoll while few
// Waits are in progress), and Spawn+Wait forced into the wait set (as
// beyond that bound), rotating which goes first. It reports the median
// time of each and the median of the per-round ratios to the blocking
// waitid: rounds are microseconds apart, so the load of a shared machine
// falls on all alike, and the median drops the rounds another process
// preempted.
func BenchmarkWaitPaired(b *testing.B) {
	prog := benchPrograms()[0]
	if prog.err != nil {
		b.Skip(prog.err)
	}
	if err := Available(Clone3); err != nil {
		b.Skip(err)
	}
	var wait, waitid benchMethod
	for _, m := range benchMethods(true) {
		switch m.name {
		case "clone3":
			wait = m
		case "clone3_waitid":
			waitid = m
		}
	}
	defer atomic.StoreInt32(&blockLimit, atomic.LoadInt32(&blockLimit))
	type way struct {
		name  string
		limit int32 // blockLimit while it runs
		m     benchMethod
	}
	ways := []way{{"waitid", maxBlocked, waitid}, {"wait", maxBlocked, wait}, {"set", 0, wait}}
	argv := []string{filepath.Base(prog.path)}
	runs := make([]func() error, len(ways))
	for k, w := range ways {
		runs[k] = func() error {
			atomic.StoreInt32(&blockLimit, w.limit)
			return w.m.run(prog.path, argv)
		}
	}
	t := pairedRounds(b, runs)
	for k, w := range ways {
		b.ReportMetric(median(t[k]), w.name+"-µs/op")
		if k != 0 {
			b.ReportMetric(medianRatio(t[k], t[0]), w.name+"/waitid")
		}
	}
}

// pairedRounds runs each of ways once per round of b.Loop, rotating which
// goes first, and returns each one's times in µs, one per round.
func pairedRounds(b *testing.B, ways []func() error) [][]float64 {
	t := make([][]float64, len(ways))
	for i := 0; b.Loop(); i++ {
		for k := range ways {
			j := (i + k) % len(ways)
			t0 := time.Now()
			if err := ways[j](); err != nil {
				b.Fatal(err)
			}
			t[j] = append(t[j], float64(time.Since(t0).Nanoseconds())/1e3)
		}
	}
	return t
}

// medianRatio is the median of the per-round ratios a[k]/base[k].
func medianRatio(a, base []float64) float64 {
	r := make([]float64, len(a))
	for k := range r {
		r[k] = a[k] / base[k]
	}
	return median(r)
}

// BenchmarkBackendsPaired interleaves, round by round, os/exec's Cmd.Run
// and Spawn+Wait on each available vfork-style backend (Clone3,
// PidfdSpawn) for the tiny program, rotating which goes first. It reports
// each one's median time and the median of the per-round ratios to
// os/exec, and PidfdSpawn's to Clone3 (what glibc's pidfd_spawn costs over
// a raw clone3, to set beside the C loops' ratio). BenchmarkSpawnWait runs
// each method for a second in turn, and two runs of one method in fresh
// processes differ by up to a fifth on a small VM; rounds microseconds apart
// share the machine's state, and their median ratio moves by about 1%
// between runs.
func BenchmarkBackendsPaired(b *testing.B) {
	prog := benchPrograms()[0]
	if prog.err != nil {
		b.Skip(prog.err)
	}
	var ways []benchMethod
	for _, m := range benchMethods(false) {
		if m.err == nil && (m.name == "os_exec" || m.name == Clone3.String() || m.name == PidfdSpawn.String()) {
			ways = append(ways, m)
		}
	}
	argv := []string{filepath.Base(prog.path)}
	runs := make([]func() error, len(ways))
	for k, m := range ways {
		runs[k] = func() error { return m.run(prog.path, argv) }
	}
	t := pairedRounds(b, runs)
	index := func(name string) int {
		return slices.IndexFunc(ways, func(m benchMethod) bool { return m.name == name })
	}
	exec, c3, pf := index("os_exec"), index(Clone3.String()), index(PidfdSpawn.String())
	for j, w := range ways {
		b.ReportMetric(median(t[j]), w.name+"-µs/op")
		if j != exec {
			b.ReportMetric(medianRatio(t[j], t[exec]), w.name+"/os_exec")
		}
	}
	if c3 >= 0 && pf >= 0 {
		b.ReportMetric(medianRatio(t[pf], t[c3]), "pidfd_spawn/clone3")
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// Many children, few threads. BenchmarkManyChildren starts N children of
// ci/bench/hold.c (each blocks reading a shared pipe), each started and then
// waited for from a goroutine of its own, tells them all to exit by closing
// the pipe, and waits for every goroutine. Each case runs in a fresh process
// (the test binary re-executed as the helper many-children), so that its
// peak RSS (VmHWM) is its own. It reports the peak number of OS threads
// (/proc/self/status Threads, sampled every millisecond and at the end: the
// runtime keeps the threads it made), the peak RSS, the time to start all N
// and the time from the close to the last Wait's return. os/exec's Wait
// blocks a thread per waiting child; Spawn's Wait blocks at most maxBlocked
// and parks the rest in the runtime poller.
//
// Every case raises the runtime's thread limit (debug.SetMaxThreads, 10,000
// by default) above 2N: os/exec cannot wait for 10,000 children at once
// without it.
//
// SPAWN_BENCH_MANY is a comma-separated list of N (default 1000,10000). A
// case that the machine cannot hold (descriptors, pids, threads) is skipped
// with the reason. ci/bench.sh runs it with -benchtime 1x.
func BenchmarkManyChildren(b *testing.B) {
	hold := os.Getenv("SPAWN_BENCH_HOLD")
	if hold == "" {
		var err error
		if hold, err = benchHold(); err != nil {
			b.Skipf("the holding child needs gcc to build ci/bench/hold.c: %v", err)
		}
	}
	ns := os.Getenv("SPAWN_BENCH_MANY")
	if ns == "" {
		ns = "1000,10000"
	}
	for _, s := range strings.Split(ns, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("SPAWN_BENCH_MANY=%q: bad count %q", ns, s)
		}
		b.Run("N="+s, func(b *testing.B) {
			for _, m := range []struct {
				name string
				err  error
			}{{Clone3.String(), Available(Clone3)}, {PidfdSpawn.String(), Available(PidfdSpawn)}, {"os_exec", nil}} {
				b.Run(m.name, func(b *testing.B) {
					if m.err != nil {
						b.Skipf("%s: %v", m.name, m.err)
					}
					if err := canHold(n); err != nil {
						b.Skipf("this machine cannot hold %d children: %v", n, err)
					}
					var threads, rss, start, wait float64
					for i := 0; i < b.N; i++ {
						r, err := runMany(m.name, n, hold)
						if err != nil {
							b.Fatal(err)
						}
						threads = max(threads, r.threads)
						rss = max(rss, r.rss)
						start += r.start
						wait += r.wait
					}
					b.ReportMetric(threads, "peak-threads")
					b.ReportMetric(rss, "peak-RSS-MiB")
					b.ReportMetric(start/float64(b.N), "start-all-ms")
					b.ReportMetric(wait/float64(b.N), "wait-all-ms")
				})
			}
		})
	}
}

type manyResult struct{ threads, rss, start, wait float64 }

// runMany runs one case in a fresh process and reads its report line.
func runMany(method string, n int, hold string) (manyResult, error) {
	path, argv, env := helperArgv("many-children", method, strconv.Itoa(n), hold)
	cmd := exec.Command(path)
	cmd.Args, cmd.Env, cmd.Stderr = argv, env, os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return manyResult{}, fmt.Errorf("many-children %s %d: %v", method, n, err)
	}
	var r manyResult
	if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "threads=%g rss=%g start=%g wait=%g", &r.threads, &r.rss, &r.start, &r.wait); err != nil {
		return r, fmt.Errorf("many-children %s %d: report %q: %v", method, n, out, err)
	}
	return r, nil
}

// canHold checks the limits that N children and, for os/exec, N waiting
// threads need, raising RLIMIT_NOFILE and RLIMIT_NPROC where they are soft.
func canHold(n int) error {
	for _, r := range []struct {
		name string
		res  int
		need uint64
	}{{"RLIMIT_NOFILE", unix.RLIMIT_NOFILE, uint64(n) + 256}, {"RLIMIT_NPROC", unix.RLIMIT_NPROC, 2*uint64(n) + 1024}} {
		var lim unix.Rlimit
		if err := unix.Getrlimit(r.res, &lim); err != nil {
			return err
		}
		if lim.Cur >= r.need {
			continue
		}
		if lim.Max < r.need {
			lim.Max = r.need // root may raise the hard limit
		}
		lim.Cur = r.need
		if err := unix.Setrlimit(r.res, &lim); err != nil {
			return fmt.Errorf("%s must be ≥ %d: %v", r.name, r.need, err)
		}
	}
	// Children and threads are tasks: pid_max bounds them all, on the
	// whole machine.
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		return nil
	}
	pidMax, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	la, _ := os.ReadFile("/proc/loadavg") // "0.00 0.01 0.05 1/123 4567": 123 tasks
	var l1, l5, l15 float64
	var running, tasks int
	fmt.Sscanf(string(la), "%g %g %g %d/%d", &l1, &l5, &l15, &running, &tasks)
	if free := pidMax - tasks; free < 2*n+1024 {
		return fmt.Errorf("pid_max %d with %d tasks running leaves %d pids; %d children and their waiting threads need %d", pidMax, tasks, free, n, 2*n+1024)
	}
	return nil
}

func init() {
	// many-children METHOD N HOLD: start N children of HOLD, each from a
	// goroutine that then waits for it; print the report line.
	registerHelper("many-children", func(args []string) int {
		n, _ := strconv.Atoi(args[1])
		r, err := manyChildren(args[0], n, args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, "many-children:", err)
			return 1
		}
		fmt.Printf("threads=%d rss=%.1f start=%.1f wait=%.1f\n", r.threads, r.rss, r.start, r.wait)
		return 0
	})
}

type manyReport struct {
	threads     int
	rss         float64 // MiB
	start, wait float64 // ms
}

func manyChildren(method string, n int, hold string) (manyReport, error) {
	var rep manyReport
	if err := canHold(n); err != nil {
		return rep, err
	}
	// os/exec holds a thread per waiting child: past the runtime's default
	// limit of 10,000 threads the program dies ("thread exhaustion").
	debug.SetMaxThreads(max(10000, 2*n+1000))
	r, w, err := os.Pipe()
	if err != nil {
		return rep, err
	}
	defer r.Close()
	defer w.Close()

	var peak atomic.Int64
	sample := func() {
		if t := int64(statusField("Threads")); t > peak.Load() {
			peak.Store(t)
		}
	}
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			sample()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()

	argv := []string{"hold"}
	var started, done sync.WaitGroup
	errs := make(chan error, n)
	var finished atomic.Int64 // Waits that have returned
	begin := time.Now()
	for i := 0; i < n; i++ {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			wait, err := startOne(method, hold, argv, r)
			started.Done()
			if err == nil {
				err = wait()
				finished.Add(1)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	started.Wait()
	rep.start = float64(time.Since(begin).Microseconds()) / 1e3
	if f := finished.Load(); f != 0 {
		// A child that exits before it is told to makes wait-all
		// meaningless: say so rather than report it.
		w.Close()
		done.Wait()
		return rep, fmt.Errorf("%d of %d children exited before the pipe was closed", f, n)
	}
	// The clock starts before the close: closing the pipe wakes all N
	// readers, and the closing thread competes with them for the CPUs, so
	// the close itself can last until most children have exited (and
	// been reaped).
	end := time.Now()
	w.Close() // every child reads end of file and exits
	done.Wait()
	rep.wait = float64(time.Since(end).Microseconds()) / 1e3
	close(stop)
	<-sampled
	sample()
	close(errs)
	for err := range errs {
		return rep, err
	}
	rep.threads = int(peak.Load())
	rep.rss = float64(statusField("VmHWM")) / 1024
	return rep, nil
}

// startOne starts one child reading in by method and returns how to wait for
// it.
func startOne(method, path string, argv []string, in *os.File) (func() error, error) {
	check := func(ok bool, what fmt.Stringer) error {
		if !ok {
			return fmt.Errorf("%s: %v", path, what)
		}
		return nil
	}
	if method == "os_exec" {
		c := exec.Command(path)
		c.Args, c.Stdin = argv, in
		if err := c.Start(); err != nil {
			return nil, err
		}
		return c.Wait, nil
	}
	be, err := ParseBackend(method)
	if err != nil {
		return nil, err
	}
	p, err := Spawn(path, argv, &Attr{Backend: be, Files: []*os.File{in}})
	if err != nil {
		return nil, err
	}
	return func() error {
		st, err := p.Wait()
		if err != nil {
			return err
		}
		return check(st.Success(), st)
	}, nil
}

// statusField reads a number from /proc/self/status (Threads; VmHWM in kB).
func statusField(name string) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	return 0
}
