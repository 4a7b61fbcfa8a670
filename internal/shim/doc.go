// Package shim is the C side of package spawn's cgo backends: the run-time
// lookup of glibc functions newer than 2.28, one-call pidfd_spawn, and the
// fork_np-style fork whose child runs a plan of raw system calls.
//
// It is a package of its own because a Go package that uses cgo cannot hold
// Go assembly (the go command hands every .s file of a cgo package to the C
// compiler), and package spawn has the Clone3 trampoline in Go assembly.
// Without cgo the package is empty.
package shim
