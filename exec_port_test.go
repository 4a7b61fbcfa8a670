//go:build linux

package spawn

// The Go toolchain's own tests of SysProcAttr (syscall/exec_linux_test.go,
// syscall/exec_unix_test.go, syscall/exec_pdeathsig_test.go), ported to Cmd
// under the same names: each builds the Cmd as the original builds its
// exec.Cmd, and runs it on every backend that carries the fields (Clone3
// and ForkNP, user namespace maps included).

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/matryer/is"
	"golang.org/x/sys/unix"
)

// portCmd is Command with the backend forced.
func portCmd(b Backend, name string, arg ...string) *Cmd {
	c := Command(name, arg...)
	c.Attr = &Attr{Backend: b}
	return c
}

// portHelper is a Cmd running helper name on backend b.
func portHelper(b Backend, name string, args ...string) *Cmd {
	path, argv, env := helperArgv(name, args...)
	c := portCmd(b, path)
	c.Args = argv
	c.Env = env
	return c
}

// lookOrSkip finds a program in PATH, as the original's
// testenv.MustHaveExecPath does, or skips.
func lookOrSkip(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("needs %s in PATH: %v", name, err)
	}
	return path
}

// whoamiNEWUSER: whoami in a new user namespace with uid and gid 0 mapped
// to ours.
func whoamiNEWUSER(t *testing.T, b Backend, uid, gid int, setgroups bool) *Cmd {
	c := portCmd(b, lookOrSkip(t, "whoami"))
	c.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 syscall.CLONE_NEWUSER,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}},
		GidMappingsEnableSetgroups: setgroups,
	}
	return c
}

func TestCloneNEWUSERAndRemap(t *testing.T) {
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		for _, setgroups := range []bool{false, true} {
			t.Run(fmt.Sprintf("setgroups=%v", setgroups), func(t *testing.T) {
				is := is.New(t)
				uid, gid := os.Getuid(), os.Getgid()
				out, err := whoamiNEWUSER(t, b, uid, gid, setgroups).CombinedOutput()
				if uid != 0 && setgroups {
					is.True(os.IsPermission(err)) // an unprivileged gid_map needs setgroups denied
					return
				}
				is.NoErr(err)                                    // whoami in the new namespace
				is.Equal(strings.TrimSpace(string(out)), "root") // uid 0 inside
			})
		}
	})
}

func TestEmptyCredGroupsDisableSetgroups(t *testing.T) {
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		c := whoamiNEWUSER(t, b, os.Getuid(), os.Getgid(), false)
		c.SysProcAttr.Credential = &syscall.Credential{}
		is.NoErr(c.Run()) // setgroups is denied: an empty Groups makes no setgroups call
	})
}

func TestUnshare(t *testing.T) {
	const path = "/proc/net/dev"
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("needs %s: %v", path, err)
	}
	if s := strings.TrimSpace(string(orig)); strings.Contains(s, "lo:") && strings.Count(s, ":") == 1 {
		t.Skip("needs a network interface besides lo to see the unshare")
	}
	needRoot(t)
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		c := portCmd(b, "/bin/cat", path)
		c.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNET}
		out, err := c.CombinedOutput()
		is.NoErr(err)
		sout := strings.TrimSpace(string(out))
		is.True(strings.Contains(sout, "lo:"))                                                              // lo exists in the new namespace
		is.True(len(strings.Split(sout, "\n")) < len(strings.Split(strings.TrimSpace(string(orig)), "\n"))) // and less than ours
	})
}

func TestGroupCleanup(t *testing.T) {
	needRoot(t)
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		c := portCmd(b, lookOrSkip(t, "id"))
		c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 0, Gid: 0}}
		out, err := c.CombinedOutput()
		is.NoErr(err)
		is.True(strings.HasPrefix(strings.TrimSpace(string(out)), "uid=0(root) gid=0(root)")) // groups cleared
		is.True(!strings.Contains(string(out), ","))                                          // no supplementary group but 0
	})
}

