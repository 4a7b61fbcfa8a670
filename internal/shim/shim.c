//go:build linux && cgo

// The C shim (see shim.h). It compiles against old glibc headers: everything
// newer than glibc 2.28 is declared here and looked up with dlvsym when first
// needed, so the binary loads on any glibc and binds pidfd_spawn where the
// running glibc (≥ 2.39) has it.

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shim.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef POSIX_SPAWN_SETSID
#define POSIX_SPAWN_SETSID 0x80
#endif

// glibc 2.39 (bits/spawn_ext.h).
#define SPAWN_POSIX_SPAWN_SETCGROUP 0x100

// Linux uapi values, spelled out for old headers.
#define SPAWN_CLONE_PIDFD 0x1000ULL
#define SPAWN_CLONE_CLEAR_SIGHAND 0x100000000ULL
#define SPAWN_CLONE_INTO_CGROUP 0x200000000ULL
#define SPAWN_P_PIDFD 3
#define SPAWN_WALL 0x40000000

// struct pidfd_info as of Linux 6.13 (PIDFD_INFO_SIZE_VER0).
struct spawn_pidfd_info {
	uint64_t mask, cgroupid;
	uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
	int32_t exit_code;
};
#define SPAWN_PIDFD_GET_INFO _IOWR(0xFF, 11, struct spawn_pidfd_info)
#define SPAWN_PIDFD_INFO_PID 1ULL

typedef int (*spawn_pidfd_spawn_fn)(int *, const char *, const posix_spawn_file_actions_t *,
	const posix_spawnattr_t *, char *const[], char *const[]);
typedef int (*spawn_pidfd_getpid_fn)(int);
typedef int (*spawn_setcgroup_fn)(posix_spawnattr_t *, int);
typedef int (*spawn_addchdir_fn)(posix_spawn_file_actions_t *, const char *);
typedef int (*spawn_addclosefrom_fn)(posix_spawn_file_actions_t *, int);

// The argument of the proposed fork_np (libc-alpha, August 2023).
struct spawn_fork_np_args {
	uint64_t flags;
	int pidfd;
	int cgroup;
	int exit_signal;
};
typedef pid_t (*spawn_fork_np_fn)(struct spawn_fork_np_args *, size_t);

// The looked-up functions, written once under spawn_once.
static struct {
	int have;
	spawn_pidfd_spawn_fn pidfd_spawn, pidfd_spawnp;
	spawn_pidfd_getpid_fn pidfd_getpid;
	spawn_setcgroup_fn setcgroup;
	spawn_addchdir_fn addchdir;
	spawn_addclosefrom_fn addclosefrom;
	spawn_fork_np_fn fork_np;
} spawn_syms;

static pthread_once_t spawn_once = PTHREAD_ONCE_INIT;

static void spawn_lookup(void) {
	spawn_syms.pidfd_spawn = (spawn_pidfd_spawn_fn)dlvsym(RTLD_DEFAULT, "pidfd_spawn", "GLIBC_2.39");
	spawn_syms.pidfd_spawnp = (spawn_pidfd_spawn_fn)dlvsym(RTLD_DEFAULT, "pidfd_spawnp", "GLIBC_2.39");
	spawn_syms.pidfd_getpid = (spawn_pidfd_getpid_fn)dlvsym(RTLD_DEFAULT, "pidfd_getpid", "GLIBC_2.39");
	spawn_syms.setcgroup = (spawn_setcgroup_fn)dlvsym(RTLD_DEFAULT, "posix_spawnattr_setcgroup_np", "GLIBC_2.39");
	spawn_syms.addchdir = (spawn_addchdir_fn)dlvsym(RTLD_DEFAULT, "posix_spawn_file_actions_addchdir_np", "GLIBC_2.29");
	spawn_syms.addclosefrom = (spawn_addclosefrom_fn)dlvsym(RTLD_DEFAULT, "posix_spawn_file_actions_addclosefrom_np", "GLIBC_2.34");
	// No C library has it yet; its version is unknown.
	spawn_syms.fork_np = (spawn_fork_np_fn)dlsym(RTLD_DEFAULT, "fork_np");
	int have = 0;
	if (spawn_syms.pidfd_spawn && spawn_syms.pidfd_spawnp)
		have |= SPAWN_HAVE_PIDFD_SPAWN;
	if (spawn_syms.pidfd_getpid)
		have |= SPAWN_HAVE_PIDFD_GETPID;
	if (spawn_syms.setcgroup)
		have |= SPAWN_HAVE_SETCGROUP;
	if (spawn_syms.addchdir)
		have |= SPAWN_HAVE_ADDCHDIR;
	if (spawn_syms.addclosefrom)
		have |= SPAWN_HAVE_CLOSEFROM;
	if (spawn_syms.fork_np)
		have |= SPAWN_HAVE_FORK_NP;
	spawn_syms.have = have;
}

