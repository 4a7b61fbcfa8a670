//go:build linux && cgo

package spawn

import (
	"debug/elf"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/matryer/is"
	"github.com/pidfd/spawn/internal/shim"
	"golang.org/x/sys/unix"
)

// glibcAtLeast reports whether glibc version v ("2.36") is at least
// major.minor.
func glibcAtLeast(v string, major, minor int) bool {
	maj, min, ok := parseGlibc(v)
	return ok && (maj > major || maj == major && min >= minor)
}

func parseGlibc(v string) (major, minor int, ok bool) {
	a, b, found := strings.Cut(v, ".")
	if !found {
		return 0, 0, false
	}
	if i := strings.IndexFunc(b, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		b = b[:i]
	}
	major, err1 := strconv.Atoi(a)
	minor, err2 := strconv.Atoi(b)
	return major, minor, err1 == nil && err2 == nil
}

func TestGlibcVersion(t *testing.T) {
	is := is.New(t)
	v := glibcVersion()
	_, _, ok := parseGlibc(v)
	is.True(ok) // gnu_get_libc_version gives MAJOR.MINOR
	if want := os.Getenv("SPAWN_EXPECT_GLIBC"); want != "" {
		// ci/with-glibc runs this binary under another glibc: if the
		// loader fell back to the system's, the matrix proves nothing.
		is.Equal(v, want) // the glibc that ci/with-glibc promised
	}
	t.Logf("glibc %s", v)
}

func TestAvailablePidfdSpawn(t *testing.T) {
	is := is.New(t)
	v := glibcVersion()
	err := Available(PidfdSpawn)
	if glibcAtLeast(v, 2, 39) {
		is.NoErr(err) // glibc ≥ 2.39 has pidfd_spawn: the backend must bind it
		return
	}
	is.True(errors.Is(err, ErrNotSupported))       // a missing function is "not supported"
	is.True(errors.Is(err, errors.ErrUnsupported)) // and errors.ErrUnsupported
	is.True(strings.Contains(err.Error(), v))      // the message names the running glibc
	is.True(strings.Contains(err.Error(), "2.39")) // and the release that has pidfd_spawn
	p, err2 := failed(Spawn("/bin/true", []string{"true"}, &Attr{Backend: PidfdSpawn}))
	is.True(p == nil)                         // forcing a missing backend creates no child
	is.True(errors.Is(err2, ErrNotSupported)) // and says why
}

func TestPidfdSpawnForced(t *testing.T) {
	if err := Available(PidfdSpawn); err != nil {
		t.Skipf("PidfdSpawn needs glibc 2.39: %v", err)
	}
	is := is.New(t)
	path, argv, env := helperArgv("exit", "7")
	p, err := Spawn(path, argv, &Attr{Backend: PidfdSpawn, Env: env})
	is.NoErr(err) // pidfd_spawn of the helper
	endOnCleanup(t, p)
	is.Equal(p.Backend(), PidfdSpawn) // made by glibc's pidfd_spawn
	pid, err := PidfdGetpid(p.Fd())   //
	is.NoErr(err)                     // the pidfd names a live child
	is.Equal(pid, p.Pid())            // the pid Spawn read from the pidfd
	flags, err := unix.FcntlInt(uintptr(p.Fd()), unix.F_GETFD, 0)
	is.NoErr(err)                       // F_GETFD on the pidfd
	is.True(flags&unix.FD_CLOEXEC != 0) // glibc's pidfd is close-on-exec
	st := mustWait(t, p)                //
	is.Equal(st.ExitCode(), 7)          // the helper's exit status
}

func TestAutoPicksPidfdSpawn(t *testing.T) {
	is := is.New(t)
	want := Clone3
	if Available(PidfdSpawn) == nil {
		want = PidfdSpawn
	}
	p, err := Spawn("/bin/true", []string{"true"}, nil)
	is.NoErr(err) // Auto spawns /bin/true
	endOnCleanup(t, p)
	is.Equal(p.Backend(), want) // PidfdSpawn where glibc has it, Clone3 otherwise
	mustWait(t, p)              //
	p, err = Spawn("/bin/true", []string{"true"}, &Attr{Rlimits: []Rlimit{{Resource: unix.RLIMIT_CORE}}})
	is.NoErr(err) // Auto with an Rlimit
	endOnCleanup(t, p)
	is.Equal(p.Backend(), Clone3) // posix_spawn cannot set rlimits: Clone3
	mustWait(t, p)                //
}

