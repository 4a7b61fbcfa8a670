//go:build linux && cgo

package forktest

/*
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int forktest_prepare, forktest_parent, forktest_child;
static int forktest_child_fd = -1;
static int forktest_in_child; // set by the child handler, in the child only
static pthread_once_t forktest_once = PTHREAD_ONCE_INIT;

static void forktest_on_prepare(void) { __atomic_add_fetch(&forktest_prepare, 1, __ATOMIC_SEQ_CST); }
static void forktest_on_parent(void) { __atomic_add_fetch(&forktest_parent, 1, __ATOMIC_SEQ_CST); }
static void forktest_on_child(void) {
	__atomic_add_fetch(&forktest_child, 1, __ATOMIC_SEQ_CST);
	forktest_in_child = 1;
	int fd = __atomic_load_n(&forktest_child_fd, __ATOMIC_SEQ_CST);
	if (fd >= 0) {
		char c = 'c';
		ssize_t n = write(fd, &c, 1);
		(void)n;
	}
}

static void forktest_register(void) { pthread_atfork(forktest_on_prepare, forktest_on_parent, forktest_on_child); }
static void forktest_install(void) { pthread_once(&forktest_once, forktest_register); }

static void forktest_counts(int *prepare, int *parent, int *child) {
	*prepare = __atomic_load_n(&forktest_prepare, __ATOMIC_SEQ_CST);
	*parent = __atomic_load_n(&forktest_parent, __ATOMIC_SEQ_CST);
	*child = __atomic_load_n(&forktest_child, __ATOMIC_SEQ_CST);
}

static void forktest_set_child_fd(int fd) { __atomic_store_n(&forktest_child_fd, fd, __ATOMIC_SEQ_CST); }

// forktest_value: *(long *)arg, plus 100 if the atfork child handler ran in this
// process.
static int forktest_value(void *arg) { return (int)*(long *)arg + (forktest_in_child ? 100 : 0); }

// forktest_handlers counts the signals that have a handler (neither SIG_DFL
// nor SIG_IGN) and, plus 64, reports a signal mask other than *arg's first
// word.
static int forktest_handlers(void *arg) {
	int n = 0;
	for (int s = 1; s <= 64; s++) {
		struct sigaction sa;
		if (s == SIGKILL || s == SIGSTOP || sigaction(s, NULL, &sa) != 0)
			continue;
		if (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN)
			n++;
	}
	sigset_t cur;
	pthread_sigmask(SIG_SETMASK, NULL, &cur);
	unsigned long want = *(unsigned long *)arg;
	for (int s = 1; s <= 64; s++) {
		if (s == 32 || s == 33) // glibc's own: sigprocmask hides them
			continue;
		int blocked = sigismember(&cur, s) == 1;
		if (blocked != ((want >> (s - 1)) & 1)) {
			n += 64;
			break;
		}
	}
	return n;
}

// forktest_sleep sleeps *(long *)arg milliseconds and returns 0.
static int forktest_sleep(void *arg) {
	long ms = *(long *)arg;
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	return 0;
}

static void *forktest_fn(int which) {
	switch (which) {
	case 0: return (void *)forktest_value;
	case 1: return (void *)forktest_handlers;
	case 2: return (void *)forktest_sleep;
	}
	return NULL;
}

static void *forktest_int(long v) {
	long *p = malloc(sizeof *p);
	if (p)
		*p = v;
	return p;
}
*/
import "C"

import "unsafe"

// Install registers the counting pthread_atfork handlers, once per process.
func Install() { C.forktest_install() }

// Counts returns how often each handler has run in this process.
func Counts() (prepare, parent, child int) {
	var a, b, c C.int
	C.forktest_counts(&a, &b, &c)
	return int(a), int(b), int(c)
}

// SetChildFd makes the child handler write one byte "c" to fd (-1: none).
func SetChildFd(fd int) { C.forktest_set_child_fd(C.int(fd)) }

// Value is a ForkCall function: it returns *(long *)arg, plus 100 when the
// atfork child handler ran in the child.
func Value() unsafe.Pointer { return C.forktest_fn(0) }

// Handlers is a ForkCall function: it returns the number of signals with a
// handler installed in the child, plus 64 if the child's signal mask differs
// from the mask at arg (a kernel sigset word).
func Handlers() unsafe.Pointer { return C.forktest_fn(1) }

// Sleep is a ForkCall function: it sleeps *(long *)arg milliseconds, then
// returns 0.
func Sleep() unsafe.Pointer { return C.forktest_fn(2) }

// Int returns a C long holding v, for a ForkCall argument; Free releases it.
func Int(v int) unsafe.Pointer { return C.forktest_int(C.long(v)) }

// Free releases what Int returned.
func Free(p unsafe.Pointer) { C.free(p) }
