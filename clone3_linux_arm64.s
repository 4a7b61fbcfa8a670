// The Clone3 trampoline for linux/arm64. See fallback_nocgo.go.
//
// Same contract as clone3_linux_amd64.s: one entry for clone3(args, size)
// and for clone(flags, newsp, parent_tid, tls, child_tid) (arm64 selects
// CONFIG_CLONE_BACKWARDS: tls comes before child_tid; tls is zero, ctid goes
// to child_tid in R4, which clone3 ignores, and the pidfd of CLONE_PIDFD
// comes back through parent_tid, in R2 in either order). arm64 syscall convention: number in
// R8, arguments in R0-R5, SVC $0, result in R0; the kernel preserves every
// other register, in parent and child alike.
//
// Registers: the code uses R0-R5, R8 (syscalls), R9-R10 (scratch) and
// R19-R23 (what the child needs, loaded before the call), all caller-saved in
// Go's ABI0. It leaves alone R18 (platform), R26 (closure context), R27
// (REGTMP, the assembler's), R28 (g), R29 (frame pointer) and R30 (link
// register). After the call the child runs on the stack of its own that
// clone3Call provides (the kernel sets its SP to stack+stack_size for
// clone3, to newsp for clone) and never
// touches SP, the frame, or the caller's frames: everything it needs is in
// R19-R23, and it ends in execve or exit_group, never in RET.

#include "textflag.h"

#define SYS_rt_sigprocmask 135
#define SYS_exit_group 94
#define SIG_SETMASK 2

// Offsets in rawStep (80 bytes) and rawResult.
#define STEP_SIZE 80
#define STEP_NR 0
#define STEP_A0 8
#define STEP_A1 16
#define STEP_A2 24
#define STEP_A3 32
#define STEP_A4 40
#define STEP_A5 48
#define STEP_IGNORE 56
#define STEP_EXPECT 64
#define STEP_OP 72
#define CHECK_EQ 0x10000
#define ESRCH 3

// A system call result r is an error when -4095 <= r < 0, that is when r,
// unsigned, is at least MAX_ERRNO_NEG.
#define MAX_ERRNO_NEG $-4095

// func rawClone(nr, a0, a1, a2, ctid uintptr, steps *rawStep, nsteps uintptr, res *rawResult) (pid uintptr, errno uintptr)
TEXT ·rawClone(SB), NOSPLIT, $16-80
	// Block every signal on this thread; keep the old mask in the frame.
	MOVD	$-1, R0
	MOVD	R0, all-8(SP)
	MOVD	$SIG_SETMASK, R0
	MOVD	$all-8(SP), R1
	MOVD	$old-16(SP), R2
	MOVD	$8, R3
	MOVD	$SYS_rt_sigprocmask, R8
	SVC	$0

	// The child reads these registers; clone and clone3 preserve all but
	// R0.
	MOVD	steps+40(FP), R19
	MOVD	nsteps+48(FP), R20
	MOVD	res+56(FP), R21

	MOVD	a0+8(FP), R0
	MOVD	a1+16(FP), R1
	MOVD	a2+24(FP), R2
	MOVD	ZR, R3
	MOVD	ctid+32(FP), R4
	MOVD	nr+0(FP), R8
	SVC	$0
	CBZ	R0, child

	// Parent (or the call failed): restore the signal mask.
	MOVD	R0, R19
	MOVD	$SIG_SETMASK, R0
	MOVD	$old-16(SP), R1
	MOVD	$0, R2
	MOVD	$8, R3
	MOVD	$SYS_rt_sigprocmask, R8
	SVC	$0
	MOVD	MAX_ERRNO_NEG, R9
	CMP	R9, R19
	BLO	ok
	NEG	R19, R19
	MOVD	ZR, pid+64(FP)
	MOVD	R19, errno+72(FP)
	RET
ok:
	MOVD	R19, pid+64(FP)
	MOVD	ZR, errno+72(FP)
	RET

child:
	// On the child's own stack, sharing memory with the blocked parent.
	// Run each step; R22 is the index, R23 the step.
	MOVD	ZR, R22
	MOVD	R19, R23
loop:
	CMP	R20, R22
	BHS	end
	MOVD	STEP_NR(R23), R8
	MOVD	STEP_A0(R23), R0
	MOVD	STEP_A1(R23), R1
	MOVD	STEP_A2(R23), R2
	MOVD	STEP_A3(R23), R3
	MOVD	STEP_A4(R23), R4
	MOVD	STEP_A5(R23), R5
	SVC	$0
	MOVD	STEP_OP(R23), R9
	TST	$CHECK_EQ, R9
	BEQ	errcheck
	MOVD	STEP_EXPECT(R23), R10
	CMP	R10, R0
	BEQ	next
	MOVD	$ESRCH, R0
	B	fail
errcheck:
	MOVD	MAX_ERRNO_NEG, R9
	CMP	R9, R0
	BLO	next
	NEG	R0, R0
	MOVD	STEP_IGNORE(R23), R9
	CMN	$1, R9
	BEQ	next
	CMP	R9, R0
	BEQ	next
fail:
	MOVW	R0, 0(R21)
	MOVW	R22, 4(R21)
	MOVD	$127, R0
	MOVD	$SYS_exit_group, R8
	SVC	$0
	B	fail
next:
	ADD	$1, R22
	ADD	$STEP_SIZE, R23
	B	loop
end:
	// The plan ran out without an execve (a probe): exit 0.
	MOVD	$0, R0
	MOVD	$SYS_exit_group, R8
	SVC	$0
	B	end
