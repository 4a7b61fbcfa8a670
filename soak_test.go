//go:build linux

package spawn

// The soak test: for -soak=DURATION, 2×GOMAXPROCS goroutines spawn and wait
// without pause over every available backend (and Auto), mixing plain runs,
// exit codes, pipes, kills, WaitContext timeouts, second handles and
// failing spawns, while the process is flooded with SIGUSR1 (caught through
// signal.Notify) and SIGURG (the runtime's preemption signal) and collections
// are forced. Off by default:
//
//	go test -v -run '^TestSoak$' -soak=60s
//
// At the end it demands zero unexpected errors and no leak: no descriptor
// opened since the start, no child left (waitid(P_ALL) says ECHILD), the OS
// thread count back within a bound of the start, resident memory and the Go
// heap within bounds (see checkSoakLeaks for the bounds and why).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/matryer/is"
	"golang.org/x/sys/unix"
)

var soakFor = flag.Duration("soak", 0, "run TestSoak for this long, e.g. -soak=60s (0: skip it)")

// A soak operation: one spawn and what follows it.
type soakOp int

const (
	soakTrue     soakOp = iota // /bin/true, Wait: exit 0
	soakExit                   // sh -c 'exit N': exit N
	soakPipe                   // echo into a pipe laid out by Files: the output, EOF, exit 0
	soakKill                   // sleep, Kill after 0-2ms: SIGKILL
	soakTimeout                // sleep, WaitContext with a 0-3ms deadline: DeadlineExceeded, alive, then killed
	soakHandles                // sleep, FromPidfd(dup) and OpenProcess: killed through one, reaped through another
	soakNotFound               // a missing program: ENOENT, no child
	soakBadDir                 // a missing Dir: ENOENT from the child's chdir, the child reaped
	nSoakOps
)

var soakOpNames = [nSoakOps]string{"true", "exit", "pipe", "kill", "timeout", "handles", "notfound", "baddir"}

// soakWeights: how often each operation is picked, out of their sum.
var soakWeights = [nSoakOps]int{40, 10, 10, 10, 10, 10, 5, 5}

// soakWaitLimit is how long any one wait may take before it counts as a
// hang (an error) and the child is killed.
const soakWaitLimit = 30 * time.Second

// soakWait waits for p with the hang limit, releases p and returns its
// state.
func soakWait(p *Process) (*State, error) {
	defer p.Release()
	ctx, cancel := context.WithTimeout(context.Background(), soakWaitLimit)
	defer cancel()
	st, err := p.WaitContext(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		p.Kill()
		p.Wait()
		return nil, fmt.Errorf("pid %d: hang: no exit within %v", p.Pid(), soakWaitLimit)
	}
	return st, err
}

// soakWantENOENT spawns path, which must fail with ENOENT and no child.
func soakWantENOENT(what, path string, attr *Attr) error {
	p, err := Spawn(path, []string{"soak"}, attr)
	if p != nil || !errors.Is(err, fs.ErrNotExist) {
		if p != nil {
			soakDiscard(p)
		}
		return fmt.Errorf("%s: %v, want ENOENT", what, err)
	}
	return nil
}

// soakDiscard kills, reaps and releases p after an error.
func soakDiscard(p *Process) {
	p.Kill()
	p.Wait()
	p.Release()
}

func soakExpect(p *Process, want string) error {
	st, err := soakWait(p)
	if err != nil {
		return fmt.Errorf("wait: %w", err)
	}
	if got := st.String(); got != want {
		return fmt.Errorf("pid %d: %s, want %s", st.Pid(), got, want)
	}
	return nil
}