int spawn_have(void) {
	pthread_once(&spawn_once, spawn_lookup);
	return spawn_syms.have;
}

const char *spawn_libc_version(void) { return gnu_get_libc_version(); }

int spawn_pidfd_getpid(int pidfd) {
	if (!(spawn_have() & SPAWN_HAVE_PIDFD_GETPID))
		return -ENOSYS;
	int pid = spawn_syms.pidfd_getpid(pidfd);
	return pid < 0 ? -errno : pid;
}

// spawn_sigset sets the signals of a kernel mask (bit s-1 for signal s).
// glibc refuses its two internal signals (32, 33); they stay unset.
static void spawn_sigset(sigset_t *set, uint64_t mask) {
	sigemptyset(set);
	for (int s = 1; s <= 64; s++)
		if (mask & (1ULL << (s - 1)))
			sigaddset(set, s);
}

// spawn_attrs translates the plan into attributes and file actions.
static int spawn_attrs(posix_spawnattr_t *attr, posix_spawn_file_actions_t *fa, const char *dir,
	const struct spawn_op *ops, size_t nops, uint64_t mask, int cgroup) {
	// The child's mask is always the plan's, never the calling thread's.
	int flags = POSIX_SPAWN_SETSIGMASK;
	uint64_t sigdef = 0;
	int err = 0;
	for (size_t i = 0; i < nops && err == 0; i++) {
		const struct spawn_op *o = &ops[i];
		switch (o->kind) {
		case SPAWN_OP_SETSID:
			flags |= POSIX_SPAWN_SETSID;
			break;
		case SPAWN_OP_SETPGID:
			flags |= POSIX_SPAWN_SETPGROUP;
			err = posix_spawnattr_setpgroup(attr, o->a);
			break;
		case SPAWN_OP_RESETIDS:
			flags |= POSIX_SPAWN_RESETIDS;
			break;
		case SPAWN_OP_DUP:
			// a == b clears FD_CLOEXEC (glibc ≥ 2.29).
			err = posix_spawn_file_actions_adddup2(fa, o->a, (int)o->b);
			break;
		case SPAWN_OP_CLOSE:
			err = posix_spawn_file_actions_addclose(fa, o->a);
			break;
		case SPAWN_OP_CLOSEFROM:
			err = spawn_syms.addclosefrom ? spawn_syms.addclosefrom(fa, o->a) : ENOSYS;
			break;
		case SPAWN_OP_CHDIR:
			err = spawn_syms.addchdir ? spawn_syms.addchdir(fa, dir) : ENOSYS;
			break;
		case SPAWN_OP_SIGDEFAULT:
			sigdef |= 1ULL << (o->a - 1);
			break;
		case SPAWN_OP_SIGMASK:
		case SPAWN_OP_EXEC:
			break;
		default: // rlimits, pdeathsig, no_new_privs: not for posix_spawn
			err = EINVAL;
		}
	}
	if (err != 0)
		return err;
	sigset_t set;
	spawn_sigset(&set, mask);
	if ((err = posix_spawnattr_setsigmask(attr, &set)) != 0)
		return err;
	if (sigdef != 0) {
		flags |= POSIX_SPAWN_SETSIGDEF;
		spawn_sigset(&set, sigdef);
		if ((err = posix_spawnattr_setsigdefault(attr, &set)) != 0)
			return err;
	}
	if (cgroup >= 0) {
		if (!spawn_syms.setcgroup)
			return ENOSYS;
		flags |= SPAWN_POSIX_SPAWN_SETCGROUP;
		if ((err = spawn_syms.setcgroup(attr, cgroup)) != 0)
			return err;
	}
	return posix_spawnattr_setflags(attr, (short)flags);
}

