//go:build linux

package spawn

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Helper programs: the test binary re-executed with SPAWN_HELPER=name runs
// helpers[name](args) instead of the tests and exits with its result. Test
// files register theirs in init with registerHelper.
var (
	helpersMu sync.Mutex
	helpers   = map[string]func(args []string) int{}
)

func registerHelper(name string, fn func(args []string) int) {
	helpersMu.Lock()
	defer helpersMu.Unlock()
	if _, dup := helpers[name]; dup {
		panic("spawn test: helper registered twice: " + name)
	}
	helpers[name] = fn
}

// testExe is the test binary, for re-execution as a helper. Under the glibc
// matrix (ci/with-glibc) the binary runs through another glibc's dynamic
// loader: /proc/self/exe is then the loader, and helpers are started through
// it too, so that they run on the same glibc.
var testExe, testExePrefix = func() (string, []string) {
	self, err := filepathAbs(os.Args[0])
	if err != nil {
		self = os.Args[0]
	}
	if ldso, lib := os.Getenv("SPAWN_GLIBC_LDSO"), os.Getenv("SPAWN_GLIBC_LIBDIR"); ldso != "" && lib != "" {
		return ldso, []string{ldso, "--library-path", lib, self}
	}
	if exe, err := os.Executable(); err == nil {
		self = exe
	}
	return self, nil
}()

// helperArgv returns the path, argv and environment that run helper name.
func helperArgv(name string, args ...string) (string, []string, []string) {
	// Drop an inherited SPAWN_HELPER (a helper starting a helper): getenv
	// takes the first.
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "SPAWN_HELPER=") })
	env = append(env, "SPAWN_HELPER="+name)
	argv := []string{"spawn-helper"}
	if len(testExePrefix) > 0 {
		argv = append([]string{}, testExePrefix...)
	}
	return testExe, append(argv, args...), env
}

func init() {
	registerHelper("exit", func(args []string) int {
		n, _ := strconv.Atoi(args[0])
		return n
	})
	registerHelper("sleep", func(args []string) int {
		d, _ := time.ParseDuration(args[0])
		time.Sleep(d)
		return 0
	})
	registerHelper("kill-self", func(args []string) int {
		n, _ := strconv.Atoi(args[0])
		unix.Kill(os.Getpid(), unix.Signal(n))
		time.Sleep(10 * time.Second)
		return 1
	})
}

// becomeNobody drops this (helper) process to uid and gid 65534 with no
// supplementary groups, on every thread.
func becomeNobody() error {
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(65534); err != nil {
		return fmt.Errorf("setgid: %w", err)
	}
	if err := syscall.Setuid(65534); err != nil {
		return fmt.Errorf("setuid: %w", err)
	}
	return nil
}

// mountOwnProc mounts a /proc of this (helper) process's pid namespace over
// /proc. The helper must have been started in a mount namespace of its own
// (CLONE_NEWNS with its CLONE_NEWPID): every thread of it is there, unlike
// after an unshare on one thread, so nothing of this reaches the machine's
// mount table (TestMain's mount guard checks).
func mountOwnProc() error {
	if err := unix.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount proc: %w", err)
	}
	return nil
}

func filepathAbs(p string) (string, error) { return filepath.Abs(p) }

// unsafePointer is unsafe.Pointer for tests that pass buffers to raw calls.
func unsafePointer[T any](p *T) unsafe.Pointer { return unsafe.Pointer(p) }

// testCgroup creates a fresh cgroup v2 directory for the test and removes it
// afterwards. It skips where cgroup2 is absent or not writable.
func testCgroup(t *testing.T) *Cgroup {
	t.Helper()
	root, err := Cgroup2Root()
	if err != nil {
		t.Skipf("cgroup v2 needed: %v", err)
	}
	parent, err := OpenCgroup(root)
	if err != nil {
		t.Skipf("cgroup v2 root not usable: %v", err)
	}
	defer parent.Close()
	cg, err := parent.Mkdir(fmt.Sprintf("spawn-test-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "_")))
	if err != nil {
		t.Skipf("cannot create a cgroup under %s (needs write access, e.g. root): %v", root, err)
	}
	t.Cleanup(func() {
		cg.Kill()
		for i := 0; i < 100; i++ {
			if err := cg.Remove(); err == nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Errorf("cgroup %s not removed", cg.Path())
		cg.Close()
	})
	return cg
}

// A helper runs on the main goroutine, locked to the main thread: init
// functions run there and locking in one keeps main there. Helpers rely on
// it: pdeathsig's spawning goroutine must get a thread that ends (the
// runtime never ends the main thread), leader-exits-first ends the main
// thread alone.
func init() {
	if os.Getenv("SPAWN_HELPER") != "" {
		runtime.LockOSThread()
	}
}

func TestMain(m *testing.M) {
	if name := os.Getenv("SPAWN_HELPER"); name != "" {
		fn := helpers[name]
		if fn == nil {
			fmt.Fprintf(os.Stderr, "spawn test: no helper %q\n", name)
			os.Exit(200)
		}
		os.Exit(fn(os.Args[1:]))
	}
	if os.Getpid() == 1 {
		os.Exit(runGuest(m))
	}
	warmPoller()
	before := openFds()
	mounts := mountPoints()
	code := m.Run()
	if code == 0 {
		if err := checkLeaks(before); err != nil {
			fmt.Fprintln(os.Stderr, "leak guard:", err)
			code = 1
		}
	}
	// Helpers that mount things (a /proc of a new pid namespace) must do
	// it in a mount namespace of their own, never in the machine's.
	if after := mountPoints(); after != mounts {
		fmt.Fprintf(os.Stderr, "mount guard: the mount table changed during the tests\nbefore:\n%s\nafter:\n%s\n", mounts, after)
		code = 1
	}
	os.Exit(code)
}

// mountPoints lists this mount namespace's mounts: id, mount point and
// filesystem type, one per line.
func mountPoints() string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "(no /proc/self/mountinfo: " + err.Error() + ")"
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 {
			continue
		}
		fstype := ""
		for i, x := range f {
			if x == "-" && i+1 < len(f) {
				fstype = f[i+1]
				break
			}
		}
		lines = append(lines, f[0]+" "+f[4]+" "+fstype)
	}
	return strings.Join(lines, "\n")
}

// warmPoller makes the runtime create its poller descriptors (epoll, the
// wake-up eventfd) and the package its wait set before the baseline is
// taken, and opens Cmd's null device.
func warmPoller() {
	if err := waits.ensure(); err != nil {
		fmt.Fprintln(os.Stderr, "wait set:", err)
	}
	// Cmd's null device, kept open once opened: counted from the start.
	nullDevice(false)
	nullDevice(true)
	r, w, err := os.Pipe()
	if err != nil {
		return
	}
	r.SetReadDeadline(time.Now())
	r.Read(make([]byte, 1))
	r.Close()
	w.Close()
}

// openFds lists the descriptors of this process with what they point to.
func openFds() map[int]string {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	fds := map[int]string{}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		fds[fd] = target
	}
	return fds
}

// children describes this process's children (pid, name, state from
// /proc/PID/stat, and command line; zombies too), for the message of a test
// that finds one left behind.
func children() string {
	self := os.Getpid()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []string
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		pi, err := procStat(pid)
		if err != nil || pi.ppid != self {
			continue
		}
		cmd, _ := os.ReadFile(d + "/cmdline")
		out = append(out, fmt.Sprintf("%d (%s) state %s [%s]", pid, pi.comm, pi.state,
			strings.ReplaceAll(strings.TrimRight(string(cmd), "\x00"), "\x00", " ")))
	}
	if len(out) == 0 {
		return "none found in /proc"
	}
	return strings.Join(out, "; ")
}

// fdsAdded lists, sorted, the descriptors of after that before lacks, as
// "fd -> target": not the ReadDir's own descriptor of /proc/self/fd, nor one
// closed before its link could be read (no target).
func fdsAdded(before, after map[int]string) string {
	var added []string
	for fd, target := range after {
		if _, ok := before[fd]; !ok && target != "" && !strings.HasPrefix(target, "/proc/") {
			added = append(added, fmt.Sprintf("%d -> %s", fd, target))
		}
	}
	sort.Strings(added)
	return strings.Join(added, ", ")
}

// checkLeaks reports descriptors opened since before (the ReadDir's own
// descriptor aside) and any child not yet reaped. Children may take a moment
// to be reaped by tests that kill and release, so the check retries briefly.
func checkLeaks(before map[int]string) error {
	var errs []error
	for try := 0; ; try++ {
		errs = errs[:0]
		if leaked := fdsAdded(before, openFds()); leaked != "" {
			errs = append(errs, fmt.Errorf("descriptors left open: %s", leaked))
		}
		var si unix.Siginfo
		err := unix.Waitid(unix.P_ALL, 0, &si, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT|unix.WALL, nil)
		if err == nil { // ECHILD would mean no child at all
			errs = append(errs, fmt.Errorf("a child process is left unreaped or still running: %s", children()))
		} else if err != unix.ECHILD {
			errs = append(errs, fmt.Errorf("waitid(P_ALL): %v", err))
		}
		if len(errs) == 0 || try == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.Join(errs...)
}