// soakRun runs one operation on backend b; an error is unexpected.
func soakRun(b Backend, op soakOp, rnd *rand.Rand) error {
	attr := &Attr{Backend: b}
	sleep := func() (*Process, error) { return Spawn("/bin/sleep", []string{"sleep", "10"}, attr) }
	switch op {
	case soakTrue:
		p, err := Spawn("/bin/true", []string{"true"}, attr)
		if err != nil {
			return err
		}
		return soakExpect(p, "exit status 0")
	case soakExit:
		code := rnd.IntN(256)
		p, err := Spawn("/bin/sh", []string{"sh", "-c", "exit " + strconv.Itoa(code)}, attr)
		if err != nil {
			return err
		}
		return soakExpect(p, "exit status "+strconv.Itoa(code))
	case soakPipe:
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		defer r.Close()
		attr.Files = []*os.File{nil, w, nil}
		word := "soak" + strconv.Itoa(rnd.IntN(1000))
		p, err := Spawn("/bin/echo", []string{"echo", word}, attr)
		w.Close()
		if err != nil {
			return err
		}
		out, rerr := io.ReadAll(r)
		if err := soakExpect(p, "exit status 0"); err != nil {
			return err
		}
		if rerr != nil || string(out) != word+"\n" {
			return fmt.Errorf("pipe: read %q, %v; want %q", out, rerr, word+"\n")
		}
		return nil
	case soakKill:
		p, err := sleep()
		if err != nil {
			return err
		}
		time.Sleep(time.Duration(rnd.IntN(2000)) * time.Microsecond)
		if err := p.Kill(); err != nil {
			soakDiscard(p)
			return fmt.Errorf("kill: %w", err)
		}
		return soakExpect(p, "signal: killed")
	case soakTimeout:
		p, err := sleep()
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rnd.IntN(3000))*time.Microsecond)
		st, err := p.WaitContext(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			soakDiscard(p)
			return fmt.Errorf("WaitContext: %v, %v; want DeadlineExceeded", st, err)
		}
		if err := p.Signal(syscall.Signal(0)); err != nil {
			soakDiscard(p)
			return fmt.Errorf("after a timed-out WaitContext: %w", err)
		}
		p.Kill()
		return soakExpect(p, "signal: killed")
	case soakHandles:
		p, err := sleep()
		if err != nil {
			return err
		}
		dup, err := unix.FcntlInt(uintptr(p.Fd()), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			soakDiscard(p)
			return os.NewSyscallError("fcntl", err)
		}
		q, err := FromPidfd(dup)
		if err != nil {
			unix.Close(dup)
			soakDiscard(p)
			return err
		}
		defer q.Release()
		o, err := OpenProcess(p.Pid())
		if err != nil {
			soakDiscard(p)
			return err
		}
		defer o.Release()
		if q.Pid() != p.Pid() || o.Pid() != p.Pid() {
			soakDiscard(p)
			return fmt.Errorf("handles on %d say %d and %d", p.Pid(), q.Pid(), o.Pid())
		}
		if err := q.Kill(); err != nil {
			soakDiscard(p)
			return fmt.Errorf("kill through FromPidfd: %w", err)
		}
		if err := soakExpect(p, "signal: killed"); err != nil {
			return err
		}
		if err := o.Signal(syscall.SIGKILL); !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("OpenProcess handle after the reap: %v, want ErrProcessDone", err)
		}
		return nil
	case soakNotFound:
		return soakWantENOENT("missing program", "/nonexistent/soak", attr)
	case soakBadDir:
		attr.Dir = "/nonexistent/soak"
		return soakWantENOENT("missing Dir", "/bin/true", attr)
	}
	return fmt.Errorf("unknown op %d", op)
}

// soakStats is what a soak phase did.
type soakStats struct {
	spawns   atomic.Int64 // operations run (each one spawn attempt)
	errors   atomic.Int64 // unexpected results
	sigsSent atomic.Int64
	sigsGot  atomic.Int64
	gcs      atomic.Int64

	mu      sync.Mutex
	byKey   map[string]int // backend/op → count
	slowest map[Backend]time.Duration
	first   []string // the first unexpected errors
}

func (s *soakStats) record(b Backend, op soakOp, d time.Duration, err error) {
	s.spawns.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byKey[b.String()+"/"+soakOpNames[op]]++
	if op != soakKill && op != soakTimeout && d > s.slowest[b] {
		s.slowest[b] = d
	}
	if err != nil {
		s.errors.Add(1)
		if len(s.first) < 20 {
			s.first = append(s.first, fmt.Sprintf("%v %s: %v", b, soakOpNames[op], err))
		}
	}
}