// spawn_child_pid returns the pid of a new child's pidfd, or -errno. The
// kernel (PIDFD_GET_INFO, Linux 6.13) answers in one call and for the
// caller's pid namespace; glibc's pidfd_getpid reads /proc/self/fdinfo.
static int spawn_child_pid(int pidfd) {
	struct spawn_pidfd_info info;
	memset(&info, 0, sizeof info);
	info.mask = SPAWN_PIDFD_INFO_PID;
	if (ioctl(pidfd, SPAWN_PIDFD_GET_INFO, &info) == 0 && info.pid > 0)
		return (int)info.pid;
	if (!spawn_syms.pidfd_getpid)
		return -ENOSYS;
	int pid = spawn_syms.pidfd_getpid(pidfd);
	return pid < 0 ? -errno : pid;
}

struct spawn_result spawn_pidfd_spawn(uintptr_t path, uintptr_t dir, uintptr_t argv, uintptr_t envp,
	uintptr_t ops, size_t nops, uint64_t mask, int cgroup, int search) {
	struct spawn_result res = {0, 0, -1, -1};
	if (!(spawn_have() & SPAWN_HAVE_PIDFD_SPAWN)) {
		res.err = ENOSYS;
		res.where = SPAWN_AT_ATTR;
		return res;
	}
	posix_spawnattr_t attr;
	posix_spawn_file_actions_t fa;
	int err = posix_spawnattr_init(&attr);
	if (err != 0) {
		res.err = err;
		res.where = SPAWN_AT_ATTR;
		return res;
	}
	if ((err = posix_spawn_file_actions_init(&fa)) != 0) {
		posix_spawnattr_destroy(&attr);
		res.err = err;
		res.where = SPAWN_AT_ATTR;
		return res;
	}
	err = spawn_attrs(&attr, &fa, (const char *)dir, (const struct spawn_op *)ops, nops, mask, cgroup);
	if (err != 0) {
		res.err = err;
		res.where = SPAWN_AT_ATTR;
	} else {
		int pidfd = -1;
		spawn_pidfd_spawn_fn f = search ? spawn_syms.pidfd_spawnp : spawn_syms.pidfd_spawn;
		err = f(&pidfd, (const char *)path, &fa, &attr, (char *const *)argv, (char *const *)envp);
		if (err != 0) {
			res.err = err;
			res.where = SPAWN_AT_SPAWN;
		} else {
			res.pidfd = pidfd;
			res.pid = spawn_child_pid(pidfd);
		}
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return res;
}

// spawn_pidfd_spawn_call is spawn_pidfd_spawn with its arguments and result
// in one block: the form package spawn calls directly, on a stack of its
// own and without cgo's transition (see its pidfdcall_linux_amd64.go).
void spawn_pidfd_spawn_call(struct spawn_pidfd_call *c) {
	c->res = spawn_pidfd_spawn(c->path, c->dir, c->argv, c->envp, c->ops, (size_t)c->nops, c->mask,
		c->cgroup, c->search);
}

uintptr_t spawn_pidfd_spawn_call_addr(void) { return (uintptr_t)&spawn_pidfd_spawn_call; }

// --- ForkNP ---------------------------------------------------------------
//
// The child of spawn_fork runs only async-signal-safe code: raw system calls
// through syscall(2), read, write, close, openat, _exit.

struct spawn_report {
	int32_t err;
	int32_t where;
};

struct spawn_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
		set_tid_size, cgroup;
};

static void spawn_block_all(uint64_t *old) {
	uint64_t all = ~0ULL;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, old, 8);
}

static __attribute__((noreturn)) void spawn_child_fail(int rep, int err, int where) {
	struct spawn_report r = {err, where};
	ssize_t n;
	do
		n = write(rep, &r, sizeof r);
	while (n < 0 && errno == EINTR);
	_exit(127);
}

