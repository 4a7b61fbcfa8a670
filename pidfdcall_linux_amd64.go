//go:build cgo && !msan && !asan

package spawn

import (
	"sync"
	"unsafe"

	"github.com/pidfd/spawn/internal/shim"
)

// PidfdSpawn without cgo's transition.
//
// A cgo call enters the runtime's system-call state, and that wakes the
// runtime's monitor thread whenever it sleeps deeply, which it does while
// every P is idle: during each Wait. Woken once per spawn, it polls at 20 µs
// intervals on the other CPU while glibc spawns, and its presence there turns
// glibc's munmap of the child's stack into a TLB shootdown across CPUs. On a
// 2-vCPU machine that made a PidfdSpawn+Wait of a tiny program 1.65× as slow
// as a C program's pidfd_spawn loop, and slower than os/exec.
//
// So the shim's C function is called like the Clone3 trampoline issues
// clone3: from assembly, on a C stack of its own (pooled), with every signal
// blocked on the thread for the length of the call, holding the P. The
// function builds the attributes, calls pidfd_spawn (the parent is suspended
// until the child has executed the program, as with Clone3 and with
// os/exec's vfork), reads the pid and returns; it never calls back into Go.
// Builds for the memory and address sanitizers keep the cgo call, whose
// glue those tools need.

// callCOnStack is in pidfdcall_linux_amd64.s.
//
//go:noescape
func callCOnStack(fn, arg, stack uintptr, masks *[2]uint64)

// cStackSize is the C stack: glibc's pidfd_spawn needs little in the parent
// (the child's stack is its own mapping), malloc and ioctl a few KiB.
const cStackSize = 128 << 10

// cCall is the memory of one call: the argument block, the signal masks and
// the stack. It holds no Go pointers (the collector does not scan it) and
// never moves.
type cCall struct {
	call  pidfdCall
	masks [2]uint64
	stack [cStackSize]byte
}

var cCallPool = sync.Pool{New: func() any { return new(cCall) }}

var pidfdSpawnFn = sync.OnceValue(shim.PidfdSpawnCall)

// pidfdSpawnCall runs the shim's spawn_pidfd_spawn_call on c.
func pidfdSpawnCall(c *pidfdCall) {
	fn := pidfdSpawnFn()
	b := cCallPool.Get().(*cCall)
	b.call = *c
	b.masks = [2]uint64{^uint64(0), 0}
	top := uintptr(unsafe.Pointer(&b.stack[0])) + cStackSize
	callCOnStack(fn, uintptr(unsafe.Pointer(&b.call)), top, &b.masks)
	*c = b.call
	cCallPool.Put(b)
}
