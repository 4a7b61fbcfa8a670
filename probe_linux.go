//go:build linux

// Feature probes, and the RLIMIT_NOFILE that a Cmd child gets. Kernel
// history of what is probed:
//
//	v4.5: cgroup2
//	v5.1: pidfd_send_signal
//	v5.3: pidfd_open, clone3, CLONE_PIDFD
//	v5.4: waitid(P_PIDFD)
//	v5.5: CLONE_CLEAR_SIGHAND (the Clone3 backend needs it)
//	v5.7: CLONE_INTO_CGROUP
//	v6.13: PIDFD_GET_INFO (v6.15: PIDFD_INFO_EXIT)
//	v7.1: CLONE_AUTOREAP, CLONE_NNP, CLONE_PIDFD_AUTOKILL

package spawn

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

func probe() []Feature {
	var fs []Feature
	add := func(name, requires string, err error) {
		fs = append(fs, Feature{Name: name, Requires: requires, Err: err})
	}

	kernel := Feature{Name: "kernel", Requires: "Linux 5.4 (Clone3: 5.5)"}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		kernel.Err = os.NewSyscallError("uname", err)
	} else {
		kernel.Value = "Linux " + unix.ByteSliceToString(uts.Release[:])
	}
	fs = append(fs, kernel)

	glibc := Feature{Name: "glibc", Requires: "cgo; glibc 2.39 for pidfd_spawn"}
	if glibc.Value = glibcVersion(); glibc.Value == "" {
		glibc.Err = unsupported(nil, "no glibc in this build (CGO_ENABLED=0, or another C library)")
	}
	fs = append(fs, glibc)

	add("backend pidfd_spawn", "cgo, glibc 2.39, Linux 5.4", Available(PidfdSpawn))
	clone3Via, clone3Err := clone3Report()
	fs = append(fs, Feature{Name: "backend clone3", Value: clone3Via, Requires: "Linux 5.4 (clone3 5.5, else clone(2)), amd64 or arm64", Err: Available(Clone3)})
	add("backend fork_np", "cgo, Linux 5.3", Available(ForkNP))
	auto := Feature{Name: "backend auto", Requires: "a backend above"}
	if b, err := choose(&Attr{}); err != nil {
		auto.Err = err
	} else {
		auto.Value = b.String()
	}
	fs = append(fs, auto)

	pidfd, err := probePidfdOpen()
	add("pidfd_open", "Linux 5.3", err)
	if pidfd >= 0 {
		add("pidfd_send_signal", "Linux 5.1", probeSendSignal(pidfd))
		add("waitid P_PIDFD", "Linux 5.4", probeWaitidPidfd(pidfd))
		add("PIDFD_GET_INFO", "Linux 6.13", probePidfdInfo(pidfd))
		unix.Close(pidfd)
	}
	add("clone3", "Linux 5.5 (CLONE_CLEAR_SIGHAND), not filtered", clone3Err)
	add("CLONE_INTO_CGROUP", "Linux 5.7", probeIntoCgroup())
	// What the kernel has: the clone3 flags are probed even where the tests
	// force the clone(2) path; where clone3 is filtered the answer names
	// the filter.
	lifecycle := lifecycleKernel
	if clone3Filtered() != nil {
		lifecycle = lifecycleSupported
	}
	add("CLONE_AUTOREAP", "Linux 7.1", lifecycle(&Attr{AutoReap: true}))
	add("CLONE_NNP", "Linux 7.1", probeCloneNNP())
	add("CLONE_PIDFD_AUTOKILL", "Linux 7.1", lifecycle(&Attr{AutoKill: true}))

	cg := Feature{Name: "cgroup2", Requires: "Linux 4.5, mounted"}
	cg.Value, cg.Err = Cgroup2Root()
	fs = append(fs, cg)

	fs = append(fs, probeNofileFeature())
	return fs
}

// probePidfdOpen opens a pidfd on this process.
func probePidfdOpen() (int, error) {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	switch err {
	case nil:
		return fd, nil
	case unix.ENOSYS:
		return -1, unsupported(err, "pidfd_open needs Linux 5.3")
	}
	return -1, os.NewSyscallError("pidfd_open", err)
}

// probeSendSignal sends signal 0 (a liveness check) through pidfd.
func probeSendSignal(pidfd int) error {
	switch err := unix.PidfdSendSignal(pidfd, 0, nil, 0); err {
	case nil:
		return nil
	case unix.ENOSYS:
		return unsupported(err, "pidfd_send_signal needs Linux 5.1")
	default:
		return os.NewSyscallError("pidfd_send_signal", err)
	}
}

// probeWaitidPidfd asks waitid about this process through its pidfd: not
// our child, so ECHILD when the kernel knows P_PIDFD, EINVAL when it does not.
func probeWaitidPidfd(pidfd int) error {
	var si unix.Siginfo
	err := unix.Waitid(unix.P_PIDFD, pidfd, &si, unix.WEXITED|unix.WNOHANG, nil)
	switch err {
	case unix.ECHILD, nil:
		return nil
	case unix.EINVAL:
		return unsupported(err, "waitid(P_PIDFD) needs Linux 5.4")
	}
	return os.NewSyscallError("waitid", err)
}

// probePidfdInfo asks PIDFD_GET_INFO about this process.
func probePidfdInfo(pidfd int) error {
	info := pidfdInfoArg{Mask: _PIDFD_INFO_PID}
	return pidfdInfo(pidfd, &info)
}

// probeCloneNNP reports whether NoNewPrivs goes into clone3 (CLONE_NNP) or
// must be a prctl step in the child.
func probeCloneNNP() error {
	if err := availableClone3(); err != nil {
		return err
	}
	if clone3Filtered() != nil {
		why, errno := clonePathReason()
		return unsupported(errno, "CLONE_NNP is a clone3 flag: %s (NoNewPrivs falls back to prctl in the child)", why)
	}
	switch err := probeNNP(); {
	case err == nil:
		return nil
	case !conclusive(err):
		return os.NewSyscallError("clone3", err)
	default:
		return unsupported(err, "CLONE_NNP needs Linux 7.1 (NoNewPrivs falls back to prctl in the child)")
	}
}

// probeIntoCgroup makes a real clone3 with CLONE_INTO_CGROUP into the
// cgroup this process is in, through the Clone3 backend: the child is told
// to execute "/", which fails with EACCES once the child exists inside the
// cgroup. So an execve error means the flag worked; a clone3 error means it
// did not.
func probeIntoCgroup() error {
	if err := availableClone3(); err != nil {
		return err
	}
	if clone3Filtered() != nil {
		why, errno := clonePathReason()
		return unsupported(errno, "CLONE_INTO_CGROUP is a clone3 flag: %s (the Clone3 backend writes cgroup.procs in the child instead)", why)
	}
	dir, err := selfCgroup()
	if err != nil {
		return err
	}
	cg, err := OpenCgroup(dir)
	if err != nil {
		return err
	}
	defer cg.Close()
	p, err := Spawn("/", []string{"spawn-probe"}, &Attr{Backend: Clone3, Cgroup: cg})
	if err == nil { // cannot happen: a directory does not execute
		p.Kill()
		p.Wait()
		p.Release()
		return nil
	}
	var pe *os.PathError
	if !errors.As(err, &pe) {
		return err
	}
	switch {
	case pe.Op == "execve":
		return nil
	case pe.Op == "clone3" && (pe.Err == unix.EINVAL || pe.Err == unix.E2BIG):
		return unsupported(pe.Err, "CLONE_INTO_CGROUP needs Linux 5.7")
	case pe.Op == "clone3" && (pe.Err == unix.EACCES || pe.Err == unix.EPERM):
		// Permissions are checked after the flags: the kernel has it.
		return fmt.Errorf("spawn: the kernel has CLONE_INTO_CGROUP, but this process may not create children in %s: %w", dir, pe.Err)
	}
	return err
}

// selfCgroup returns the cgroup v2 directory this process is in, from the
// "0::" line of /proc/self/cgroup.
func selfCgroup() (string, error) {
	root, err := Cgroup2Root()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rel, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return filepath.Join(root, rel), nil
		}
	}
	return "", unsupported(nil, "this process is in no cgroup v2 (/proc/self/cgroup has no 0:: line)")
}

// The RLIMIT_NOFILE of children.
//
// At start-up the Go runtime (package syscall's init) raises its own soft
// RLIMIT_NOFILE: since Go 1.23 from Cur to Max-1, when Cur < Max-1. It keeps
// the original privately and gives it back to the children of os/exec and
// syscall.ForkExec, unless the limit has changed since (Setrlimit, or a
// prlimit from outside, which leaves something other than Max-1/Max). Then,
// and when the runtime never raised it, children inherit the current limit.
//
// What stays observable without the runtime's private variable:
//
//   - Cur == Max-1 is the runtime's mark: anything else means children
//     inherit the current limit, under os/exec as here. This is the common
//     case (a soft limit equal to the hard one, as in most containers) and
//     costs one getrlimit.
//   - With the mark, the original soft limit is nowhere in the kernel (it
//     was overwritten) and no C constructor may record it. So it is learnt
//     from the runtime itself: a child is started exactly as os/exec starts
//     one (syscall.ForkExec of /proc/self/exe), traced (PTRACE_TRACEME), so
//     that it stops at its first instruction after execve, before any code
//     of the program runs. Its limit, read with prlimit, is what an os/exec
//     child gets; then it is killed and reaped. Pdeathsig kills it should
//     this process die meanwhile. This costs one fork and exec, once per
//     limit (results are cached per current limit).
//   - Where that child cannot be traced (ptrace denied by seccomp or Yama,
//     this process already traced), the original is unknown and Cmd
//     children inherit the raised limit; Probe says so. That answer is
//     cached; a failure for want of resources (EMFILE or ENFILE for the
//     pipe ForkExec needs, EAGAIN under pids.max, ENOMEM) is not: that
//     Cmd's child inherits the raised limit, Start succeeds all the same,
//     and the next Start probes again.
//   - The probe's child is this process's own: while it stops and when it
//     is killed, the kernel sends this process SIGCHLD for it (a ptrace
//     stop always notifies the tracer). A program that counts SIGCHLDs
//     against the children it started sees one or two more, once per
//     limit, at the first Cmd.Start (or Probe) with the runtime's mark.
//     Where that matters, set RLIMIT_NOFILE in Attr.Rlimits (no probe
//     runs), or give the process a limit the runtime leaves alone
//     (soft = hard).
//
// Every build (cgo or not, any glibc) takes this path: the runtime's
// start-up does not depend on cgo.

// nofileForCmd returns the RLIMIT_NOFILE a Cmd adds to attr so that its
// child gets what an os/exec child would, or false when the child's
// inherited limit already is that, when attr sets RLIMIT_NOFILE itself, or
// when attr forces PidfdSpawn (posix_spawn cannot set limits).
func nofileForCmd(attr *Attr) (Rlimit, bool) {
	if attr.Backend == PidfdSpawn {
		return Rlimit{}, false
	}
	for _, rl := range attr.Rlimits {
		if rl.Resource == unix.RLIMIT_NOFILE {
			return Rlimit{}, false
		}
	}
	cur, child, err := execNofile()
	if err != nil || child == cur {
		return Rlimit{}, false
	}
	return Rlimit{Resource: unix.RLIMIT_NOFILE, Cur: child.Cur, Max: child.Max}, true
}

// execNofile returns this process's RLIMIT_NOFILE and the one an os/exec
// child would get now.
func execNofile() (cur, child unix.Rlimit, err error) {
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &cur); err != nil {
		return cur, cur, os.NewSyscallError("getrlimit", err)
	}
	if cur.Max == 0 || cur.Cur != cur.Max-1 {
		return cur, cur, nil // not raised by the runtime, or changed since
	}
	nofileProbe.Lock()
	defer nofileProbe.Unlock()
	if !nofileProbe.done || nofileProbe.cur != cur {
		lim, err := probeExecNofile()
		if err != nil && !nofileConclusive(err) {
			// Descriptors, processes or memory ran short: the child
			// inherits this time, the next call asks again.
			return cur, cur, err
		}
		nofileProbe.child, nofileProbe.err = lim, err
		nofileProbe.cur, nofileProbe.done = cur, true
	}
	return cur, nofileProbe.child, nofileProbe.err
}

// nofileConclusive reports a probe failure that the next try would meet
// again: ptrace denied by policy (seccomp, Yama) or this process traced
// already (EPERM), /proc/self/exe not executable (EACCES), no ptrace at all
// (ENOSYS). Anything else (EMFILE or ENFILE for the probe's pipe, EAGAIN
// under pids.max, ENOMEM, a child that ended without stopping) is not
// cached.
func nofileConclusive(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.ENOSYS)
}

// nofileProbe caches probeExecNofile for one value of the current limit:
// its result, or a conclusive failure (nofileConclusive).
var nofileProbe struct {
	sync.Mutex
	done       bool
	cur, child unix.Rlimit
	err        error
}

// probeExecNofile starts a child as os/exec does, stopped before it runs
// anything, and reads the RLIMIT_NOFILE the runtime gave it.
func probeExecNofile() (unix.Rlimit, error) {
	var lim unix.Rlimit
	// The tracer of a PTRACE_TRACEME child is the thread that forked it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"spawn-rlimit-probe"}, &syscall.ProcAttr{
		Env: []string{},
		Sys: &syscall.SysProcAttr{Ptrace: true, Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		return lim, fmt.Errorf("spawn: cannot learn the original RLIMIT_NOFILE (a traced child of /proc/self/exe): %w", err)
	}
	var ws unix.WaitStatus
	_, err = wait4(pid, &ws)
	switch {
	case err != nil:
		return lim, os.NewSyscallError("wait4", err) // not ours any more: never signal it
	case !ws.Stopped():
		return lim, fmt.Errorf("spawn: cannot learn the original RLIMIT_NOFILE: the traced child ended (%v) instead of stopping at exec", ws)
	}
	if err = unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &lim); err != nil {
		err = os.NewSyscallError("prlimit64", err)
	}
	unix.Kill(pid, unix.SIGKILL) // stopped and unreaped: the pid is still this child's
	for !ws.Exited() && !ws.Signaled() {
		if _, werr := wait4(pid, &ws); werr != nil {
			break
		}
	}
	return lim, err
}

func wait4(pid int, ws *unix.WaitStatus) (int, error) {
	for {
		wpid, err := unix.Wait4(pid, ws, 0, nil)
		if err != unix.EINTR {
			return wpid, err
		}
	}
}

// probeNofileFeature reports this process's RLIMIT_NOFILE and what Cmd
// children get.
func probeNofileFeature() Feature {
	f := Feature{Name: "RLIMIT_NOFILE", Requires: "ptrace of an own child, when Go raised the soft limit"}
	cur, child, err := execNofile()
	limit := func(l unix.Rlimit) string {
		return fmt.Sprintf("soft %s, hard %s", rlimString(l.Cur), rlimString(l.Max))
	}
	switch {
	case err != nil:
		f.Value = limit(cur) + "; Cmd children inherit it"
		f.Err = err
	case child == cur:
		f.Value = limit(cur) + "; children inherit it, as under os/exec"
	default:
		f.Value = fmt.Sprintf("%s (raised by the Go runtime); Cmd and os/exec children get %s", limit(cur), limit(child))
	}
	return f
}

func rlimString(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return fmt.Sprint(v)
}