// spawn_child_reset sets every caught signal to SIG_DFL; ignored ones stay
// ignored: one rt_sigaction per signal, and a second for the ignored ones.
// The kernel's struct sigaction starts with the handler on every
// architecture, and eight words hold all of it.
static void spawn_child_reset(void) {
	unsigned long dfl[8] = {0}, old[8];
	for (int s = 1; s <= 64; s++) {
		if (s == SIGKILL || s == SIGSTOP)
			continue;
		old[0] = 0;
		if (syscall(SYS_rt_sigaction, s, dfl, old, 8) != 0)
			continue;
		if (old[0] == (unsigned long)SIG_IGN)
			syscall(SYS_rt_sigaction, s, old, NULL, 8);
	}
}

// spawn_child_cgroup moves the child into the cgroup directory cgroup.
static int spawn_child_cgroup(int cgroup) {
	int fd;
	do
		fd = openat(cgroup, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return errno;
	ssize_t n;
	do
		n = write(fd, "0", 1);
	while (n < 0 && errno == EINTR);
	int err = n == 1 ? 0 : (n < 0 ? errno : EIO);
	close(fd);
	return err;
}

// spawn_close_range is close_range(lo, hi) that spares the report pipe.
static long spawn_close_range(uint64_t lo, uint64_t hi, uint64_t flags, int rep) {
	uint64_t r = (uint64_t)rep;
	if (r < lo || r > hi)
		return syscall(SYS_close_range, (long)lo, (long)hi, (long)flags);
	long res = 0;
	if (r > lo)
		res = syscall(SYS_close_range, (long)lo, (long)(r - 1), (long)flags);
	if (res == 0 && r < hi)
		res = syscall(SYS_close_range, (long)(r + 1), (long)hi, (long)flags);
	return res;
}

static __attribute__((noreturn)) void spawn_child(int rep, int rep_read, int sync_read, int sync_write, int reset,
	int cgroup, const struct spawn_step *steps, size_t nsteps, int (*fn)(void *), void *arg, uint64_t oldmask) {
	spawn_block_all(NULL); // glibc's internal signals too
	if (sync_read >= 0) {
		// Wait until the parent holds the pidfd: until then nothing may
		// make this child exit. The parent sends a byte; EOF alone would
		// wait for every concurrently forked child that holds a copy of
		// the write end, and those may be waiting for us.
		char c;
		ssize_t n;
		close(sync_write);
		do
			n = read(sync_read, &c, 1);
		while (n < 0 && errno == EINTR);
		if (n != 1)
			spawn_child_fail(rep, n < 0 ? errno : EPIPE, SPAWN_AT_PIPE);
		close(sync_read);
	}
	close(rep_read);
	if (reset)
		spawn_child_reset();
	if (cgroup >= 0) {
		int err = spawn_child_cgroup(cgroup);
		if (err != 0)
			spawn_child_fail(rep, err, SPAWN_AT_CGROUP);
	}
	if (fn != NULL) {
		close(rep); // end of setup: the parent returns
		syscall(SYS_rt_sigprocmask, SIG_SETMASK, &oldmask, NULL, 8);
		_exit(fn(arg));
	}
	for (size_t i = 0; i < nsteps; i++) {
		const struct spawn_step *s = &steps[i];
		long r;
		if (s->op & SPAWN_SELF_PID)
			*(int32_t *)(uintptr_t)s->a[2] = (int32_t)syscall(SYS_getpid);
		if (s->op & SPAWN_NOTIFY) {
			struct spawn_report w = {0, SPAWN_AT_USERNS};
			ssize_t n;
			do
				n = write(rep, &w, sizeof w);
			while (n < 0 && errno == EINTR);
			if (n != sizeof w)
				spawn_child_fail(rep, n < 0 ? errno : EPIPE, (int)i);
		}
		if (s->nr == SYS_close_range)
			r = spawn_close_range(s->a[0], s->a[1], s->a[2], rep);
		else
			r = syscall((long)s->nr, (long)s->a[0], (long)s->a[1], (long)s->a[2], (long)s->a[3], (long)s->a[4],
				(long)s->a[5]);
		if (s->op & SPAWN_CHECK_EQ) {
			if (r != s->expect)
				spawn_child_fail(rep, ESRCH, (int)i);
			continue;
		}
		if (r == -1) {
			int err = errno;
			if (s->ignore == -1 || s->ignore == err)
				continue;
			spawn_child_fail(rep, err, (int)i);
		}
	}
	_exit(0);
}

// spawn_reap waits for a failed child; it has exited or is about to.
static void spawn_reap(int pidfd) {
	siginfo_t si;
	while (syscall(SYS_waitid, SPAWN_P_PIDFD, pidfd, &si, WEXITED | SPAWN_WALL, NULL) < 0 && errno == EINTR)
		;
}

static void spawn_close_pair(int p[2]) {
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	p[0] = p[1] = -1;
}

// spawn_fork_report reads the child's report from rep: EOF when it
// executed the program (or is about to call fn), {errno, where} when it
// failed, or, with userns_rep, {0, SPAWN_AT_USERNS} when it waits for its
// maps (rep is then handed to the caller, not closed). A failed child is
// reaped and its pidfd closed.
static struct spawn_result spawn_fork_report(int rep, pid_t pid, int pidfd, int *userns_rep) {
	struct spawn_result res = {0, 0, -1, -1};
	struct spawn_report r;
	ssize_t n;
	do
		n = read(rep, &r, sizeof r);
	while (n < 0 && errno == EINTR);
	if (userns_rep != NULL && n == sizeof r && r.err == 0 && r.where == SPAWN_AT_USERNS) {
		*userns_rep = rep;
		res.where = SPAWN_AT_USERNS;
		res.pid = pid;
		res.pidfd = pidfd;
		return res;
	}
	close(rep);
	if (n == 0 && userns_rep == NULL) {
		res.pid = pid;
		res.pidfd = pidfd;
		return res;
	}
	if (n == 0) { // gone (a signal) before it reached its user namespace step
		r.err = ESRCH;
		r.where = SPAWN_AT_USERNS;
	} else if (n != sizeof r || r.err == 0) {
		r.err = n < 0 ? errno : EPIPE;
		r.where = SPAWN_AT_PIPE;
		kill(pid, SIGKILL);
	}
	spawn_reap(pidfd);
	close(pidfd);
	res.err = r.err;
	res.where = r.where;
	return res;
}

struct spawn_result spawn_fork_wait(int rep, int pid, int pidfd) {
	return spawn_fork_report(rep, (pid_t)pid, pidfd, NULL);
}

struct spawn_result spawn_fork(uint64_t flags, int cgroup, int exit_signal, uintptr_t steps, size_t nsteps,
	int lowfd, uintptr_t fn, uintptr_t arg, int *userns_rep) {
	struct spawn_result res = {0, 0, -1, -1};
	int native = (spawn_have() & SPAWN_HAVE_FORK_NP) != 0;
	int asyncsafe = (flags & SPAWN_FORK_ASYNCSAFE) != 0;
	int exitsig = (flags & SPAWN_FORK_EXIT_SIGNAL) ? exit_signal : SIGCHLD;
	int cg = (flags & SPAWN_FORK_CGROUP) ? cgroup : -1;
	if (!native && !asyncsafe && exitsig != SIGCHLD) {
		res.err = ENOTSUP;
		res.where = SPAWN_AT_EXIT_SIGNAL;
		return res;
	}
	// The child's report: {errno, step} on failure, EOF on exec.
	int rep[2], syncp[2] = {-1, -1};
	if (pipe2(rep, O_CLOEXEC) < 0) {
		res.err = errno;
		res.where = SPAWN_AT_PIPE;
		return res;
	}
	if (rep[1] < lowfd) {
		int fd = fcntl(rep[1], F_DUPFD_CLOEXEC, lowfd);
		if (fd < 0) {
			res.err = errno;
			res.where = SPAWN_AT_PIPE;
			spawn_close_pair(rep);
			return res;
		}
		close(rep[1]);
		rep[1] = fd;
	}
	// glibc's fork gives no pidfd: the child waits until pidfd_open has
	// one, so that it cannot be reaped first (SIGCHLD ignored) and its pid
	// reused.
	int byfork = !native && !asyncsafe;
	if (byfork && pipe2(syncp, O_CLOEXEC) < 0) {
		res.err = errno;
		res.where = SPAWN_AT_PIPE;
		spawn_close_pair(rep);
		return res;
	}

	sigset_t all, old;
	uint64_t oldmask = 0;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	memcpy(&oldmask, &old, sizeof oldmask);
	int pidfd = -1;
	pid_t pid;
	int where;
	int byclone = 0;
	if (native) {
		struct spawn_fork_np_args a = {0};
		a.flags = SPAWN_FORK_PIDFD | (flags & (SPAWN_FORK_CGROUP | SPAWN_FORK_ASYNCSAFE | SPAWN_FORK_EXIT_SIGNAL));
		a.pidfd = -1;
		a.cgroup = cgroup;
		a.exit_signal = exit_signal;
		pid = spawn_syms.fork_np(&a, sizeof a);
		pidfd = a.pidfd;
		where = SPAWN_AT_FORK_NP;
		cg = -1;
	} else if (asyncsafe) {
		struct spawn_clone_args ca = {0};
		ca.flags = SPAWN_CLONE_PIDFD | SPAWN_CLONE_CLEAR_SIGHAND;
		ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
		ca.exit_signal = (uint64_t)exitsig;
		if (cg >= 0) {
			ca.flags |= SPAWN_CLONE_INTO_CGROUP;
			ca.cgroup = (uint64_t)cg;
		}
		pid = (pid_t)syscall(SYS_clone3, &ca, sizeof ca);
		where = SPAWN_AT_CLONE3;
		cg = -1;
		if (pid < 0 && errno == ENOSYS) {
			// clone3 filtered (a container's default seccomp profile) or
			// missing: clone(2) with fork's semantics and no atfork
			// handlers; the child resets its handlers and moves itself
			// into the cgroup, as after fork. The pidfd comes back
			// through parent_tid, the third argument on every
			// architecture.
			pidfd = -1;
			pid = (pid_t)syscall(SYS_clone, (unsigned long)SPAWN_CLONE_PIDFD | (unsigned long)exitsig, 0UL, &pidfd,
				0UL, 0UL);
			cg = (flags & SPAWN_FORK_CGROUP) ? cgroup : -1;
			byclone = 1;
		}
	} else {
		pid = fork();
		where = SPAWN_AT_FORK;
	}
	if (pid == 0)
		spawn_child(rep[1], rep[0], syncp[0], syncp[1], native || !asyncsafe || byclone, cg,
			(const struct spawn_step *)steps, nsteps, (int (*)(void *))fn, (void *)arg, oldmask);
	int err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(rep[1]);
	if (pid < 0) {
		res.err = err;
		res.where = where;
		close(rep[0]);
		spawn_close_pair(syncp);
		return res;
	}
	if (byfork) {
		close(syncp[0]);
		syncp[0] = -1;
	}
	if (pidfd < 0) { // fork, or a fork_np that ignored FORK_NP_PIDFD
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (pidfd < 0) {
			res.err = errno;
			res.where = SPAWN_AT_PIDFD_OPEN;
			kill(pid, SIGKILL);
			spawn_close_pair(syncp);
			close(rep[0]);
			siginfo_t si;
			while (waitid(P_PID, (id_t)pid, &si, WEXITED | SPAWN_WALL) < 0 && errno == EINTR)
				;
			return res;
		}
	}
	if (byfork) {
		ssize_t w;
		do
			w = write(syncp[1], "", 1); // the child goes on
		while (w < 0 && errno == EINTR);
		close(syncp[1]);
	}
	return spawn_fork_report(rep[0], pid, pidfd, userns_rep);
}

_Static_assert(sizeof(struct spawn_op) == 24, "struct spawn_op is op of plan_linux.go");
_Static_assert(offsetof(struct spawn_op, b) == 8, "struct spawn_op is op of plan_linux.go");
_Static_assert(sizeof(struct spawn_step) == 80, "struct spawn_step is rawStep of rawplan_linux.go");
_Static_assert(offsetof(struct spawn_step, ignore) == 56, "struct spawn_step is rawStep of rawplan_linux.go");
_Static_assert(offsetof(struct spawn_step, op) == 72, "struct spawn_step is rawStep of rawplan_linux.go");
_Static_assert(sizeof(struct spawn_pidfd_info) == 64, "PIDFD_INFO_SIZE_VER0");
