//go:build linux && cgo

// The C shim of the cgo backends: run-time lookup of the glibc functions newer
// than 2.28, the PidfdSpawn backend (one call: attributes, file actions,
// pidfd_spawn, pidfd_getpid) and the ForkNP backend (fork, the child's raw
// steps, the report of a failed step). Every symbol is prefixed spawn_. Only
// the looked-up function pointers outlive a call.

#ifndef SPAWN_SHIM_H
#define SPAWN_SHIM_H

#include <stddef.h>
#include <stdint.h>

// Plan step kinds: opKind in plan_linux.go.
enum {
	SPAWN_OP_SETSID = 1,
	SPAWN_OP_SETPGID,
	SPAWN_OP_RESETIDS,
	SPAWN_OP_DUP,
	SPAWN_OP_CLOSE,
	SPAWN_OP_CLOSEFROM,
	SPAWN_OP_CHDIR,
	SPAWN_OP_RLIMIT,
	SPAWN_OP_PDEATHSIG,
	SPAWN_OP_NONEWPRIVS,
	SPAWN_OP_SIGDEFAULT,
	SPAWN_OP_SIGMASK,
	SPAWN_OP_EXEC,
};

// One plan step: op in plan_linux.go.
struct spawn_op {
	int32_t kind;
	int32_t a;
	int64_t b;
	int64_t c;
};

// One raw system call of a child: rawStep in rawplan_linux.go.
struct spawn_step {
	uint64_t nr;
	uint64_t a[6];
	int64_t ignore; // errno to ignore; -1: every error
	int64_t expect; // with SPAWN_CHECK_EQ: the result required
	int64_t op;     // plan step kind | SPAWN_CHECK_EQ
};

#define SPAWN_CHECK_EQ 0x10000
// SPAWN_SELF_PID: store the child's pid (int32_t) at a[2] before the call
// (stepSelfPid in plan_sysproc_linux.go).
#define SPAWN_SELF_PID 0x20000
// SPAWN_NOTIFY: report {0, SPAWN_AT_USERNS} through the report pipe before
// the call (stepNotify in plan_sysproc_linux.go).
#define SPAWN_NOTIFY 0x40000

// Which glibc functions the running C library has (bits of spawn_have).
enum {
	SPAWN_HAVE_PIDFD_SPAWN = 1 << 0,  // pidfd_spawn, pidfd_spawnp (2.39)
	SPAWN_HAVE_PIDFD_GETPID = 1 << 1, // pidfd_getpid (2.39)
	SPAWN_HAVE_SETCGROUP = 1 << 2,    // posix_spawnattr_setcgroup_np (2.39)
	SPAWN_HAVE_ADDCHDIR = 1 << 3,     // posix_spawn_file_actions_addchdir_np (2.29)
	SPAWN_HAVE_CLOSEFROM = 1 << 4,    // posix_spawn_file_actions_addclosefrom_np (2.34)
	SPAWN_HAVE_FORK_NP = 1 << 5,      // fork_np (proposed, in no release)
};

// spawn_have looks the functions up once and returns SPAWN_HAVE_* bits.
int spawn_have(void);

// spawn_libc_version is gnu_get_libc_version().
const char *spawn_libc_version(void);

// spawn_pidfd_getpid is glibc's pidfd_getpid: the pid, or -errno.
int spawn_pidfd_getpid(int pidfd);

struct spawn_result {
	int32_t err;   // 0, or an errno
	int32_t where; // with err: SPAWN_AT_*, or the index of the failed step
	int32_t pid;   // without err: the pid, or -errno of pidfd_getpid
	int32_t pidfd;
};

// Where a failure happened when it is not a step of the child.
enum {
	SPAWN_AT_SPAWN = -1,       // pidfd_spawn / pidfd_spawnp
	SPAWN_AT_ATTR = -2,        // building the attributes (a missing function: ENOSYS)
	SPAWN_AT_PIPE = -3,        // pipe2 / fcntl in the parent
	SPAWN_AT_FORK = -4,        // fork
	SPAWN_AT_CLONE3 = -5,      // clone3
	SPAWN_AT_PIDFD_OPEN = -6,  // pidfd_open of the forked child
	SPAWN_AT_FORK_NP = -7,     // the C library's fork_np
	SPAWN_AT_CGROUP = -8,      // the child moving itself into the cgroup
	SPAWN_AT_EXIT_SIGNAL = -9, // an exit signal other than SIGCHLD with atfork handlers
	SPAWN_AT_USERNS = -10,     // the child waits for its user namespace maps (with err: it died first)
};

// spawn_pidfd_spawn runs one pidfd_spawn (search: pidfd_spawnp) of the
// plan's ops. path, dir, argv and envp are C strings and NULL-terminated
// arrays (uintptrs into memory the caller keeps alive for the call).
struct spawn_result spawn_pidfd_spawn(uintptr_t path, uintptr_t dir, uintptr_t argv, uintptr_t envp,
	uintptr_t ops, size_t nops, uint64_t mask, int cgroup, int search);

// spawn_pidfd_call holds the arguments and the result of one
// spawn_pidfd_spawn_call (struct pidfdCall in package spawn).
struct spawn_pidfd_call {
	uintptr_t path, dir, argv, envp, ops;
	uint64_t nops, mask;
	int32_t cgroup, search;
	struct spawn_result res;
};

// spawn_pidfd_spawn_call is spawn_pidfd_spawn(c's arguments) into c->res.
void spawn_pidfd_spawn_call(struct spawn_pidfd_call *c);

// spawn_pidfd_spawn_call_addr is the address of spawn_pidfd_spawn_call.
uintptr_t spawn_pidfd_spawn_call_addr(void);

// Fork flags: ForkFlags in forkargs.go.
#define SPAWN_FORK_PIDFD (1ULL << 1)
#define SPAWN_FORK_CGROUP (1ULL << 2)
#define SPAWN_FORK_ASYNCSAFE (1ULL << 3)
#define SPAWN_FORK_EXIT_SIGNAL (1ULL << 4)

// spawn_fork creates a child fork_np-style and has it run nsteps raw steps
// (the last is execve), or, with no steps, fn(arg) and _exit with its
// result. The parent returns once the child has executed the program (or,
// for fn, is about to call it); a failed child has been reaped. lowfd: the
// child's report pipe is kept at or above it (above every descriptor the
// steps write).
//
// userns_rep non-NULL: a step of the child has SPAWN_NOTIFY. Once the child
// reports it, spawn_fork returns {0, SPAWN_AT_USERNS, pid, pidfd} with the
// report pipe's read end in *userns_rep; the caller writes the maps, lets
// the child go on and finishes with spawn_fork_wait (or kills the child,
// reaps it and closes both descriptors). A child that dies before it
// reports without a word fails with {ESRCH, SPAWN_AT_USERNS}.
struct spawn_result spawn_fork(uint64_t flags, int cgroup, int exit_signal, uintptr_t steps, size_t nsteps,
	int lowfd, uintptr_t fn, uintptr_t arg, int *userns_rep);

// spawn_fork_wait is the end of a spawn_fork that returned SPAWN_AT_USERNS:
// it reads the rest of the child's report from rep and closes it. On a
// failure the child has been reaped and pidfd closed.
struct spawn_result spawn_fork_wait(int rep, int pid, int pidfd);

#endif
