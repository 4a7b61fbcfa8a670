// The Clone3 trampoline for linux/amd64. See fallback_nocgo.go.
//
// One entry serves both system calls that create the child: clone3(args,
// size) on the fast path, and clone(flags, newsp, parent_tid, child_tid,
// tls) where clone3 is filtered. a0..a2 go to DI, SI and DX, ctid to R10
// (clone's child_tid; clone3 ignores it), and R8 (clone's tls) is zero.

#include "textflag.h"

#define SYS_rt_sigprocmask 14
#define SYS_exit_group 231
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

// func rawClone(nr, a0, a1, a2, ctid uintptr, steps *rawStep, nsteps uintptr, res *rawResult) (pid uintptr, errno uintptr)
TEXT ·rawClone(SB), NOSPLIT, $16-80
	// Block every signal on this thread; keep the old mask in the frame.
	MOVQ	$-1, all-8(SP)
	MOVQ	$SIG_SETMASK, DI
	LEAQ	all-8(SP), SI
	LEAQ	old-16(SP), DX
	MOVQ	$8, R10
	MOVQ	$SYS_rt_sigprocmask, AX
	SYSCALL

	// The child reads these registers; clone and clone3 preserve all but
	// AX, CX, R11.
	MOVQ	steps+40(FP), R12
	MOVQ	nsteps+48(FP), R13
	MOVQ	res+56(FP), BX

	MOVQ	a0+8(FP), DI
	MOVQ	a1+16(FP), SI
	MOVQ	a2+24(FP), DX
	MOVQ	ctid+32(FP), R10
	XORQ	R8, R8
	MOVQ	nr+0(FP), AX
	SYSCALL
	CMPQ	AX, $0
	JEQ	child

	// Parent (or the call failed): restore the signal mask.
	MOVQ	AX, R12
	MOVQ	$SIG_SETMASK, DI
	LEAQ	old-16(SP), SI
	MOVQ	$0, DX
	MOVQ	$8, R10
	MOVQ	$SYS_rt_sigprocmask, AX
	SYSCALL
	CMPQ	R12, $0xfffffffffffff001
	JLS	ok
	NEGQ	R12
	MOVQ	$0, pid+64(FP)
	MOVQ	R12, errno+72(FP)
	RET
ok:
	MOVQ	R12, pid+64(FP)
	MOVQ	$0, errno+72(FP)
	RET

child:
	// On the child's own stack, sharing memory with the blocked parent.
	// Run each step; R14 is the index, R15 the step.
	XORQ	R14, R14
loop:
	CMPQ	R14, R13
	JAE	end
	MOVQ	R14, R15
	IMULQ	$STEP_SIZE, R15
	ADDQ	R12, R15
	MOVQ	STEP_NR(R15), AX
	MOVQ	STEP_A0(R15), DI
	MOVQ	STEP_A1(R15), SI
	MOVQ	STEP_A2(R15), DX
	MOVQ	STEP_A3(R15), R10
	MOVQ	STEP_A4(R15), R8
	MOVQ	STEP_A5(R15), R9
	SYSCALL
	MOVQ	STEP_OP(R15), CX
	TESTQ	$CHECK_EQ, CX
	JEQ	errcheck
	CMPQ	AX, STEP_EXPECT(R15)
	JEQ	next
	MOVQ	$ESRCH, AX
	JMP	fail
errcheck:
	CMPQ	AX, $0xfffffffffffff001
	JLS	next
	NEGQ	AX
	MOVQ	STEP_IGNORE(R15), CX
	CMPQ	CX, $-1
	JEQ	next
	CMPQ	CX, AX
	JEQ	next
fail:
	MOVL	AX, 0(BX)
	MOVL	R14, 4(BX)
	MOVQ	$127, DI
	MOVQ	$SYS_exit_group, AX
	SYSCALL
	JMP	fail
next:
	INCQ	R14
	JMP	loop
end:
	// The plan ran out without an execve (a probe): exit 0.
	MOVQ	$0, DI
	MOVQ	$SYS_exit_group, AX
	SYSCALL
	JMP	end