// childPids lists this process's children (/proc/self/task/*/children),
// or skips when the kernel lacks CONFIG_PROC_CHILDREN.
func childPids(t *testing.T) []string {
	t.Helper()
	tasks, err := filepath.Glob("/proc/self/task/*/children")
	if err != nil || len(tasks) == 0 {
		t.Skip("counting children needs /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN)")
	}
	var pids []string
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread exited
		}
		pids = append(pids, strings.Fields(string(b))...)
	}
	return pids
}

func TestPidfdSpawnFailureLeavesNothing(t *testing.T) {
	if err := Available(PidfdSpawn); err != nil {
		t.Skipf("PidfdSpawn needs glibc 2.39: %v", err)
	}
	is := is.New(t)
	dir := t.TempDir()
	noexec := filepath.Join(dir, "noexec")
	is.NoErr(os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644)) // a file without x permission
	before := len(openFds())
	kids := len(childPids(t))
	for i := 0; i < 20; i++ {
		p, err := failed(Spawn(filepath.Join(dir, "missing"), []string{"missing"}, &Attr{Backend: PidfdSpawn}))
		is.True(p == nil) // no Process for a failed exec
		var pe *os.PathError
		is.True(errors.As(err, &pe))            // a *os.PathError
		is.Equal(pe.Op, "pidfd_spawn")          // named after the call
		is.True(errors.Is(err, fs.ErrNotExist)) // ENOENT from the child's execve
		p, err = failed(SpawnP(filepath.Join(dir, "missing"), []string{"missing"}, &Attr{Backend: PidfdSpawn}))
		is.True(p == nil)               // no Process for a failed exec
		is.True(errors.As(err, &pe))    // a *os.PathError
		is.Equal(pe.Op, "pidfd_spawnp") // named after the call
		p, err = failed(Spawn(noexec, []string{"noexec"}, &Attr{Backend: PidfdSpawn}))
		is.True(p == nil)                       // no Process for a failed exec
		is.True(errors.Is(err, syscall.EACCES)) // EACCES from the child's execve
	}
	is.Equal(len(openFds()), before)  // glibc closed the failed children's pidfds
	is.Equal(len(childPids(t)), kids) // and reaped the children
}

func TestLibcPidfdGetpid(t *testing.T) {
	is := is.New(t)
	f := libcPidfdGetpid()
	if !glibcAtLeast(glibcVersion(), 2, 39) {
		is.True(f == nil) // glibc before 2.39 has no pidfd_getpid
		return
	}
	is.True(f != nil) // glibc ≥ 2.39: pidfd_getpid is bound
	path, argv, env := helperArgv("sleep", "10s")
	p, err := Spawn(path, argv, &Attr{Env: env})
	is.NoErr(err) // a child to ask about
	endOnCleanup(t, p)
	pid, err := f(p.Fd())
	is.NoErr(err)          // glibc's pidfd_getpid of a live child
	is.Equal(pid, p.Pid()) // is the child's pid
	r, w, err := os.Pipe()
	is.NoErr(err) // a descriptor that is not a pidfd
	_, err = f(int(r.Fd()))
	is.True(errors.Is(err, syscall.EBADF)) // not a pidfd: EBADF
	var se *os.SyscallError
	is.True(errors.As(err, &se))         // wrapped with its call
	is.Equal(se.Syscall, "pidfd_getpid") // named pidfd_getpid
	r.Close()
	w.Close()
	kept, err := unix.Dup(p.Fd())
	is.NoErr(err)      // a second pidfd on the child: Wait closes the Process's own
	is.NoErr(p.Kill()) // end the child
	_, err = p.Wait()
	is.NoErr(err) // reap it
	_, err = f(kept)
	unix.Close(kept)
	is.True(errors.Is(err, syscall.ESRCH)) // reaped: ESRCH
}

func TestShimAgreesWithPlan(t *testing.T) {
	is := is.New(t)
	is.Equal(shim.OpSetsid, int(opSetsid))              // step kinds shared with shim.h
	is.Equal(shim.OpSigMask, int(opSigMask))            // step kinds shared with shim.h
	is.Equal(shim.OpExec, int(opExec))                  // step kinds shared with shim.h
	is.Equal(shim.CheckEq, checkEq)                     // the rawStep check flag
	is.Equal(shim.SelfPid, stepSelfPid)                 // the rawStep flags the shim's child reads
	is.Equal(shim.Notify, stepNotify)                   // the rawStep flags the shim's child reads
	is.Equal(uint64(shim.ForkPidfd), uint64(ForkPidfd)) // fork flags shared with shim.h
	is.Equal(uint64(shim.ForkExitSig), uint64(ForkExitSignal))
}

