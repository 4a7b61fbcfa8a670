//go:build linux

package spawn

// Security defaults, tested on every backend that has the feature:
//
//   - Descriptors. A child gets descriptors 0, 1 and 2 and nothing else:
//     every other descriptor of the parent is closed in the child,
//     close-on-exec or not (close_range in the plan; closefrom for
//     pidfd_spawn). Others reach the child only when asked for: laid out
//     with Attr.Files, or, with Attr.InheritFDs, the parent's descriptors
//     that are not close-on-exec. Descriptors the package itself opens
//     (pidfds, the cgroup directory, the backends' report pipes) are
//     close-on-exec, so they never reach a child, not even with InheritFDs.
//   - No handle on anyone. A child holds no pidfd of its parent or of its
//     siblings: every Process's pidfd is close-on-exec, so later children of
//     the same parent never inherit it. (A child can still signal its
//     parent by pid, as any process of the same user can; spawn hands it
//     nothing more.)
//   - Stale handles. A Process names one process for its whole life: once
//     that process has been reaped, by this handle or through another one,
//     Signal returns os.ErrProcessDone and Wait returns without touching
//     the process that got the pid next (TestPidReuseStaleHandle).
//   - Privileges. NoNewPrivs (Clone3 and ForkNP; pidfd_spawn cannot carry
//     it) sets no_new_privs before exec: setuid bits and file capabilities
//     no longer raise privileges, for the child and everything it starts.
//     It is off by default, as for os/exec: the child inherits the parent's
//     no_new_privs.
//   - What the child inherits unless told otherwise: the parent's
//     environment (Env nil: pass an explicit Env to keep secrets out),
//     credentials, resource limits (with the RLIMIT_NOFILE soft limit the
//     Go runtime raised), ignored signals (caught ones are reset), umask,
//     namespaces and cgroup. The signal mask is empty by default.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/matryer/is"
	"golang.org/x/sys/unix"
)

// nonCloexecFds lists this process's descriptors that are not
// close-on-exec, with their targets.
func nonCloexecFds(t *testing.T) map[int]string {
	t.Helper()
	out := map[int]string{}
	for fd, target := range openFds() {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil {
			continue // the directory descriptor of the listing itself
		}
		if flags&unix.FD_CLOEXEC == 0 {
			out[fd] = target
		}
	}
	return out
}

func isPidfd(target string) bool { return target == "anon_inode:[pidfd]" }

func TestSecurityDescriptorsNotInherited(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		noLeaks(t)
		plain, err := unix.Open("/dev/null", unix.O_RDONLY, 0) // not close-on-exec
		is.NoErr(err)                                          // a descriptor without O_CLOEXEC
		defer unix.Close(plain)
		// One owner per descriptor: z closes it (an *os.File closes its
		// descriptor when collected, so a raw close as well would be a
		// double close, hitting whatever reused the number meanwhile).
		z, err := os.Open("/dev/zero") // close-on-exec, as Go opens everything
		is.NoErr(err)                  // a close-on-exec descriptor
		defer z.Close()
		cloexec := int(z.Fd())
		self, err := unix.PidfdOpen(os.Getpid(), 0) // a pidfd of the parent
		is.NoErr(err)                               // a pidfd of ourselves
		defer unix.Close(self)
		ours := openFds()

		fds := sleeperFds(t, sleeper(t, b, Attr{}))
		is.Equal(fdKeys(fds), []int{0, 1, 2}) // by default: 0, 1 and 2, nothing else
		for fd := 0; fd <= 2; fd++ {
			is.Equal(fds[fd], ours[fd]) // the parent's own 0, 1 and 2
		}

		want := nonCloexecFds(t)
		fds = sleeperFds(t, sleeper(t, b, Attr{InheritFDs: true}))
		is.True(fds[plain] != "")           // InheritFDs passes a descriptor that is not close-on-exec
		is.Equal(fds[cloexec], "")          // but never a close-on-exec one
		is.Equal(fds[self], "")             // nor the parent's pidfd
		is.Equal(fdKeys(fds), fdKeys(want)) // exactly the parent's descriptors that are not close-on-exec: nothing of the spawn's own

		fds = sleeperFds(t, sleeper(t, b, Attr{Files: []*os.File{os.Stdin, os.Stdout, os.Stderr, z}}))
		is.Equal(fdKeys(fds), []int{0, 1, 2, 3}) // Files: exactly what it lays out, the other descriptors stay behind
		is.Equal(fds[3], "/dev/zero")            // a close-on-exec descriptor, passed on purpose
	})
}

func TestSecurityNoPidfdsInChildren(t *testing.T) {
	// A child gets no pidfd of its siblings, even with InheritFDs, where
	// nothing is closed for it: every Process's pidfd is close-on-exec.
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		noLeaks(t)
		sib := sleeper(t, b, Attr{})
		flags, err := unix.FcntlInt(uintptr(sib.Fd()), unix.F_GETFD, 0)
		is.NoErr(err)                       // the sibling's pidfd is open
		is.True(flags&unix.FD_CLOEXEC != 0) // the sibling's pidfd is close-on-exec
		for _, attr := range []Attr{{}, {InheritFDs: true}} {
			for fd, target := range sleeperFds(t, sleeper(t, b, attr)) {
				is.True(!isPidfd(target))           // no pidfd of anyone in the child
				is.True(fd <= 2 || attr.InheritFDs) // and by default nothing of ours beyond 0-2
			}
		}
		is.NoErr(sib.Signal(syscall.Signal(0))) // the sibling is there all along, its handle only in the parent
	})
}