func TestGroupCleanupUserNamespace(t *testing.T) {
	forEachRawBackend(t, func(t *testing.T, b Backend) { testGroupCleanupUserNamespace(t, b) })
}

func testGroupCleanupUserNamespace(t *testing.T, b Backend) {
	is := is.New(t)
	uid, gid := os.Getuid(), os.Getgid()
	c := portCmd(b, lookOrSkip(t, "id"))
	c.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		Credential:  &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)},
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}},
	}
	if uid == 0 {
		// Root's Credential{0, 0} is mapped inside; setgroups is denied.
		c.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
	}
	out, err := c.CombinedOutput()
	is.NoErr(err)
	is.True(strings.HasPrefix(strings.TrimSpace(string(out)), "uid=0(root) gid=0(root)")) // root inside
}

func init() {
	// mount-proc DIR: mount a proc on DIR (in the helper's own mount
	// namespace) and print nothing.
	registerHelper("mount-proc", func(args []string) int {
		if err := unix.Mount("none", args[0], "proc", 0, ""); err != nil {
			fmt.Fprintf(os.Stderr, "mount %s: %v\n", args[0], err)
			return 2
		}
		return 0
	})
}

func TestUnshareMountNameSpace(t *testing.T) {
	needRoot(t)
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		d := t.TempDir()
		c := portHelper(b, "mount-proc", d)
		c.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
		out, err := c.CombinedOutput()
		is.NoErr(err)          // mounted inside its own namespace (private: TestMain sees no change)
		is.Equal(len(out), 0)  // and said nothing
		is.NoErr(os.Remove(d)) // not mounted here
	})
}

func init() {
	// unshare-uidgid: the body of TestUnshareUidGidMapping, as nobody.
	registerHelper("unshare-uidgid", func(args []string) int {
		if err := becomeNobody(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		// A user who logged in as nobody would be dumpable; one who
		// dropped from root is not, and its /proc files (its children's
		// too, sharing its memory until they execute) stay root's.
		if err := unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		b, _ := ParseBackend(args[0])
		if err := unshareUidGidMapping(b); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		return 0
	})
}

func unshareUidGidMapping(b Backend) error {
	c := portCmd(b, "/bin/true")
	c.SysProcAttr = &syscall.SysProcAttr{
		Unshareflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWUSER,
		UidMappings:  []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings:  []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	return c.Run()
}

// TestUnshareUidGidMapping: an unprivileged user namespace with maps of
// one's own ids. As root, a helper drops to nobody first.
func TestUnshareUidGidMapping(t *testing.T) {
	if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(b)) == "0" {
		t.Skip("needs unprivileged user namespaces (kernel.unprivileged_userns_clone is 0)")
	}
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		if os.Getuid() != 0 {
			is.NoErr(unshareUidGidMapping(b)) // an unprivileged parent writes its own maps
			return
		}
		out, err := portHelper(Auto, "unshare-uidgid", b.String()).CombinedOutput()
		if err != nil {
			t.Logf("helper: %s", out)
		}
		is.NoErr(err)         // as nobody, the parent wrote its maps
		is.Equal(len(out), 0) // and the helper said nothing
	})
}

func init() {
	registerHelper("print-cgroup", func(args []string) int {
		b, err := os.ReadFile("/proc/self/cgroup")
		if err != nil {
			return 2
		}
		os.Stdout.Write(b)
		return 0
	})
}

func TestUseCgroupFD(t *testing.T) {
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		cg := testCgroup(t)
		fd, err := unix.Open(cg.Path(), unix.O_PATH|unix.O_CLOEXEC, 0)
		is.NoErr(err) // an O_PATH descriptor, as the original opens
		defer unix.Close(fd)
		c := portHelper(b, "print-cgroup")
		c.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
		out, err := c.Output()
		is.NoErr(err)
		is.True(strings.HasSuffix(strings.TrimSpace(string(out)), "/"+filepath.Base(cg.Path()))) // created inside
	})
}

