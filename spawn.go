package spawn

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// ErrNotSupported is returned, wrapped, when the running kernel, C library or
// build lacks what a call needs. The wrapping error names the feature and the
// first kernel or glibc release that has it. errors.Is(ErrNotSupported,
// errors.ErrUnsupported) is true.
var ErrNotSupported error = notSupported{}

type notSupported struct{}

func (notSupported) Error() string        { return "not supported" }
func (notSupported) Is(target error) bool { return target == errors.ErrUnsupported }

// unsupportedError says what is missing and since when it exists.
type unsupportedError struct {
	what string // "AutoReap needs Linux 7.1 (CLONE_AUTOREAP)"
	err  error  // the probe's error, if any
}

func (e *unsupportedError) Error() string {
	if e.err != nil {
		return "spawn: " + e.what + ": " + e.err.Error()
	}
	return "spawn: " + e.what
}

func (e *unsupportedError) Unwrap() []error {
	if e.err != nil {
		return []error{ErrNotSupported, e.err}
	}
	return []error{ErrNotSupported}
}

func unsupported(err error, format string, args ...any) error {
	return &unsupportedError{what: fmt.Sprintf(format, args...), err: err}
}

// Backend names the mechanism that creates a child.
type Backend int

const (
	// Auto lets Spawn choose: PidfdSpawn when it is available and the Attr
	// needs nothing posix_spawn cannot express, Clone3 otherwise.
	Auto Backend = iota
	// PidfdSpawn is glibc's pidfd_spawn/pidfd_spawnp (glibc ≥ 2.39, found at
	// run time; cgo builds only).
	PidfdSpawn
	// Clone3 is the raw clone3 system call made from a small assembly
	// trampoline (Linux ≥ 5.5; pure Go, amd64 and arm64). Where clone3 is
	// filtered (a container's default seccomp profile answers ENOSYS) or
	// lacks CLONE_CLEAR_SIGHAND, the same trampoline uses clone(2) with
	// CLONE_PIDFD instead (Linux ≥ 5.4), and the child resets its signal
	// handlers and joins Attr.Cgroup itself before exec; only AutoReap and
	// AutoKill need clone3 itself.
	Clone3
	// ForkNP is the fork_np contract run by the C shim: the C library's
	// atfork handlers run around the fork (cgo builds only). Auto never picks
	// it.
	ForkNP
)

var backendNames = [...]string{Auto: "auto", PidfdSpawn: "pidfd_spawn", Clone3: "clone3", ForkNP: "fork_np"}

// String returns the backend's name: "auto", "pidfd_spawn", "clone3" or
// "fork_np".
func (b Backend) String() string {
	if b >= 0 && int(b) < len(backendNames) {
		return backendNames[b]
	}
	return fmt.Sprintf("Backend(%d)", int(b))
}

// ParseBackend returns the Backend whose String is name.
func ParseBackend(name string) (Backend, error) {
	for b, n := range backendNames {
		if n == name {
			return Backend(b), nil
		}
	}
	return 0, fmt.Errorf("spawn: unknown backend %q (want auto, pidfd_spawn, clone3 or fork_np)", name)
}

// Available reports whether b can create children on this machine and in
// this build: nil, or an error matching ErrNotSupported that says what is
// missing. Available(Auto) is nil when any backend Auto picks from works.
// Probes run the real calls; a conclusive answer is cached, a transient
// failure (EAGAIN or ENOMEM: a process or memory limit reached; EMFILE, a
// full descriptor table) is returned as the syscall error it is and the
// probe runs again on the next call.
func Available(b Backend) error {
	switch b {
	case Auto:
		errP := available(PidfdSpawn)
		if errP == nil {
			return nil
		}
		errC := available(Clone3)
		if errC == nil {
			return nil
		}
		return errors.Join(errP, errC)
	case PidfdSpawn, Clone3, ForkNP:
		return available(b)
	}
	return fmt.Errorf("spawn: unknown backend %d: %w", int(b), syscall.EINVAL)
}

