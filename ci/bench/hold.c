// The many-children benchmark's child: a static program with no C library
// that reads its standard input until end of file (or an error) and then
// exits 0 (a non-blocking descriptor is waited on with ppoll), so that a parent holds N of them alive and ends them all at once
// by closing the pipe's write end. Built with:
// gcc -static -nostdlib -O2 -o hold hold.c
static long sys4(long nr, long a, long b, long c, long d) {
	long ret;
#if defined(__x86_64__)
	register long r10 __asm__("r10") = d;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	__asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
	ret = x0;
#else
#error "hold.c: add the system call for this architecture"
#endif
	return ret;
}

#if defined(__x86_64__)
enum { SYS_READ = 0, SYS_PPOLL = 271, SYS_EXIT_GROUP = 231 };
#else
enum { SYS_READ = 63, SYS_PPOLL = 73, SYS_EXIT_GROUP = 94 };
#endif

struct pollfd {
	int fd;
	short events, revents;
};

void _start(void) {
	char buf[64];
	long n;
	for (;;) {
		n = sys4(SYS_READ, 0, (long)buf, sizeof buf, 0);
		if (n == -11) { // EAGAIN: wait until readable (POLLIN)
			struct pollfd p = {0, 1, 0};
			sys4(SYS_PPOLL, (long)&p, 1, 0, 0);
			continue;
		}
		if (n <= 0 && n != -4) // end of file or an error; EINTR: again
			break;
	}
	sys4(SYS_EXIT_GROUP, 0, 0, 0, 0);
	for (;;)
		;
}