// soakPhase runs the load for d and returns what it did.
func soakPhase(t *testing.T, d time.Duration, bs []Backend, workers int, seed uint64) *soakStats {
	t.Helper()
	s := &soakStats{byKey: map[string]int{}, slowest: map[Backend]time.Duration{}}
	stop := make(chan struct{})
	var bg sync.WaitGroup

	// The signal flood.
	sigs := make(chan os.Signal, 128)
	signal.Notify(sigs, syscall.SIGUSR1)
	bg.Add(2)
	go func() {
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			case <-sigs:
				s.sigsGot.Add(1)
			}
		}
	}()
	go func() {
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			// A burst per wake-up: under load a short sleep lasts a
			// millisecond or more.
			for j := 0; j < 4; j++ {
				sig := unix.SIGUSR1
				if j == 3 {
					sig = unix.SIGURG // preemption requests, on top of the runtime's own
				}
				unix.Kill(os.Getpid(), sig)
				s.sigsSent.Add(1)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	// Forced collections, and now and then memory returned to the OS.
	bg.Add(1)
	go func() {
		defer bg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if i%20 == 0 {
				debug.FreeOSMemory()
			} else {
				runtime.GC()
			}
			s.gcs.Add(1)
		}
	}()

	// The workers; a watchdog reports one that is stuck.
	cum := make([]int, nSoakOps)
	total := 0
	for i, w := range soakWeights {
		total += w
		cum[i] = total
	}
	busy := make([]atomic.Int64, workers) // unix nanos the current op began, 0 when idle
	what := make([]atomic.Value, workers)
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(seed, uint64(w)))
			for time.Now().Before(deadline) {
				b := bs[rnd.IntN(len(bs))]
				n := rnd.IntN(total)
				op := soakOp(0)
				for cum[op] <= n {
					op++
				}
				what[w].Store(b.String() + " " + soakOpNames[op])
				start := time.Now()
				busy[w].Store(start.UnixNano())
				err := soakRun(b, op, rnd)
				busy[w].Store(0)
				s.record(b, op, time.Since(start), err)
			}
		}(w)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	reported := map[int]bool{}
wait:
	for {
		select {
		case <-done:
			break wait
		case <-tick.C:
			for w := range busy {
				if since := busy[w].Load(); since != 0 && time.Since(time.Unix(0, since)) > soakWaitLimit+10*time.Second && !reported[w] {
					reported[w] = true
					t.Errorf("worker %d stuck in %v for %v", w, what[w].Load(), time.Since(time.Unix(0, since)).Round(time.Second))
				}
			}
			if time.Now().After(deadline.Add(3 * soakWaitLimit)) {
				buf := make([]byte, 1<<20)
				fmt.Fprintf(os.Stderr, "soak: workers hang; goroutines:\n%s\n", buf[:runtime.Stack(buf, true)])
				t.Fatalf("soak: workers did not finish %v after the deadline", 3*soakWaitLimit)
			}
		}
	}
	close(stop)
	bg.Wait()
	signal.Stop(sigs)
	return s
}

// vmRSS returns the resident set size of this process in bytes.
func vmRSS(t *testing.T) int64 {
	t.Helper()
	kb, err := strconv.ParseInt(strings.TrimSuffix(procStatus(t, os.Getpid(), "VmRSS"), " kB"), 10, 64)
	if err != nil {
		t.Fatalf("VmRSS: %v", err)
	}
	return kb << 10
}

// soakSnapshot is the state the leak checks compare.
type soakSnapshot struct {
	fds     map[int]string
	threads int
	rss     int64
	heap    uint64
}

func takeSnapshot(t *testing.T) soakSnapshot {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return soakSnapshot{fds: openFds(), threads: threads(), rss: vmRSS(t), heap: ms.HeapAlloc}
}

// Leak bounds.
//
// Threads: the Go runtime never ends an idle OS thread; it keeps every
// thread it ever started for reuse. After a warm-up under the same load the
// pool has (nearly) its working size; threads come from goroutines blocked
// in system calls or cgo calls (clone3 with CLONE_VFORK blocks its thread
// until the child has executed, fork_np for the whole fork), of which there
// are at most the workers plus the flood, the collector and the signal
// receiver. So the count may grow by at most workers+4 over the soak; a
// thread lost per spawn, or per hung child, would exceed that within a few
// hundred spawns.
//
// Resident memory: after a collection and FreeOSMemory, what remains is the
// live heap, the runtime's own structures, thread stacks and the C
// library's arenas. The warm-up pays for the first-use steps (measured:
// 100-300 KiB over the whole soak, whatever its length); what may still
// come is a glibc malloc arena and a stack for each of the at most
// workers+4 new threads, well under 2 MiB. The bound is 4 MiB: with the
// 3,000-15,000 spawns of a 60 s soak on two cores it catches a leak of
// 300-1,400 bytes per spawn, and the growth per spawn is reported for
// the smaller ones. Go's own heap after a collection is held to 1 MiB
// (measured: +10-20 KiB), which catches a retained Process (hundreds of
// bytes with its *os.File) after a few thousand spawns.
const (
	soakRSSSlack  = 4 << 20
	soakHeapSlack = 1 << 20
)