func TestPidFD(t *testing.T) {
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		pidfd := -1
		c := portCmd(b, "/bin/sleep", "60")
		c.SysProcAttr = &syscall.SysProcAttr{PidFD: &pidfd}
		is.NoErr(c.Start())
		endCmdOnCleanup(t, c)
		defer unix.Close(pidfd)
		is.True(pidfd >= 0) // filled
		is.NoErr(unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0))
		err := c.Wait()
		is.Equal(err.Error(), "signal: killed") // the pidfd names the child
	})
}

func init() {
	// caps: exit 0 if CAP_SYS_TIME and CAP_SYSLOG are effective and
	// ambient.
	registerHelper("caps", func(args []string) int {
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return 2
		}
		want := uint64(1)<<unix.CAP_SYS_TIME | 1<<unix.CAP_SYSLOG
		for _, line := range strings.Split(string(b), "\n") {
			for _, f := range []string{"CapEff:", "CapAmb:"} {
				if v, ok := strings.CutPrefix(line, f); ok {
					m, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
					if m&want != want {
						fmt.Fprintln(os.Stderr, f, "lacks CAP_SYS_TIME or CAP_SYSLOG:", strings.TrimSpace(v))
						return 3
					}
				}
			}
		}
		return 0
	})
}

// publicTestExe copies the test binary to a directory every user may enter,
// for a child running as nobody.
func publicTestExe(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "spawn-exe-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(testExe)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst := filepath.Join(dir, "spawn.test")
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, src); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestAmbientCaps(t *testing.T) { testAmbientCaps(t, false) }

func TestAmbientCapsUserns(t *testing.T) { testAmbientCaps(t, true) }

func testAmbientCaps(t *testing.T, userns bool) {
	needRoot(t)
	if len(testExePrefix) > 0 {
		t.Skip("the helper runs through another glibc's loader here; the plain run covers it")
	}
	exe := publicTestExe(t)
	for _, b := range rawBackends(t) {
		t.Run(b.String(), func(t *testing.T) {
			is := is.New(t)
			_, argv, env := helperArgv("caps")
			c := portCmd(b, exe)
			c.Args, c.Env = argv, env
			c.Stdout, c.Stderr = os.Stdout, os.Stderr
			c.SysProcAttr = &syscall.SysProcAttr{
				Credential:  &syscall.Credential{Uid: 65534, Gid: 65534},
				AmbientCaps: []uintptr{unix.CAP_SYS_TIME, unix.CAP_SYSLOG},
			}
			if userns {
				c.SysProcAttr.Cloneflags = syscall.CLONE_NEWUSER
				c.SysProcAttr.Credential = &syscall.Credential{Uid: 65534, Gid: 65534, NoSetGroups: true}
				c.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 65534, HostID: 65534, Size: 1}, {ContainerID: 0, HostID: 0, Size: 1}}
				c.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 65534, HostID: 65534, Size: 1}, {ContainerID: 0, HostID: 0, Size: 1}}
			}
			is.NoErr(c.Run()) // the helper found both capabilities effective and ambient as nobody
		})
	}
}

func TestSetpgid(t *testing.T) {
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		c := portCmd(b, "/bin/sleep", "60")
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		is.NoErr(c.Start())
		defer func() { c.Process.Kill(); c.Wait() }()
		pgid, err := unix.Getpgid(c.Process.Pid)
		is.NoErr(err)
		is.Equal(pgid, c.Process.Pid) // a group of its own
	})
}

func TestPgid(t *testing.T) {
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		c1 := portCmd(b, "/bin/sleep", "60")
		c1.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		is.NoErr(c1.Start())
		defer func() { c1.Process.Kill(); c1.Wait() }()
		pgid1, _ := unix.Getpgid(c1.Process.Pid)
		c2 := portCmd(b, "/bin/sleep", "60")
		c2.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: pgid1}
		is.NoErr(c2.Start())
		defer func() { c2.Process.Kill(); c2.Wait() }()
		pgid2, _ := unix.Getpgid(c2.Process.Pid)
		is.Equal(pgid2, pgid1) // joined the first one's group
	})
}

