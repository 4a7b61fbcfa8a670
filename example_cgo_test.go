//go:build linux && cgo

package spawn_test

import (
	"fmt"
	"log"
	"unsafe"

	"github.com/pidfd/spawn"
	"github.com/pidfd/spawn/internal/forktest"
)

func ExampleForkExec() {
	// fork_np: pthread_atfork handlers of the program's C libraries run, as
	// for fork(3); then the child executes the program. Here the child is
	// created inside no cgroup and reports with the default SIGCHLD.
	p, err := spawn.ForkExec("/bin/sh", []string{"sh", "-c", "exit 5"}, nil, &spawn.ForkArgs{})
	if err != nil {
		log.Fatal(err)
	}
	st, err := p.Wait()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Backend(), st)
	// Output: fork_np exit status 5
}

func ExampleForkCall() {
	// The child calls a C function, int fn(void *arg), and exits with its
	// result. In a program, fn comes from its cgo preamble:
	//
	//	/*
	//	static int child(void *arg) { return *(long *)arg; }
	//	*/
	//	import "C"
	//	... spawn.ForkCall(unsafe.Pointer(C.child), unsafe.Pointer(&v), nil)
	//
	// This example takes such a function from the module's test helpers,
	// and forks with ForkAsyncSafe (as _Fork: no pthread_atfork handlers,
	// which the tests install and which would change the result).
	v := new(int64)
	*v = 42
	p, err := spawn.ForkCall(forktest.Value(), unsafe.Pointer(v), &spawn.ForkArgs{Flags: spawn.ForkAsyncSafe})
	if err != nil {
		log.Fatal(err)
	}
	st, err := p.Wait()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.ExitCode())
	// Output: 42
}