// glibcVersions returns the highest GLIBC_2.x version each imported symbol
// of the ELF file needs, by symbol.
func glibcVersions(t *testing.T, path string) (max string, bySym map[string]string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("open ELF %s: %v", path, err)
	}
	defer f.Close()
	syms, err := f.ImportedSymbols()
	if err != nil {
		t.Fatalf("imported symbols of %s: %v", path, err)
	}
	bySym = map[string]string{}
	for _, s := range syms {
		if !strings.HasPrefix(s.Version, "GLIBC_") {
			continue
		}
		bySym[s.Name] = s.Version
		if max == "" || glibcLess(max, s.Version) {
			max = s.Version
		}
	}
	return max, bySym
}

// glibcLess orders GLIBC_2.3.2 < GLIBC_2.17 < GLIBC_2.34.
func glibcLess(a, b string) bool {
	pa := strings.Split(strings.TrimPrefix(a, "GLIBC_"), ".")
	pb := strings.Split(strings.TrimPrefix(b, "GLIBC_"), ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// selfBinary is this test binary's file (not the loader it may run under).
func selfBinary(t *testing.T) string {
	if os.Getenv("SPAWN_GLIBC_LDSO") == "" {
		if exe, err := os.Executable(); err == nil {
			return exe
		}
	}
	exe, err := filepath.Abs(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

func TestNoNewGlibcSymbolVersions(t *testing.T) {
	// A binary built here must load on any glibc the Go runtime itself
	// loads on: the shim may not link a symbol version newer than what a
	// trivial cgo program needs (everything newer goes through dlvsym).
	is := is.New(t)
	have, bySym := glibcVersions(t, selfBinary(t))
	is.True(have != "") // a cgo binary imports versioned glibc symbols

	baseline := "GLIBC_2.34" // what Go 1.26's runtime/cgo needs on glibc ≥ 2.34
	if goTool, err := exec.LookPath("go"); err == nil {
		dir := t.TempDir()
		is.NoErr(os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module cgobaseline\n\ngo 1.21\n"), 0o644))
		is.NoErr(os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\n// int one(void) { return 1; }\nimport \"C\"\n\nfunc main() { println(C.one()) }\n"), 0o644))
		cmd := exec.Command(goTool, "build", "-o", "baseline", ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOFLAGS=", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building a trivial cgo program: %v\n%s", err, out)
		}
		baseline, _ = glibcVersions(t, filepath.Join(dir, "baseline"))
	} else {
		t.Logf("no go command (%v): assuming the baseline %s", err, baseline)
	}
	for sym, v := range bySym {
		if glibcLess(baseline, v) {
			t.Errorf("%s needs %s, newer than the Go runtime's %s: look it up with dlvsym", sym, v, baseline)
		}
		if glibcAtLeast(strings.TrimPrefix(v, "GLIBC_"), 2, 39) {
			t.Errorf("%s needs %s: a binary built here would not load on glibc 2.36", sym, v)
		}
	}
	t.Logf("highest glibc symbol version: %s (baseline %s)", have, baseline)
}

// TestPidfdSpawnThreadMask: the PidfdSpawn call, which blocks every signal
// on the calling thread while it runs (no Go handler may run on its C
// stack), gives the thread its own mask back afterwards, whatever it was.
func TestPidfdSpawnThreadMask(t *testing.T) {
	if err := Available(PidfdSpawn); err != nil {
		t.Skipf("needs PidfdSpawn (cgo, glibc 2.39; CI runs it under the glibc matrix): %v", err)
	}
	is := is.New(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// A mask of our own on this thread: SIGUSR2 and SIGWINCH blocked.
	var set, old uint64 = sigbit(syscall.SIGUSR2) | sigbit(syscall.SIGWINCH), 0
	_, _, errno := syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafePointer(&set)), uintptr(unsafePointer(&old)), 8, 0, 0)
	is.Equal(errno, syscall.Errno(0))
	defer syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafePointer(&old)), 0, 8, 0, 0)

	for i := 0; i < 3; i++ {
		p, err := Spawn("/bin/true", []string{"true"}, &Attr{Backend: PidfdSpawn})
		is.NoErr(err)
		endOnCleanup(t, p)
		var now uint64
		syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, 0, uintptr(unsafePointer(&now)), 8, 0, 0)
		is.Equal(now, set) // the thread's mask is what it was before the spawn
		st, err := p.Wait()
		is.NoErr(err)
		is.True(st.Success())
		p.Release()
	}
}