func TestSecurityNoNewPrivs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		noLeaks(t)
		if b == PidfdSpawn {
			_, err := failed(Spawn("/bin/true", []string{"true"}, &Attr{Backend: b, NoNewPrivs: true}))
			is.True(errors.Is(err, ErrNotSupported)) // posix_spawn cannot set no_new_privs: refused, never silently dropped
			return
		}
		parent := procStatus(t, os.Getpid(), "NoNewPrivs")
		is.Equal(procStatus(t, sleeper(t, b, Attr{}).Pid(), "NoNewPrivs"), parent)              // default: as the parent's
		is.Equal(procStatus(t, sleeper(t, b, Attr{NoNewPrivs: true}).Pid(), "NoNewPrivs"), "1") // with NoNewPrivs: set in the child

		// And for everything the child starts.
		r, w, err := os.Pipe()
		is.NoErr(err) // a pipe for the grandchild's report
		defer r.Close()
		p, err := Spawn("/bin/sh", []string{"sh", "-c", "grep NoNewPrivs /proc/self/status"},
			&Attr{Backend: b, NoNewPrivs: true, Files: []*os.File{nil, w, os.Stderr}})
		w.Close()
		is.NoErr(err) // sh starts with no_new_privs
		out, _ := io.ReadAll(r)
		mustWait(t, p)
		is.Equal(strings.Fields(string(out)), []string{"NoNewPrivs:", "1"}) // a grandchild has it too
	})
}

func init() {
	// nnp-setuid BACKEND PROG: as uid 65534, run PROG (a setuid-root copy
	// of id) with and without NoNewPrivs and print its euid each time.
	registerHelper("nnp-setuid", func(args []string) int {
		b, _ := ParseBackend(args[0])
		if err := becomeNobody(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 10
		}
		for _, nnp := range []bool{false, true} {
			r, w, err := os.Pipe()
			if err != nil {
				return 11
			}
			p, err := Spawn(args[1], []string{"id", "-u"}, &Attr{Backend: b, NoNewPrivs: nnp, Files: []*os.File{nil, w, os.Stderr}})
			w.Close()
			if err != nil {
				fmt.Fprintln(os.Stderr, "spawn:", err)
				return 12
			}
			out, _ := io.ReadAll(r)
			r.Close()
			p.Wait()
			p.Release()
			fmt.Printf("NoNewPrivs=%v euid=%s\n", nnp, strings.TrimSpace(string(out)))
		}
		return 0
	})
}

func TestSecurityNoNewPrivsSetuid(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("a setuid-root program and a drop to uid 65534 need root")
	}
	dir, err := os.MkdirTemp("", "spawn-nnp-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	prog := filepath.Join(dir, "id")
	src, err := os.ReadFile("/usr/bin/id")
	if err != nil {
		t.Skipf("needs /usr/bin/id: %v", err)
	}
	if err := os.WriteFile(prog, src, 0o755); err != nil {
		t.Fatal(err)
	}
	// os.MkdirTemp makes the directory 0700; uid 65534 must reach prog.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(prog, 0o4755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	for _, b := range backends(t) {
		if b == PidfdSpawn {
			continue // cannot carry NoNewPrivs (TestSecurityNoNewPrivs)
		}
		t.Run(b.String(), func(t *testing.T) {
			is := is.New(t)
			noLeaks(t)
			out, st := runHelper(t, "nnp-setuid", b.String(), prog)
			logLines(t, out)
			is.Equal(st.ExitCode(), 0) // the helper ran both
			lines := strings.Split(strings.TrimSpace(out), "\n")
			is.Equal(len(lines), 2) // one line per run
			if lines[0] != "NoNewPrivs=false euid=0" {
				t.Skipf("setuid-root id does not run as root in %s (a nosuid mount, or an id that drops privileges, as busybox does): %s", dir, lines[0])
			}
			is.Equal(lines[1], "NoNewPrivs=true euid=65534") // with NoNewPrivs the setuid bit raises nothing
		})
	}
}

