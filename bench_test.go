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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// benchTiny builds ci/bench/tiny.c into the user's cache directory (named by
// the source's hash, so that runs share it) and returns its path.
var benchTiny = sync.OnceValues(func() (string, error) {
	src, err := os.ReadFile(filepath.Join("ci", "bench", "tiny.c"))
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
	dir := filepath.Join(cache, "spawn-bench", runtime.GOARCH+"-"+hex.EncodeToString(sum[:8]))
	bin := filepath.Join(dir, "tiny")
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
	if err := os.WriteFile(filepath.Join(tmp, "tiny.c"), src, 0o644); err != nil {
		return "", err
	}
	cmd := exec.Command(gcc, "-static", "-nostdlib", "-O2", "-o", filepath.Join(tmp, "tiny"), filepath.Join(tmp, "tiny.c"))
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
})

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
			st, err := p.Wait()
			p.Release()
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