// Rlimit is a resource limit applied in the child before it executes the
// program (prlimit64). Resource is one of the RLIMIT_* constants of
// golang.org/x/sys/unix.
type Rlimit struct {
	Resource int
	Cur, Max uint64 // soft and hard limit (unix.RLIM_INFINITY: none)
}

// Attr says how to create a child. The zero value (or a nil *Attr) runs the
// program with the parent's environment and working directory, descriptors
// 0, 1 and 2 inherited and every other descriptor closed, an empty signal
// mask and every caught signal reset to its default action.
//
// What the child inherits unless Attr says otherwise: the parent's
// credentials, resource limits (including the RLIMIT_NOFILE soft limit that
// the Go runtime raised at start-up; [Cmd] restores the original), ignored
// signals, umask, namespaces and cgroup.
type Attr struct {
	// Env is the child's environment; nil means the parent's (os.Environ).
	Env []string
	// Dir is the child's working directory; empty means the parent's.
	Dir string
	// Files lays out the child's descriptors: descriptor i of the child is
	// Files[i]; a nil entry is closed. A nil slice inherits descriptors 0, 1
	// and 2 as they are. The child shares each File's open file
	// description, so a non-blocking one (an os.Pipe end, a socket from
	// package net's File) is switched to blocking mode first, as
	// os.StartProcess and os/exec do: programs expect blocking descriptors.
	// The File keeps working in the parent, its blocking calls holding a
	// thread (see os.File.Fd).
	Files []*os.File
	// InheritFDs keeps the parent's other descriptors open across exec when
	// they are not close-on-exec. By default (false) every descriptor above
	// the last of Files is closed in the child, close-on-exec or not.
	InheritFDs bool

	// Setsid makes the child a session leader (setsid).
	Setsid bool
	// Setpgid puts the child in process group Pgid (setpgid).
	Setpgid bool
	// Pgid is the process group for Setpgid; 0 makes the child the leader
	// of a new group.
	Pgid int
	// SigMask is the child's blocked signal set; nil blocks nothing.
	// PidfdSpawn cannot block signals 32 and 33 (glibc drops them from a
	// spawn's mask: they are its own): Auto then picks Clone3, and a forced
	// PidfdSpawn fails with ErrNotSupported. (A child built on glibc or Go
	// unblocks them itself when it starts.)
	SigMask []syscall.Signal
	// SigDefault lists signals reset to their default action in the child.
	// Caught signals are always reset; ignored ones stay ignored unless
	// they are listed here.
	SigDefault []syscall.Signal
	// ResetIDs sets the child's effective user and group IDs to the real
	// ones (POSIX_SPAWN_RESETIDS).
	ResetIDs bool
	// Rlimits are applied in the child before exec. Needs Clone3 or ForkNP.
	Rlimits []Rlimit
	// Cgroup creates the child inside this cgroup v2 directory from its
	// first instant (CLONE_INTO_CGROUP, Linux ≥ 5.7; POSIX_SPAWN_SETCGROUP
	// with glibc ≥ 2.39).
	Cgroup *Cgroup

	// Pdeathsig is sent to the child when the thread that created it exits
	// (PR_SET_PDEATHSIG). Needs Clone3 or ForkNP. Go threads rarely exit:
	// lock the spawning goroutine to its thread (runtime.LockOSThread) and
	// let it return without unlocking, which ends that thread. That fails on
	// the main thread, which the runtime never ends (an init function or main
	// itself that locked it): there the signal comes only when the whole
	// process exits. Spawn from another goroutine to tie it to one thread.
	Pdeathsig syscall.Signal
	// NoNewPrivs sets no_new_privs in the child: CLONE_NNP on Linux ≥ 7.1,
	// prctl(PR_SET_NO_NEW_PRIVS) in the child on older kernels. Needs Clone3
	// or ForkNP.
	NoNewPrivs bool
	// AutoReap creates a child that is never a zombie (CLONE_AUTOREAP,
	// Linux ≥ 7.1). Wait still reports its status, read through
	// PIDFD_GET_INFO, without resource usage. Needs Clone3.
	AutoReap bool
	// AutoKill makes the kernel SIGKILL the child when the pidfd that
	// Spawn returned is closed: by [Process.Release], or when the parent
	// process dies (CLONE_PIDFD_AUTOKILL, Linux ≥ 7.1). It implies
	// AutoReap. Descriptors duplicated from the pidfd keep the child alive;
	// [OpenProcess] handles do not. Without NoNewPrivs the kernel demands
	// CAP_SYS_ADMIN and Spawn passes its EPERM through. Needs Clone3.
	AutoKill bool

	// The fields below carry what os/exec's syscall.SysProcAttr can ask
	// for, with the same meanings. pidfd_spawn can express none of them:
	// Auto picks Clone3 when one is set, and a forced PidfdSpawn fails
	// with ErrNotSupported naming the field, before any child exists. The
	// child runs them in this order: wait for its user namespace maps,
	// PR_SET_KEEPCAPS, setsid, setpgid, TIOCSPGRP (Foreground), unshare,
	// chroot, setgroups, setresgid, setresuid, capset and the ambient
	// raises, the descriptors, chdir, TIOCNOTTY (Noctty), TIOCSCTTY
	// (Setctty), the resource limits and signals, PTRACE_TRACEME, execve.

	// Credential runs the child as Uid and Gid (setresgid, setresuid: real,
	// effective and saved), with the supplementary groups Groups
	// (setgroups; an empty list clears them) unless NoSetGroups.
	Credential *syscall.Credential
	// Chroot changes the child's root directory (chroot) before Dir is
	// entered: Dir is then a path below the new root.
	Chroot string
	// Setctty makes Ctty, a descriptor number in the child (an index into
	// Files), the child's controlling terminal (ioctl TIOCSCTTY). It
	// needs Setsid.
	Setctty bool
	// Noctty detaches the child's descriptor 0 from its controlling
	// terminal (ioctl TIOCNOTTY).
	Noctty bool
	// Foreground puts the child in a process group of its own (or Pgid's,
	// as Setpgid) and makes that group the foreground group of the
	// terminal Ctty (ioctl TIOCSPGRP), which here is a descriptor number
	// in the parent, as in syscall.SysProcAttr. The child does this with
	// every signal blocked, so the SIGTTOU a background group gets for
	// it is never delivered.
	Foreground bool
	// Ctty is the terminal's descriptor for Setctty and Foreground.
	Ctty int
	// AmbientCaps are raised into the child's ambient capability set
	// (PR_CAP_AMBIENT_RAISE, Linux ≥ 4.3) after the credential change,
	// which keeps the permitted set (PR_SET_KEEPCAPS); each is added to the
	// permitted and inheritable sets first, so each must be in the
	// parent's permitted set. Values are the CAP_* numbers.
	AmbientCaps []uintptr
	// Cloneflags creates the child in new namespaces: CLONE_NEW* bits only
	// (any other bit is EINVAL). Clone3 passes them to clone3; ForkNP
	// unshares them in the child (a user namespace with UidMappings or
	// GidMappings included), which cannot move it into a new PID or time
	// namespace (ErrNotSupported).
	Cloneflags uintptr
	// Unshareflags are unshared in the child (unshare): CLONE_NEW* bits
	// only. With CLONE_NEWNS the child also marks its whole mount tree
	// private, as os/exec does. A user namespace with mappings is created
	// when the child is (as with Cloneflags) on Clone3.
	Unshareflags uintptr
	// UidMappings and GidMappings are written to the child's uid_map and
	// gid_map by the parent while the child waits in its new user
	// namespace: on Clone3 before it runs any other step; on ForkNP (cgo)
	// right after its unshare, before the mount tree is made private, the
	// chroot and the credentials. They need CLONE_NEWUSER in Cloneflags or
	// Unshareflags. A map the kernel refuses fails the spawn with the
	// parent's *os.PathError (Op "write", Path /proc/PID/uid_map…); the
	// child is killed and reaped first.
	UidMappings, GidMappings []sysProcIDMap
	// GidMappingsEnableSetgroups leaves setgroups allowed in the child's
	// user namespace; by default "deny" is written to its setgroups file
	// before GidMappings (which an unprivileged parent needs).
	GidMappingsEnableSetgroups bool
	// Ptrace makes the child a tracee of the calling thread
	// (PTRACE_TRACEME), its last step before execve: it stops with
	// SIGTRAP at the exec. Lock the goroutine to its thread
	// (runtime.LockOSThread) to trace it.
	Ptrace bool

	// Backend forces a backend; Auto (the zero value) chooses.
	Backend Backend
}