// sanitizer names the sanitizer this test binary was built with, if any.
func sanitizer() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range bi.Settings {
		if (s.Key == "-race" || s.Key == "-asan" || s.Key == "-msan") && s.Value == "true" {
			return s.Key
		}
	}
	return ""
}

func TestSoak(t *testing.T) {
	if *soakFor <= 0 {
		t.Skip("the soak test is off by default: run go test -v -run '^TestSoak$' -soak=DURATION (e.g. -soak=60s)")
	}
	is := is.New(t)
	bs := append(backends(t), Auto)
	workers := 2 * runtime.GOMAXPROCS(0)
	seed := uint64(time.Now().UnixNano())
	t.Logf("soak: %v, %d workers, backends %v, seed %d", *soakFor, workers, bs, seed)

	// Warm-up: the same load, to fill the runtime's thread pool, the
	// sync.Pools and the C library's arenas before the baseline.
	warm := min(*soakFor/10, 5*time.Second)
	ws := soakPhase(t, warm, bs, workers, seed^0x5eed)
	is.Equal(ws.errors.Load(), int64(0)) // the warm-up runs cleanly too
	before := takeSnapshot(t)

	start := time.Now()
	s := soakPhase(t, *soakFor, bs, workers, seed)
	elapsed := time.Since(start)
	is.True(noChild()) // every child was reaped by the operation that made it
	after := takeSnapshot(t)

	spawns := s.spawns.Load()
	t.Logf("soak: %d spawns in %v: %.0f spawns/s; %d unexpected errors", spawns, elapsed.Round(time.Millisecond),
		float64(spawns)/elapsed.Seconds(), s.errors.Load())
	var keys []string
	for k := range s.byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var line strings.Builder
	for i, k := range keys {
		fmt.Fprintf(&line, "%s=%d ", k, s.byKey[k])
		if i%6 == 5 || i == len(keys)-1 {
			t.Logf("  %s", line.String())
			line.Reset()
		}
	}
	for _, b := range bs {
		t.Logf("  slowest spawn+wait on %v: %v", b, s.slowest[b].Round(time.Microsecond))
	}
	t.Logf("soak: %d signals sent (SIGUSR1, SIGURG), %d SIGUSR1 received, %d forced collections", s.sigsSent.Load(), s.sigsGot.Load(), s.gcs.Load())
	for _, e := range s.first {
		t.Log("unexpected:", e)
	}

	var leaked []string
	for fd, target := range after.fds {
		if _, ok := before.fds[fd]; !ok && !strings.HasPrefix(target, "/proc/") {
			leaked = append(leaked, fmt.Sprintf("%d -> %s", fd, target))
		}
	}
	sort.Strings(leaked)
	rssGrowth := after.rss - before.rss
	heapGrowth := int64(after.heap) - int64(before.heap)
	t.Logf("leaks: descriptors %d %v, zombies 0, threads %d -> %d (bound +%d), RSS %.1f -> %.1f MiB (%+d KiB, %.1f B/spawn, bound +%d MiB), Go heap %.1f -> %.1f MiB (%+d KiB, bound +%d MiB)",
		len(leaked), leaked, before.threads, after.threads, workers+4,
		float64(before.rss)/(1<<20), float64(after.rss)/(1<<20), rssGrowth>>10, float64(rssGrowth)/float64(max(spawns, 1)), soakRSSSlack>>20,
		float64(before.heap)/(1<<20), float64(after.heap)/(1<<20), heapGrowth>>10, soakHeapSlack>>20)

	is.True(spawns > 0)                                // the soak did something
	is.Equal(s.errors.Load(), int64(0))                // no unexpected error, hang or wrong status
	is.True(s.sigsGot.Load() > 0)                      // the flood reached the process
	is.Equal(len(leaked), 0)                           // no descriptor left open
	is.True(after.threads <= before.threads+workers+4) // no thread lost per spawn
	if san := sanitizer(); san != "" {
		// The race detector's shadow memory and ASan's quarantine grow
		// with the work done and are never returned: no RSS bound there.
		t.Logf("built with %s: RSS growth reported, not bounded", san)
	} else {
		is.True(rssGrowth <= soakRSSSlack) // resident memory bounded
	}
	is.True(heapGrowth <= soakHeapSlack) // Go heap bounded
	is.NoErr(checkLeaks(before.fds))     // and the package's own guard agrees
}
