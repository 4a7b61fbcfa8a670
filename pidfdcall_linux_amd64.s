//go:build cgo && !msan && !asan

#include "textflag.h"

// func callCOnStack(fn, arg, stack uintptr, masks *[2]uint64)
//
// Calls the C function fn(arg) on the stack whose top is stack, with every
// signal blocked on this thread for the length of the call (masks[0] is the
// full mask, masks[1] receives the thread's own, which is restored after).
// No Go code runs on the C stack: no handler can (signals are blocked) and
// fn never calls back into Go. The C callee preserves RBX, RBP, R12-R15
// (R14 holds g) and the stack pointer is kept in R12.
TEXT ·callCOnStack(SB), NOSPLIT|NOFRAME, $0-32
	MOVQ	masks+24(FP), R13
	MOVQ	$14, AX			// SYS_rt_sigprocmask
	MOVQ	$2, DI			// SIG_SETMASK
	LEAQ	0(R13), SI
	LEAQ	8(R13), DX
	MOVQ	$8, R10
	SYSCALL
	MOVQ	fn+0(FP), AX
	MOVQ	arg+8(FP), DI
	MOVQ	stack+16(FP), BX
	ANDQ	$~15, BX
	MOVQ	SP, R12
	MOVQ	BX, SP
	CALL	AX
	MOVQ	R12, SP
	MOVQ	masks+24(FP), R13
	MOVQ	$14, AX			// SYS_rt_sigprocmask
	MOVQ	$2, DI			// SIG_SETMASK
	LEAQ	8(R13), SI
	XORQ	DX, DX
	MOVQ	$8, R10
	SYSCALL
	XORPS	X15, X15		// Go's zero register, which C may have used
	RET