// Spawn starts the program at path, used as given (no PATH search), with
// arguments argv (argv[0] is the program's name) and attributes attr, which
// may be nil. It returns once the child has executed the program, or an
// error and no child. Bad input (an unknown Backend, a NUL byte in a
// string, a signal out of range, …) is an *os.PathError wrapping EINVAL
// before any child exists; failures before exec are *os.PathError wrapping
// the errno, with Op naming the step that failed where the backend knows it
// ("chdir", "execve") and otherwise the backend: "pidfd_spawn" (or
// "pidfd_spawnp" for SpawnP) for PidfdSpawn and Auto, "clone3" and
// "fork_np" for a forced Clone3 or ForkNP.
//
// Needs Linux ≥ 5.4 with glibc ≥ 2.39 (PidfdSpawn), or Linux ≥ 5.5
// (Clone3).
func Spawn(path string, argv []string, attr *Attr) (*Process, error) {
	return start(path, argv, attr, false)
}

// SpawnP is Spawn with a search of the directories in the caller's PATH
// (not attr.Env's) when file has no slash, as execvp does, and as
// pidfd_spawnp does on every backend: the first candidate that is an
// executable regular file wins; EACCES when only candidates that cannot be
// executed exist, ENOENT when there is none. A relative PATH entry (an empty
// one is ".") is taken relative to attr.Dir, the directory the child
// searches from after its chdir, as glibc's posix_spawnp does. Unlike
// execvp, a candidate that is no executable format (ENOEXEC) is not handed
// to /bin/sh.
func SpawnP(file string, argv []string, attr *Attr) (*Process, error) {
	return start(file, argv, attr, true)
}

