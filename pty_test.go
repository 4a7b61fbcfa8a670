//go:build linux

package spawn

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/matryer/is"
	"golang.org/x/sys/unix"
)

// openPty opens a pseudo-terminal pair: the master (/dev/ptmx, unlocked
// with TIOCSPTLCK) and its slave /dev/pts/N (TIOCGPTN). Neither becomes
// the caller's controlling terminal.
func openPty() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, os.NewSyscallError("ioctl(TIOCSPTLCK)", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, os.NewSyscallError("ioctl(TIOCGPTN)", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return m, s, nil
}

// ttyNr is field 7 of /proc/PID/stat: the controlling terminal's device.
func ttyNr(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	return strconv.Atoi(f[4])
}

func ptyOrSkip(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, s, err := openPty()
	if err != nil {
		t.Skipf("needs a pseudo-terminal (/dev/ptmx, devpts): %v", err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

func TestAttrSetctty(t *testing.T) {
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		m, s := ptyOrSkip(t)
		p := sleeper(t, b, Attr{Setsid: true, Setctty: true, Ctty: 0, Files: []*os.File{s, s, s}})
		sid, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGSID)
		is.NoErr(err)
		is.Equal(sid, p.Pid()) // the terminal's session is the child's
		var st unix.Stat_t
		is.NoErr(unix.Fstat(int(s.Fd()), &st))
		nr, err := ttyNr(p.Pid())
		is.NoErr(err)
		is.Equal(uint64(nr), st.Rdev) // the child's controlling terminal

		_, err = failed(Spawn("/bin/true", []string{"true"}, &Attr{Backend: b, Setctty: true, Ctty: 0, Files: []*os.File{s, s, s}}))
		var pe *os.PathError
		is.True(errors.As(err, &pe))
		is.Equal(pe.Op, "ioctl(TIOCSCTTY)")    // named
		is.True(errors.Is(err, syscall.EPERM)) // not a session leader
	})
}

func init() {
	// ctty BACKEND: become a session leader with a pty as controlling
	// terminal, then start a child with Foreground (it must own the
	// terminal's foreground group) and one with Noctty (it must have no
	// controlling terminal left).
	registerHelper("ctty", func(args []string) int {
		b, _ := ParseBackend(args[0])
		fail := func(v ...any) int { fmt.Fprintln(os.Stderr, v...); return 1 }
		signal.Ignore(syscall.SIGHUP) // closing the master hangs up on its controlling process
		if _, err := syscall.Setsid(); err != nil {
			return fail("setsid:", err)
		}
		m, s, err := openPty()
		if err != nil {
			return fail(err)
		}
		defer m.Close()
		if err := unix.IoctlSetInt(int(s.Fd()), unix.TIOCSCTTY, 0); err != nil {
			return fail("TIOCSCTTY:", err)
		}
		own, _ := ttyNr(os.Getpid())
		p, err := Spawn("/bin/sleep", []string{"sleep", "60"}, &Attr{Backend: b, Foreground: true, Ctty: int(s.Fd())})
		if err != nil {
			return fail("spawn Foreground:", err)
		}
		defer func() { p.Kill(); p.Wait() }()
		fg, err := unix.IoctlGetInt(int(s.Fd()), unix.TIOCGPGRP)
		if err != nil || fg != p.Pid() {
			return fail("foreground group", fg, err, "want", p.Pid())
		}
		if pg, _ := unix.Getpgid(p.Pid()); pg != p.Pid() {
			return fail("child's group", pg)
		}
		q, err := Spawn("/bin/sleep", []string{"sleep", "60"}, &Attr{Backend: b, Noctty: true, Files: []*os.File{s, os.Stdout, os.Stderr}})
		if err != nil {
			return fail("spawn Noctty:", err)
		}
		defer func() { q.Kill(); q.Wait() }()
		r, err := Spawn("/bin/sleep", []string{"sleep", "60"}, &Attr{Backend: b, Files: []*os.File{s, os.Stdout, os.Stderr}})
		if err != nil {
			return fail("spawn:", err)
		}
		defer func() { r.Kill(); r.Wait() }()
		for range 1000 { // until both have executed
			if n, _ := ttyNr(q.Pid()); n == 0 {
				break
			}
		}
		nq, _ := ttyNr(q.Pid())
		nr, _ := ttyNr(r.Pid())
		if own == 0 || nr != own || nq != 0 {
			return fail("tty_nr: parent", own, "plain child", nr, "Noctty child", nq)
		}
		return 0
	})
}

// TestAttrForeground also covers Noctty: both need a controlling terminal,
// which a helper in a session of its own acquires.
func TestAttrForeground(t *testing.T) {
	forEachRawBackend(t, func(t *testing.T, b Backend) {
		is := is.New(t)
		ptyOrSkip(t)
		st := mustWait(t, spawnHelper(t, Auto, "ctty", b.String()))
		is.Equal(st.String(), "exit status 0") // Foreground owns the terminal; Noctty dropped it
	})
}
