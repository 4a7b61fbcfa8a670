// Package forktest holds the C code that package spawn's fork_np tests need
// and that cannot live in a _test.go file: pthread_atfork handlers that count
// their calls, and child functions for ForkCall. Only tests import it.
// Without cgo it is empty.
package forktest