var zeroAttr Attr

func start(path string, argv []string, attr *Attr, search bool) (*Process, error) {
	if attr == nil {
		attr = &zeroAttr
	}
	if err := validate(path, argv, attr); err != nil {
		return nil, &os.PathError{Op: spawnOp(attr.Backend, search), Path: path, Err: err}
	}
	return spawn(path, argv, attr, search)
}

// spawnOp names a backend's spawn in an *os.PathError that no step of the
// child's can name.
func spawnOp(b Backend, search bool) string {
	switch b {
	case Clone3:
		return "clone3"
	case ForkNP:
		return "fork_np"
	}
	if search {
		return "pidfd_spawnp"
	}
	return "pidfd_spawn"
}

// validate rejects what no backend can carry, before any child exists.
func validate(path string, argv []string, attr *Attr) error {
	if attr.Backend < Auto || attr.Backend > ForkNP {
		return syscall.EINVAL
	}
	if path == "" {
		return syscall.ENOENT
	}
	if hasNUL(path) || hasNUL(attr.Dir) {
		return syscall.EINVAL
	}
	for _, s := range argv {
		if hasNUL(s) {
			return syscall.EINVAL
		}
	}
	for _, s := range attr.Env {
		if hasNUL(s) {
			return syscall.EINVAL
		}
	}
	for _, s := range attr.SigMask {
		if s <= 0 || s > 64 {
			return syscall.EINVAL
		}
	}
	for _, s := range attr.SigDefault {
		if s <= 0 || s > 64 || s == syscall.SIGKILL || s == syscall.SIGSTOP {
			return syscall.EINVAL
		}
	}
	if attr.Pdeathsig < 0 || attr.Pdeathsig > 64 || attr.Pgid < 0 {
		return syscall.EINVAL
	}
	if attr.Pgid != 0 && !attr.Setpgid && !attr.Foreground {
		return syscall.EINVAL
	}
	return validateSysProc(attr)
}

func hasNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }
