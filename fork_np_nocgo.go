//go:build !cgo || !linux

package spawn

import "unsafe"

// ForkExec forks like glibc's proposed fork_np, running the C library's
// atfork handlers, and executes path in the child. It needs cgo.
func ForkExec(path string, argv []string, attr *Attr, args *ForkArgs) (*Process, error) {
	return nil, unsupported(nil, "ForkExec needs cgo (this build has CGO_ENABLED=0)")
}

// ForkCall forks like glibc's proposed fork_np and runs the C function fn
// with arg in the child, which exits with fn's result. It needs cgo.
func ForkCall(fn, arg unsafe.Pointer, args *ForkArgs) (*Process, error) {
	return nil, unsupported(nil, "ForkCall needs cgo (this build has CGO_ENABLED=0)")
}
