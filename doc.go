// Package spawn creates and manages Linux processes through pidfds.
//
// It is for Go programs that need a race-free handle on a child from the
// instant it exists: supervisors, build tools, sandboxes and services that
// embed C libraries. A [Process] holds the child's pidfd, so signals and waits
// can never reach another process that later reuses the pid; [Process.Wait]
// costs what a blocking waitid costs without holding an OS thread per child
// (beyond eight waiters it parks goroutines in the Go runtime's poller);
// [Attr.Cgroup] places the child in a cgroup v2 directory before it runs a
// single instruction. A [Group] makes a whole process tree one unit in a
// fresh cgroup v2 directory: started inside, bounded by [Limits], measured,
// frozen, waited for and killed at once, whatever its processes do with
// sessions and process groups.
//
// # Backends
//
// One [Attr] is validated and lowered once into an ordered plan of child
// steps (descriptor layout, session, working directory, limits, signals,
// exec), which one of three backends carries out:
//
//   - [PidfdSpawn]: glibc's pidfd_spawn and pidfd_spawnp (glibc ≥ 2.39),
//     in a single cgo call. The symbols are looked up at run time with
//     dlvsym, so one binary runs on glibc 2.36 (backend unavailable) and on
//     2.39 or later (backend used).
//   - [Clone3]: a raw clone3(CLONE_PIDFD|CLONE_VM|CLONE_VFORK|
//     CLONE_CLEAR_SIGHAND) from a small assembly trampoline (amd64, arm64)
//     with a stack of the child's own. It is pure Go, so it serves
//     CGO_ENABLED=0 builds and older glibc, and it is the only path for
//     the Linux 7.1 flags. Where clone3 is filtered (containers: the default
//     seccomp profiles of Docker, containerd and Kubernetes answer it with
//     ENOSYS) the same trampoline uses clone(CLONE_PIDFD|CLONE_VM|
//     CLONE_VFORK) and the child resets its signal handlers and joins
//     Attr.Cgroup itself before exec: [Available](Clone3) is nil,
//     [Process.Backend] still says Clone3, the SysProcAttr fields work
//     (Cloneflags go into clone's flags), and only what clone3 alone has
//     (AutoReap, AutoKill, CLONE_NEWTIME in Cloneflags) fails with
//     [ErrNotSupported] naming the filter, before any child.
//   - [ForkNP]: the fork_np contract proposed for glibc, in the C shim: a
//     fork that runs the C libraries' pthread_atfork handlers ([ForkExec],
//     [ForkCall]). Auto never picks it.
//
// Auto (the zero Backend) uses PidfdSpawn when it is available and the Attr
// needs nothing posix_spawn cannot express (Rlimits, Pdeathsig, NoNewPrivs,
// AutoReap, AutoKill, signal 32 or 33 in SigMask; a Cgroup where clone3 is
// filtered, since glibc places a child in a cgroup only with clone3), and
// Clone3 otherwise. Setting Attr.Backend forces a backend; [Available] says
// whether one works here and, if not, why, and [Probe] lists every feature
// this machine has.
//
// # Requirements
//
//	feature                          kernel               glibc (cgo)                   pure Go
//	pidfd at spawn, Wait/Signal      5.4                  2.39 (pidfd_spawn) or Clone3  Clone3 (5.5; clone(2): 5.4)
//	Cgroup at spawn                  5.7                  2.39 (POSIX_SPAWN_SETCGROUP)  Clone3
//	Info                             6.13 (exit: 6.15)    —                             yes
//	AutoReap, AutoKill, NoNewPrivs   7.1 (clone3 flags)   —                             Clone3
//	ForkExec, ForkCall               5.3                  any (cgo)                     —
//	SysProcAttr fields (Credential…) 5.4                  — (Clone3, ForkNP)            Clone3
//	PidfdGetpid                      5.3                  2.39, or fdinfo               PIDFD_GET_INFO / fdinfo
//	Group spawn inside, Wait, Stats  5.7                  2.39 or Clone3                Clone3
//	Group.Kill                       5.14 (5.2: fallback) —                             yes
//	Group.Freeze, Group.Thaw         5.2                  —                             yes
//	Group limits                     controllers (cgroup) —                             yes
//	GroupStats memory/pids peaks     5.19 / 6.1           —                             yes
//
// NoNewPrivs also works before 7.1: the child then sets it with prctl before
// exec. A feature the machine lacks is reported as an error matching
// [ErrNotSupported] that names the feature and the release that added it,
// before any child exists. The package builds with Go 1.24 or later, with
// or without cgo, and compiles on every platform; outside Linux the calls
// that start or control a process return an error matching ErrNotSupported.
//
// # Defaults a careful user should know
//
// A child gets descriptors 0, 1 and 2 and nothing else: every other
// descriptor is closed in the child, close-on-exec or not, unless
// Attr.InheritFDs is set. Its signal mask is Attr.SigMask (empty by default),
// never the calling thread's; caught signals are reset to their default
// action, ignored ones stay ignored unless listed in Attr.SigDefault. Its
// environment is the parent's unless Attr.Env is non-nil. Spawn returns once
// the child has executed the program; a failure before that (a missing
// program or directory, a limit the kernel refuses) is returned as an error
// and no child, zombie or descriptor is left behind.
//
// A [Process] from Spawn owns its child: [Process.Wait] reaps it and closes
// the pidfd, as os.Process.Wait releases its handle. Release a handle that is
// never waited for; one that becomes unreachable without Wait or Release has
// its pidfd closed by the garbage collector, which, for a child created with
// Attr.AutoKill, kills the child. Keep the Process reachable for as long as
// an AutoKill child should live.
//
// [Cmd] gives the shape of os/exec on top of all this.
package spawn
