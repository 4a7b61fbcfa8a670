package spawn

import (
	"context"
	"errors"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrReleased is returned by the methods of a [Process] whose pidfd has been
// closed by [Process.Release]: the handle no longer names any process.
var ErrReleased = errors.New("spawn: process already released")

// ErrWaited is returned by a second [Process.Wait] after one has succeeded.
var ErrWaited = errors.New("spawn: Wait was already called")

// Process is a handle on a process through its pidfd (Linux ≥ 5.3). The
// pidfd names exactly one process for its whole life: signals and waits never
// reach another process that later reuses the pid.
//
// A Process from [Spawn] owns its child: call [Process.Wait] to reap it,
// which also closes the pidfd, as os.Process.Wait releases its handle. Call
// [Process.Release] only for a process that is never waited for. The pidfd
// is close-on-exec.
//
// After a Wait that returned a [State]:
//
//	Fd()                  -1
//	Release()             nil
//	Signal, Kill          os.ErrProcessDone
//	Getfd, Info           an error matching os.ErrProcessDone
//	Wait, WaitContext     ErrWaited
//
// After Release of a process not waited for, they return ErrReleased
// (Release too).
type Process struct {
	pid     int
	backend Backend
	flags   procFlags
	h       pidfdHandle // platform part: the pollable descriptor

	waitMu sync.Mutex  // one Wait at a time
	state  *State      // set once reaped, under waitMu
	reaped atomic.Bool // Wait has reaped the process and ended the handle
}

type procFlags uint8

const (
	procChild    procFlags = 1 << iota // our child: Wait reaps it
	procAutoReap                       // CLONE_AUTOREAP: status from PIDFD_GET_INFO
	procWall                           // exit signal is not SIGCHLD: wait with __WALL
	procAutoKill                       // closing the pidfd kills the child
)

// Pid returns the process ID the pidfd was opened for.
func (p *Process) Pid() int { return p.pid }

// Fd returns the pidfd, or -1 once Wait or Release has closed it. The
// descriptor stays owned by p: do not close it. A descriptor duplicated from
// it refers to the same process (and, with Attr.AutoKill, keeps the child
// alive while it is open).
func (p *Process) Fd() int {
	if p.h.closed() {
		return -1
	}
	return int(p.h.fd)
}

// Backend returns the backend that created the child, or Auto for a handle
// from [OpenProcess] or [FromPidfd].
func (p *Process) Backend() Backend { return p.backend }

// Signal sends sig, which must be a syscall.Signal, through the pidfd
// (pidfd_send_signal, Linux ≥ 5.1). Once the process has exited, and after
// Wait, it returns os.ErrProcessDone; after Release of a process never waited
// for, ErrReleased. syscall.Signal(0) checks that the process is alive. A
// signal of another type is an error, as for os.Process.Signal.
func (p *Process) Signal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return errors.New("spawn: unsupported signal type")
	}
	return p.signal(s)
}

// Kill sends SIGKILL. Killing a process that has already exited returns
// os.ErrProcessDone, like Signal; it is harmless.
func (p *Process) Kill() error { return p.signal(syscall.SIGKILL) }

// Wait waits for the process to exit and, for a child of this process, reaps
// it (waitid(P_PIDFD), Linux ≥ 5.4) and returns its status with resource
// usage. Then it closes the pidfd, before it returns, as os.Process.Wait
// releases its handle: see [Process] for what the other methods return
// afterwards. A second Wait after a successful one returns ErrWaited. For a
// process that is not our child (OpenProcess, FromPidfd), Wait returns when
// it exits, with the status when the kernel reports it (PIDFD_INFO_EXIT,
// Linux ≥ 6.15) and an exit code of -1 otherwise; an AutoReap child's
// status comes the same way (the kernel has reaped it), and closing an
// exited AutoKill child's pidfd does nothing more.
//
// Wait costs no more than a blocking waitid and holds no thread per child:
// while at most eight Waits are in progress, each blocks its thread in
// ppoll(2) on the pidfd, woken by the exit itself; the others park their
// goroutines in one epoll set watched through the runtime poller, so that
// ten thousand waiting goroutines hold a handful of threads. The first Wait
// creates what they share, kept for the life of the program: the epoll
// descriptor, an eventfd to wake its reader, and eight eventfds through
// which Release or a done context wakes a blocked Wait (all close-on-exec;
// no goroutine).
func (p *Process) Wait() (*State, error) { return p.wait(context.Background()) }

// WaitContext is Wait that gives up when ctx is done: it then returns
// ctx.Err() and leaves the process running, unreaped and its handle open, so
// a later Wait may still reap it. A WaitContext that returns a State has
// closed the pidfd, as Wait does.
func (p *Process) WaitContext(ctx context.Context) (*State, error) { return p.wait(ctx) }

// Release closes the pidfd without waiting for the process. A child that was
// never waited for stays a zombie until this process exits, unless it was
// created with Attr.AutoReap; with Attr.AutoKill, closing the pidfd kills it.
// A Wait parked on the handle returns ErrReleased, calls in progress on it
// finish, and the descriptor is closed when Release returns. Release twice
// returns ErrReleased; Release after a Wait that returned a State returns
// nil, as os.Process.Release does (Wait has closed the pidfd already).
func (p *Process) Release() error {
	err := p.h.close()
	if err != nil && p.reaped.Load() {
		return nil // Wait ended the handle: nothing left to release
	}
	return err
}

// Getfd returns a duplicate of the process's descriptor fd
// (pidfd_getfd, Linux ≥ 5.6), close-on-exec, referring to the same open
// file. It needs ptrace access to the process (PTRACE_MODE_ATTACH_REALCREDS).
// After Wait it returns os.ErrProcessDone.
func (p *Process) Getfd(fd int) (*os.File, error) { return p.getfd(fd) }

// Info returns what the kernel knows of the process (PIDFD_GET_INFO,
// Linux ≥ 6.13; the exit status after exit, Linux ≥ 6.15). After Wait it
// returns os.ErrProcessDone: the State has the status.
func (p *Process) Info() (*Info, error) { return p.info() }

// Info is the kernel's description of a process (struct pidfd_info).
type Info struct {
	Mask                   uint64             // PIDFD_INFO_* bits the kernel filled
	Pid, Tgid, Ppid        int                // pid, thread group and parent, in the caller's pid namespace
	Ruid, Rgid, Euid, Egid uint32             // real and effective user and group ids
	CgroupID               uint64             // the id of its cgroup v2 (PIDFD_INFO_CGROUPID)
	Exited                 bool               // exit status known (PIDFD_INFO_EXIT)
	Status                 syscall.WaitStatus // valid when Exited
}

// State describes a process that has exited, like os.ProcessState.
type State struct {
	pid    int
	status syscall.WaitStatus
	rusage *syscall.Rusage
}

// Pid returns the process ID of the exited process.
func (s *State) Pid() int { return s.pid }

// Exited reports whether the process exited by itself (not by a signal).
func (s *State) Exited() bool { return s.status.Exited() }

// ExitCode returns the exit code, or -1 if the process was killed by a
// signal or its status is unknown.
func (s *State) ExitCode() int {
	if s == nil || !s.status.Exited() {
		return -1
	}
	return s.status.ExitStatus()
}

// Success reports whether the process exited with status 0.
func (s *State) Success() bool { return s.status.Exited() && s.status.ExitStatus() == 0 }

// Signal returns the signal that killed the process, or 0.
func (s *State) Signal() syscall.Signal {
	if !s.status.Signaled() {
		return 0
	}
	return s.status.Signal()
}

// CoreDumped reports whether the process dumped core.
func (s *State) CoreDumped() bool { return s.status.CoreDump() }

// Sys returns the raw wait status, a syscall.WaitStatus, as
// os.ProcessState's Sys does; [State.WaitStatus] returns it typed.
func (s *State) Sys() any { return s.status }

// WaitStatus returns the raw wait status (what Sys returns, typed).
func (s *State) WaitStatus() syscall.WaitStatus { return s.status }

// SysUsage returns the process's resource usage, a *syscall.Rusage, as
// os.ProcessState's SysUsage does, or nil (an untyped nil) where the kernel
// gave none: autoreaped children and processes that are not our children.
// [State.Rusage] returns it typed.
func (s *State) SysUsage() any {
	if s.rusage == nil {
		return nil
	}
	return s.rusage
}

// Rusage returns the process's resource usage (what SysUsage returns,
// typed), or nil where the kernel gave none.
func (s *State) Rusage() *syscall.Rusage { return s.rusage }

// UserTime returns the user CPU time of the process and its waited-for
// children; 0 without SysUsage.
func (s *State) UserTime() time.Duration {
	if s.rusage == nil {
		return 0
	}
	return time.Duration(s.rusage.Utime.Nano())
}

// SystemTime returns the system CPU time of the process and its waited-for
// children; 0 without SysUsage.
func (s *State) SystemTime() time.Duration {
	if s.rusage == nil {
		return 0
	}
	return time.Duration(s.rusage.Stime.Nano())
}

// String returns the status in os.ProcessState's words: "exit status 1",
// "signal: killed", "signal: aborted (core dumped)".
func (s *State) String() string {
	if s == nil {
		return "<nil>"
	}
	var out string
	st := s.status
	switch {
	case st.Exited():
		out = "exit status " + strconv.Itoa(st.ExitStatus())
	case st.Signaled():
		out = "signal: " + st.Signal().String()
	case st.Stopped():
		out = "stop signal: " + st.StopSignal().String()
	case st.Continued():
		out = "continued"
	}
	if st.CoreDump() {
		out += " (core dumped)"
	}
	return out
}
