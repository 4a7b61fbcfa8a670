//go:build linux

package spawn

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/matryer/is"
	"golang.org/x/sys/unix"
)

// cmdPid is the pid of a started Cmd's child.
func cmdPid(c *Cmd) int { return c.Process.Pid }

// sleepCmd starts sleep 60 as a Cmd with sys on backend b; the test's end
// kills and waits for it.
func sleepCmd(t *testing.T, b Backend, sys *syscall.SysProcAttr) *Cmd {
	t.Helper()
	c := Command("/bin/sleep", "60")
	c.SysProcAttr = sys
	c.Attr = &Attr{Backend: b}
	if err := c.Start(); err != nil {
		t.Fatalf("start with SysProcAttr %+v on %v: %v", sys, b, err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	waitSleeping(t, cmdPid(c))
	return c
}

func TestCmdSysProcAttr(t *testing.T) {
	needRoot(t)
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		cg := testCgroup(t)
		var pidfd int
		c := sleepCmd(t, b, &syscall.SysProcAttr{
			Credential:   &syscall.Credential{Uid: 65534, Gid: 65534},
			Setsid:       true,
			Pdeathsig:    syscall.SIGKILL,
			UseCgroupFD:  true,
			CgroupFD:     cg.Fd(),
			PidFD:        &pidfd,
			Unshareflags: syscall.CLONE_NEWUTS,
		})
		pid := cmdPid(c)
		is.Equal(procStatus(t, pid, "Uid"), "65534\t65534\t65534\t65534") // Credential
		sid, err := unix.Getsid(pid)
		is.NoErr(err)
		is.Equal(sid, pid) // Setsid
		cgf, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		is.NoErr(err)
		is.True(strings.HasSuffix(strings.TrimSpace(string(cgf)), cg.Path()[len(mustRoot(t)):])) // UseCgroupFD: created inside
		is.True(readNS(t, pid, "uts") != readNS(t, os.Getpid(), "uts"))                          // Unshareflags
		got, err := PidfdGetpid(pidfd)
		is.NoErr(err)
		is.Equal(got, pid)                // PidFD: a pidfd of the child, ours to close
		is.True(pidfd != c.Handle().Fd()) // a duplicate
		unix.Close(pidfd)
	})
}

func mustRoot(t *testing.T) string {
	root, err := Cgroup2Root()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestCmdSysProcAttrConflict(t *testing.T) {
	is := is.New(t)
	before := openFds()
	c := Command("/bin/true")
	c.Attr = &Attr{Setpgid: true, Pgid: 5}
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: 6}
	err := c.Run()
	is.True(errors.Is(err, syscall.EINVAL))        // the same thing set two ways
	is.True(strings.Contains(err.Error(), "Pgid")) // named
	is.True(c.Process == nil)                      // no child
	is.NoErr(checkLeaks(before))                   // nothing left open

	c = Command("/bin/true")
	c.Attr = &Attr{Setsid: true}
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	is.NoErr(c.Run()) // the same value twice is no conflict
}

// TestCmdAutoReapState: an autoreaped child leaves nothing for
// os.Process.Wait: ProcessState stays nil, State has the status, and a
// non-zero one is an error that is not an *ExitError.
func TestCmdAutoReapState(t *testing.T) {
	needLinux71(t, Attr{AutoReap: true}, "CLONE_AUTOREAP")
	is := is.New(t)
	c := Command("/bin/sh", "-c", "exit 3")
	c.Attr = &Attr{AutoReap: true}
	err := c.Run()
	is.True(err != nil) // a non-zero status
	var ee *ExitError
	is.True(!errors.As(err, &ee))     // but no *ExitError: it needs an *os.ProcessState
	is.True(c.ProcessState == nil)    // nothing to reap
	is.Equal(c.State().ExitCode(), 3) // the status from PIDFD_GET_INFO

	c = Command("/bin/true")
	c.Attr = &Attr{AutoReap: true}
	is.NoErr(c.Run()) // status 0 is no error
	is.True(c.State().Success())
}