func init() {
	// pid-reuse BACKEND: run as init of a new pid namespace (and a mount
	// namespace of its own). Makes the kernel hand the pid of a reaped
	// child to a new process (ns_last_pid), then uses the stale handles.
	// Prints what each call returned.
	registerHelper("pid-reuse", func(args []string) int {
		b, _ := ParseBackend(args[0])
		if os.Getpid() != 1 {
			fmt.Fprintln(os.Stderr, "not the init of a new pid namespace")
			return 10
		}
		// A /proc of this pid namespace (pids in fdinfo, /proc/PID).
		if err := mountOwnProc(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 10
		}
		// Threads take pids too: let the runtime have its threads now,
		// not between ns_last_pid and the spawn.
		warmThreads(8)
		fail := func(code int, format string, args ...any) int {
			fmt.Fprintf(os.Stderr, format+"\n", args...)
			return code
		}
		// atPid starts a sleeper that gets pid (ns_last_pid = pid-1).
		atPid := func(pid int) (*Process, error) {
			for try := 0; try < 20; try++ {
				if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0); err != nil {
					return nil, err
				}
				p, err := Spawn("/bin/sleep", []string{"sleep", "60"}, &Attr{Backend: b})
				if err != nil {
					return nil, err
				}
				if p.Pid() == pid {
					return p, nil
				}
				p.Kill()
				p.Wait()
				p.Release()
			}
			return nil, fmt.Errorf("pid %d never came back", pid)
		}
		alive := func(p *Process) bool {
			stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid()))
			return err == nil && p.Signal(syscall.Signal(0)) == nil && !bytes.Contains(stat, []byte(") Z "))
		}
		var cleanup []*Process
		defer func() {
			for _, p := range cleanup {
				p.Kill()
				p.Wait()
				p.Release()
			}
		}()

		// 1. The handle that reaped its own child.
		p, err := Spawn("/bin/true", []string{"true"}, &Attr{Backend: b})
		if err != nil {
			return fail(1, "spawn: %v", err)
		}
		if _, err := p.Wait(); err != nil {
			return fail(1, "wait: %v", err)
		}
		n, err := atPid(p.Pid())
		if err != nil {
			return fail(1, "reuse pid %d: %v", p.Pid(), err)
		}
		cleanup = append(cleanup, n)
		err = p.Signal(syscall.SIGKILL)
		fmt.Printf("waited handle, pid %d reused: Signal(SIGKILL) = %v\n", p.Pid(), err)
		if !errors.Is(err, os.ErrProcessDone) {
			return fail(2, "stale handle after Wait: Signal = %v, want os.ErrProcessDone", err)
		}
		if !alive(n) {
			return fail(2, "the new process with pid %d was hit", n.Pid())
		}
		p.Release()

		// 2. Handles whose process another handle reaped: the pidfd
		// itself must tell (pidfd_open and a dup of the spawn's pidfd).
		c, err := Spawn("/bin/sleep", []string{"sleep", "60"}, &Attr{Backend: b})
		if err != nil {
			return fail(3, "spawn: %v", err)
		}
		q, err := OpenProcess(c.Pid())
		if err != nil {
			return fail(3, "pidfd_open: %v", err)
		}
		dup, err := unix.FcntlInt(uintptr(c.Fd()), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return fail(3, "dup: %v", err)
		}
		r, err := FromPidfd(dup)
		if err != nil {
			return fail(3, "FromPidfd: %v", err)
		}
		c.Kill()
		if _, err := c.Wait(); err != nil {
			return fail(3, "wait: %v", err)
		}
		c.Release()
		n2, err := atPid(c.Pid())
		if err != nil {
			return fail(3, "reuse pid %d: %v", c.Pid(), err)
		}
		cleanup = append(cleanup, n2)
		for _, h := range []struct {
			name string
			p    *Process
		}{{"OpenProcess", q}, {"FromPidfd(dup)", r}} {
			err := h.p.Signal(syscall.SIGKILL)
			fmt.Printf("%s handle, reaped elsewhere, pid %d reused: Signal(SIGKILL) = %v\n", h.name, c.Pid(), err)
			if !errors.Is(err, os.ErrProcessDone) {
				return fail(4, "%s: Signal = %v, want os.ErrProcessDone", h.name, err)
			}
			_, err = h.p.Getfd(0)
			fmt.Printf("%s: Getfd(0) = %v\n", h.name, err)
			if err == nil {
				return fail(4, "%s: Getfd reached a process", h.name)
			}
			info, err := h.p.Info()
			fmt.Printf("%s: Info = %+v, %v\n", h.name, info, err)
			if err == nil && !info.Exited {
				return fail(4, "%s: Info describes a live process: %+v", h.name, info)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			st, err := h.p.WaitContext(ctx)
			cancel()
			fmt.Printf("%s: Wait = %v, %v\n", h.name, st, err)
			if err != nil {
				return fail(4, "%s: Wait on a reaped process: %v", h.name, err)
			}
			if !alive(n2) {
				return fail(5, "%s: the new process with pid %d was hit", h.name, n2.Pid())
			}
			h.p.Release()
		}
		return 0
	})
}

func TestPidReuseStaleHandle(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("a new pid namespace and ns_last_pid need root (CAP_SYS_ADMIN)")
	}
	forEachBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		noLeaks(t)
		path, argv, env := helperArgv("pid-reuse", b.String())
		cmd := exec.Command(path)
		cmd.Args = argv
		cmd.Env = env
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS}
		out, err := cmd.Output()
		if err != nil && cmd.ProcessState == nil {
			t.Skipf("cannot create a pid namespace here (needs CAP_SYS_ADMIN): %v", err)
		}
		logLines(t, string(out))
		is.Equal(cmd.ProcessState.ExitCode(), 0) // stale handles report the process done and never touch the pid's new owner
	})
}
