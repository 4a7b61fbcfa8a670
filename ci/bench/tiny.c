// The benchmarks' child: a static program with no C library that exits 0 at
// once, so that a spawn+wait measures process creation, exec and exit, not a
// dynamic loader. Built with: gcc -static -nostdlib -O2 -o tiny tiny.c
void _start(void) {
#if defined(__x86_64__)
	__asm__ volatile("mov $231, %eax\n\txor %edi, %edi\n\tsyscall"); // exit_group(0)
#elif defined(__aarch64__)
	__asm__ volatile("mov x8, #94\n\tmov x0, #0\n\tsvc #0"); // exit_group(0)
#else
#error "tiny.c: add exit_group for this architecture"
#endif
	for (;;)
		;
}
