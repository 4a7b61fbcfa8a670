/*
 * no-clone3: run a program the way a container runtime's default seccomp
 * profile runs it, as far as process creation goes: clone3 fails with
 * ENOSYS (the default profiles of Docker and containerd, hence of every
 * Kubernetes pod with the RuntimeDefault profile, answer clone3 so for a
 * process without CAP_SYS_ADMIN, so that C libraries fall back to clone),
 * every other system call is allowed.
 *
 *   no-clone3 PROGRAM [ARGS...]
 *
 * Installs the filter (setting no_new_privs first only where the kernel
 * demands it: without CAP_SYS_ADMIN), which every descendant
 * inherits and nothing can remove, then executes PROGRAM (a PATH search
 * when it has no slash). Exit status: PROGRAM's, or 125 when the filter
 * cannot be installed, 127 when PROGRAM cannot be executed.
 *
 * The filter: a system call of another architecture (a 32-bit one on a
 * 64-bit kernel) is allowed as it is; clone3 of this architecture returns
 * ENOSYS; everything else is allowed.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "no-clone3: unknown architecture"
#endif

#ifndef __NR_clone3
#define __NR_clone3 435
#endif

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: no-clone3 PROGRAM [ARGS...]\n");
		return 125;
	}
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
	// A runtime sets no_new_privs only when asked to (Docker's
	// --security-opt no-new-privileges): with CAP_SYS_ADMIN the filter goes
	// in without it; without, the kernel demands it.
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0)
		goto run;
	if (errno != EACCES) {
		fprintf(stderr, "no-clone3: prctl(PR_SET_SECCOMP): %s\n", strerror(errno));
		return 125;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		fprintf(stderr, "no-clone3: prctl(PR_SET_NO_NEW_PRIVS): %s\n", strerror(errno));
		return 125;
	}
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
		fprintf(stderr, "no-clone3: prctl(PR_SET_SECCOMP): %s\n", strerror(errno));
		return 125;
	}
run:
	execvp(argv[1], argv + 1);
	fprintf(stderr, "no-clone3: %s: %s\n", argv[1], strerror(errno));
	return 127;
}
