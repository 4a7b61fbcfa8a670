// C reference loops for ci/bench.sh: spawn+wait of one program, over and
// over, by the ways a C program creates children. Each run prints one line in
// the format of a Go benchmark, so that ci/bench/report reads both alike:
//
//	NAME  ITERATIONS  NS ns/op  CPU cpu-ns/op
//
// (cpu-ns/op: this process's own user+system time per spawn, children not
// included.)
//
// Usage: loops MODE PROGRAM [-name NAME] [-t THREADS] [-d SECONDS] [-heap MiB]
//
// MODE is one of
//
//	vfork        vfork, execve; waitpid
//	clone3       raw clone3(CLONE_PIDFD|CLONE_VM|CLONE_VFORK|CLONE_CLEAR_SIGHAND)
//	             with a stack of its own, all signals blocked around it; the
//	             child runs close_range(3, ~0U, 0), an empty rt_sigprocmask
//	             and execve; waitid(P_PIDFD); close. What the Clone3 backend
//	             does for a nil Attr.
//	posix_spawn  posix_spawn with no attributes; waitpid
//	pidfd_spawn  pidfd_spawn (glibc >= 2.39, looked up with dlvsym) with the
//	             attributes the PidfdSpawn backend gives a nil Attr (an empty
//	             POSIX_SPAWN_SETSIGMASK, addclosefrom_np(3)); waitid(P_PIDFD);
//	             close
//	fork         fork, execve; waitpid
//
// With -t N, N threads spawn at once and ns/op is the wall time over all
// spawns (throughput, as Go's b.RunParallel reports it). -heap makes the
// process hold that many MiB of written, resident memory first.

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#define LOOP_CLONE_VM 0x100ULL
#define LOOP_CLONE_VFORK 0x4000ULL
#define LOOP_CLONE_PIDFD 0x1000ULL
#define LOOP_CLONE_CLEAR_SIGHAND 0x100000000ULL
#define LOOP_P_PIDFD 3
#define LOOP_MADV_POPULATE_WRITE 23

extern char **environ;

struct loop_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
		set_tid_size, cgroup;
};

typedef int (*loop_pidfd_spawn_fn)(int *, const char *, const posix_spawn_file_actions_t *,
	const posix_spawnattr_t *, char *const[], char *const[]);
typedef int (*loop_addclosefrom_fn)(posix_spawn_file_actions_t *, int);

static const char *mode, *prog;
static char *argv_child[2];
static double seconds = 1;
static _Atomic int stop;
static loop_pidfd_spawn_fn pidfd_spawn_f;
static loop_addclosefrom_fn addclosefrom_f;

static void die(const char *what, int err) {
	fprintf(stderr, "loops: %s %s: %s: %s\n", mode, prog, what, strerror(err));
	exit(2);
}

static void wait_pid(pid_t pid) {
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid", errno);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("child status", EIO);
}