func init() {
	// foreground BACKEND: TestForeground inside a session of its own whose
	// controlling terminal is a pty (the original needs /dev/tty).
	registerHelper("foreground", func(args []string) int {
		b, _ := ParseBackend(args[0])
		fail := func(v ...any) int { fmt.Fprintln(os.Stderr, v...); return 1 }
		signal.Ignore(syscall.SIGHUP)
		if _, err := syscall.Setsid(); err != nil {
			return fail(err)
		}
		m, tty, err := openPty()
		if err != nil {
			return fail(err)
		}
		defer m.Close()
		if err := unix.IoctlSetInt(int(tty.Fd()), unix.TIOCSCTTY, 0); err != nil {
			return fail(err)
		}
		fpgrp, err := unix.IoctlGetInt(int(tty.Fd()), unix.TIOCGPGRP)
		if err != nil {
			return fail(err)
		}
		c := portCmd(b, "/bin/sleep", "60")
		c.SysProcAttr = &syscall.SysProcAttr{Ctty: int(tty.Fd()), Foreground: true}
		if err := c.Start(); err != nil {
			return fail(err)
		}
		fg, _ := unix.IoctlGetInt(int(tty.Fd()), unix.TIOCGPGRP)
		c.Process.Kill()
		c.Wait()
		if fg != c.Process.Pid {
			return fail("foreground group", fg, "want", c.Process.Pid)
		}
		// Take the terminal back, as the original does (SIGTTOU ignored).
		signal.Ignore(syscall.SIGTTOU)
		if err := unix.IoctlSetPointerInt(int(tty.Fd()), unix.TIOCSPGRP, fpgrp); err != nil {
			return fail(err)
		}
		return 0
	})
}

func TestForeground(t *testing.T) {
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		ptyOrSkip(t)
		is.NoErr(portHelper(Auto, "foreground", b.String()).Run()) // the child owned the terminal
	})
}

func init() {
	// deathsig-parent BACKEND EXE: start EXE as deathsig-child, as nobody,
	// with Pdeathsig SIGUSR1, from a thread that then ends; the child's
	// "ok" comes through our stdout, inherited.
	registerHelper("deathsig-parent", func(args []string) int {
		b, _ := ParseBackend(args[0])
		_, argv, env := helperArgv("deathsig-child")
		c := portCmd(b, args[1])
		c.Args, c.Env = argv, env
		c.Stdout, c.Stderr = os.Stdout, os.Stderr
		c.SysProcAttr = &syscall.SysProcAttr{
			Pdeathsig:  syscall.SIGUSR1,
			Credential: &syscall.Credential{Uid: 65534, Gid: 65534},
		}
		ready, w, err := os.Pipe()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		c.ExtraFiles = []*os.File{w}
		if err := c.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		w.Close()
		// Wait until the child catches SIGUSR1, then die without waiting
		// for it.
		io.ReadAll(ready)
		return 0
	})
	registerHelper("deathsig-child", func(args []string) int {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGUSR1)
		fmt.Println("start")
		os.NewFile(3, "ready").Close() // the parent may die now
		select {
		case <-sig:
			fmt.Println("ok")
			return 0
		case <-time.After(10 * time.Second):
			fmt.Println("no signal")
			return 1
		}
	})
}

func TestDeathSignalSetuid(t *testing.T) {
	needRoot(t)
	if len(testExePrefix) > 0 {
		t.Skip("the helper runs through another glibc's loader here; the plain run covers it")
	}
	exe := publicTestExe(t)
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		c := portHelper(Auto, "deathsig-parent", b.String(), exe)
		out, err := c.StdoutPipe()
		is.NoErr(err)
		is.NoErr(c.Start())
		defer c.Wait()
		r := bufio.NewReader(out)
		line, _ := r.ReadString('\n')
		is.Equal(line, "start\n") // the child runs as nobody
		line, _ = r.ReadString('\n')
		is.Equal(line, "ok\n") // and got SIGUSR1 when its parent died
	})
}