static void wait_pidfd(int pidfd) {
	siginfo_t si;
	while (waitid(LOOP_P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0)
		if (errno != EINTR)
			die("waitid", errno);
	if (si.si_code != CLD_EXITED || si.si_status != 0)
		die("child status", EIO);
	close(pidfd);
}

// raw_clone3_exec is clone3 whose child, on its own stack, runs
// close_range(3, ~0U, 0), rt_sigprocmask(SIG_SETMASK, &0, NULL, 8) and execve
// and, should that fail, exit_group(127). It returns the child's pid or -errno.
static const uint64_t empty_mask = 0;

static long raw_clone3_exec(struct loop_clone_args *ca, const char *path, char *const *argv, char *const *envp) {
#if defined(__x86_64__)
	register const char *r12 __asm__("r12") = path;
	register char *const *r13 __asm__("r13") = argv;
	register char *const *r14 __asm__("r14") = envp;
	register const uint64_t *r15 __asm__("r15") = &empty_mask;
	long ret;
	__asm__ volatile(
		"syscall\n\t"
		"test %%rax, %%rax\n\t"
		"jnz 1f\n\t"
		"mov $3, %%edi\n\t"
		"mov $0xffffffff, %%esi\n\t"
		"xor %%edx, %%edx\n\t"
		"mov $436, %%eax\n\t" // close_range
		"syscall\n\t"
		"mov $2, %%edi\n\t" // SIG_SETMASK
		"mov %%r15, %%rsi\n\t"
		"xor %%edx, %%edx\n\t"
		"mov $8, %%r10d\n\t"
		"mov $14, %%eax\n\t" // rt_sigprocmask
		"syscall\n\t"
		"mov %%r12, %%rdi\n\t"
		"mov %%r13, %%rsi\n\t"
		"mov %%r14, %%rdx\n\t"
		"mov $59, %%eax\n\t" // execve
		"syscall\n\t"
		"mov $127, %%edi\n\t"
		"mov $231, %%eax\n\t" // exit_group
		"syscall\n\t"
		"1:\n\t"
		: "=a"(ret)
		: "a"((long)SYS_clone3), "D"(ca), "S"(sizeof *ca), "r"(r12), "r"(r13), "r"(r14), "r"(r15)
		: "rcx", "r11", "rdx", "r10", "memory");
	return ret;
#elif defined(__aarch64__)
	register long x0 __asm__("x0") = (long)ca;
	register long x1 __asm__("x1") = sizeof *ca;
	register long x8 __asm__("x8") = SYS_clone3;
	register const char *x19 __asm__("x19") = path;
	register char *const *x20 __asm__("x20") = argv;
	register char *const *x21 __asm__("x21") = envp;
	register const uint64_t *x22 __asm__("x22") = &empty_mask;
	__asm__ volatile(
		"svc #0\n\t"
		"cbnz x0, 1f\n\t"
		"mov x0, #3\n\t"
		"mov x1, #0xffffffff\n\t"
		"mov x2, #0\n\t"
		"mov x8, #436\n\t" // close_range
		"svc #0\n\t"
		"mov x0, #2\n\t" // SIG_SETMASK
		"mov x1, x22\n\t"
		"mov x2, #0\n\t"
		"mov x3, #8\n\t"
		"mov x8, #135\n\t" // rt_sigprocmask
		"svc #0\n\t"
		"mov x0, x19\n\t"
		"mov x1, x20\n\t"
		"mov x2, x21\n\t"
		"mov x8, #221\n\t" // execve
		"svc #0\n\t"
		"mov x0, #127\n\t"
		"mov x8, #94\n\t" // exit_group
		"svc #0\n\t"
		"1:\n\t"
		: "+r"(x0), "+r"(x8)
		: "r"(x1), "r"(x19), "r"(x20), "r"(x21), "r"(x22)
		: "x2", "x3", "memory");
	return x0;
#else
#error "loops.c: no raw clone3 for this architecture"
#endif
}

// vfork_exec is vfork and execve in a frame of its own: the child may only
// return from vfork into a frame it does not leave.
static __attribute__((noinline)) pid_t vfork_exec(void) {
	pid_t pid = vfork();
	if (pid == 0) {
		execve(prog, argv_child, environ);
		_exit(127);
	}
	if (pid < 0)
		die("vfork", errno);
	return pid;
}

static void *loop(void *countp) {
	long n = 0;
	// The clone3 child's stack: it pushes nothing; 16-byte aligned.
	static _Thread_local _Alignas(16) char stack[4096];
	posix_spawnattr_t attr;
	posix_spawn_file_actions_t fa;
	if (strcmp(mode, "pidfd_spawn") == 0) {
		sigset_t none;
		sigemptyset(&none);
		posix_spawnattr_init(&attr);
		posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
		posix_spawnattr_setsigmask(&attr, &none);
		posix_spawn_file_actions_init(&fa);
		if (addclosefrom_f(&fa, 3) != 0)
			die("addclosefrom_np", errno);
	}
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		pid_t pid;
		int err;
		switch (mode[0]) {
		case 'v': // vfork
			wait_pid(vfork_exec());
			break;
		case 'c': { // clone3
			int pidfd = -1;
			struct loop_clone_args ca = {0};
			ca.flags = LOOP_CLONE_PIDFD | LOOP_CLONE_VM | LOOP_CLONE_VFORK | LOOP_CLONE_CLEAR_SIGHAND;
			ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
			ca.exit_signal = SIGCHLD;
			ca.stack = (uint64_t)(uintptr_t)stack;
			ca.stack_size = sizeof stack;
			uint64_t all = ~0ULL, old;
			syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, 8);
			long r = raw_clone3_exec(&ca, prog, argv_child, environ);
			syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, 8);
			if (r < 0)
				die("clone3", (int)-r);
			wait_pidfd(pidfd);
			break;
		}
		case 'p':
			if (mode[1] == 'o') { // posix_spawn
				if ((err = posix_spawn(&pid, prog, NULL, NULL, argv_child, environ)) != 0)
					die("posix_spawn", err);
				wait_pid(pid);
			} else { // pidfd_spawn
				int pidfd;
				if ((err = pidfd_spawn_f(&pidfd, prog, &fa, &attr, argv_child, environ)) != 0)
					die("pidfd_spawn", err);
				wait_pidfd(pidfd);
			}
			break;
		case 'f': // fork
			pid = fork();
			if (pid == 0) {
				execve(prog, argv_child, environ);
				_exit(127);
			}
			if (pid < 0)
				die("fork", errno);
			wait_pid(pid);
			break;
		}
		n++;
	}
	*(long *)countp = n;
	return NULL;
}

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: loops vfork|clone3|posix_spawn|pidfd_spawn|fork PROGRAM [-name NAME] [-t THREADS] [-d SECONDS] [-heap MiB]\n");
		return 2;
	}
	mode = argv[1];
	prog = argv[2];
	const char *name = NULL;
	int threads = 1;
	long heap = 0;
	for (int i = 3; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "-name") == 0)
			name = argv[i + 1];
		else if (strcmp(argv[i], "-t") == 0)
			threads = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "-d") == 0)
			seconds = atof(argv[i + 1]);
		else if (strcmp(argv[i], "-heap") == 0)
			heap = atol(argv[i + 1]);
	}
	if (strcmp(mode, "vfork") && strcmp(mode, "clone3") && strcmp(mode, "posix_spawn") &&
		strcmp(mode, "pidfd_spawn") && strcmp(mode, "fork")) {
		fprintf(stderr, "loops: unknown mode %s\n", mode);
		return 2;
	}
	if (strcmp(mode, "pidfd_spawn") == 0) {
		pidfd_spawn_f = (loop_pidfd_spawn_fn)dlvsym(RTLD_DEFAULT, "pidfd_spawn", "GLIBC_2.39");
		addclosefrom_f = (loop_addclosefrom_fn)dlvsym(RTLD_DEFAULT, "posix_spawn_file_actions_addclosefrom_np", "GLIBC_2.34");
		if (!pidfd_spawn_f || !addclosefrom_f) {
			fprintf(stderr, "loops: this glibc has no pidfd_spawn (needs 2.39)\n");
			return 3;
		}
	}
	if (threads < 1 || threads > 256 || seconds <= 0) {
		fprintf(stderr, "loops: bad -t or -d\n");
		return 2;
	}
	argv_child[0] = (char *)prog;
	if (heap > 0) {
		// Resident and written, as a touched heap is; populated in one
		// call where the kernel can (Linux 5.14), a fault per page takes
		// long in a VM.
		size_t size = (size_t)heap << 20;
		char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("mmap", errno);
		if (madvise(p, size, LOOP_MADV_POPULATE_WRITE) != 0)
			for (size_t off = 0; off < size; off += 4096)
				p[off] = 1;
	}
	// Warm up: page in the program and the loop, then measure.
	long counts[256] = {0};
	pthread_t tids[256];
	double spent = 0;
	long total = 0;
	double cpu0 = 0;
	for (int round = 0; round < 2; round++) {
		double d = round == 0 ? seconds / 10 : seconds;
		if (round == 1) {
			struct rusage ru;
			getrusage(RUSAGE_SELF, &ru);
			cpu0 = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
				(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
		}
		atomic_store(&stop, 0);
		double t0 = now();
		for (int i = 0; i < threads; i++)
			if ((errno = pthread_create(&tids[i], NULL, loop, &counts[i])) != 0)
				die("pthread_create", errno);
		struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		atomic_store(&stop, 1);
		total = 0;
		for (int i = 0; i < threads; i++) {
			pthread_join(tids[i], NULL);
			total += counts[i];
		}
		spent = now() - t0;
	}
	if (total == 0)
		total = 1;
	if (!name)
		name = mode;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
		(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3 - cpu0;
	printf("%s\t%ld\t%.0f ns/op\t%.0f cpu-ns/op\n", name, total, spent * 1e9 / (double)total, cpu / (double)total);
	return 0;
}
