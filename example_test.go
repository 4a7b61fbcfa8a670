//go:build linux

package spawn_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/pidfd/spawn"
)

func ExampleSpawn() {
	// The path is used as given; argv[0] is the program's name.
	p, err := spawn.Spawn("/bin/sh", []string{"sh", "-c", "exit 3"}, nil)
	if err != nil {
		log.Fatal(err)
	}
	st, err := p.Wait() // reaps the child and closes the pidfd, as os.Process.Wait
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.ExitCode(), st)
	// Output: 3 exit status 3
}

func ExampleSpawnP() {
	r, w, err := os.Pipe()
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	// "echo" is looked up in PATH, as execvp does. Files lays out the
	// child's descriptors 0, 1 and 2; every other one is closed in it.
	p, err := spawn.SpawnP("echo", []string{"echo", "found in PATH"}, &spawn.Attr{
		Files: []*os.File{os.Stdin, w, os.Stderr},
	})
	w.Close() // the child has its own copy
	if err != nil {
		log.Fatal(err)
	}
	out, _ := io.ReadAll(r)
	if _, err := p.Wait(); err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(out))
	// Output: found in PATH
}

func ExampleCommand() {
	out, err := spawn.Command("echo", "hello").Output()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(out))
	// Output: hello
}

func ExampleCommand_exitError() {
	_, err := spawn.Command("sh", "-c", "echo oops >&2; exit 2").Output()
	var ee *spawn.ExitError
	if errors.As(err, &ee) {
		// Output keeps stderr in the error when Cmd.Stderr is nil.
		fmt.Printf("%v, code %d, stderr %q\n", ee, ee.ExitCode(), ee.Stderr)
	}
	// Output: exit status 2, code 2, stderr "oops\n"
}

func ExampleCommand_attr() {
	// Attr carries what os/exec has no field for: here a new session.
	cmd := spawn.Command("sh", "-c", "cat /proc/$$/stat") // the shell's own status line
	cmd.Attr = &spawn.Attr{Setsid: true}
	out, err := cmd.Output()
	if err != nil {
		log.Fatal(err)
	}
	f := strings.Fields(string(out)) // pid (comm) state ppid pgrp session ...
	fmt.Println("session leader:", len(f) > 5 && f[5] == f[0])
	// Output: session leader: true
}

func ExampleCommandContext() {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := spawn.CommandContext(ctx, "sleep", "10").Run()
	// The default Cancel kills the child; Wait reports how it ended.
	fmt.Println(err, "|", ctx.Err())
	// Output: signal: killed | context deadline exceeded
}

func ExampleCmd_StdoutPipe() {
	cmd := spawn.Command("sh", "-c", "echo one; echo two")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() { // read everything before Wait closes the pipe
		fmt.Println("line:", sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// line: one
	// line: two
}

func ExampleCmd_StdinPipe() {
	cmd := spawn.Command("cat")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		defer stdin.Close() // cat exits at end of input
		io.WriteString(stdin, "through cat\n")
	}()
	out, err := cmd.CombinedOutput()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(out))
	// Output: through cat
}

func ExampleProbe() {
	for _, f := range spawn.Probe() {
		fmt.Println(f) // "clone3: yes", "CLONE_AUTOREAP: no (needs Linux 7.1): …"
	}
}

func ExampleOpenProcess() {
	// A child started by other means (os/exec here): OpenProcess gives a
	// handle that can never reach another process reusing its pid.
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	defer cmd.Process.Release() // the handle below reaps the child
	p, err := spawn.OpenProcess(cmd.Process.Pid)
	if err != nil {
		log.Fatal(err)
	}
	if err := p.Kill(); err != nil {
		log.Fatal(err)
	}
	st, err := p.Wait() // our child: reaped here
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st)
	// Output: signal: killed
}

func ExampleProcess_WaitContext() {
	p, err := spawn.Spawn("/bin/sleep", []string{"sleep", "60"}, nil)
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = p.WaitContext(ctx)
	fmt.Println(err) // the child is left running, its handle open
	fmt.Println("alive:", p.Signal(syscall.Signal(0)) == nil)

	p.Kill()
	st, err := p.Wait() // a later Wait still reaps it
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st)
	// Output:
	// context deadline exceeded
	// alive: true
	// signal: killed
}

func ExampleProcess_Signal() {
	r, w, err := os.Pipe()
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	// The shell says "ready" once its trap is set, then waits for SIGTERM.
	p, err := spawn.Spawn("/bin/sh", []string{"sh", "-c", `trap 'exit 7' TERM; echo ready; while :; do sleep 0.01; done`},
		&spawn.Attr{Files: []*os.File{nil, w, os.Stderr}})
	w.Close()
	if err != nil {
		log.Fatal(err)
	}
	if _, err := bufio.NewReader(r).ReadString('\n'); err != nil {
		log.Fatal(err)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil { // pidfd_send_signal
		log.Fatal(err)
	}
	st, err := p.Wait()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st)
	// After Wait the process is done, whatever the signal.
	fmt.Println(errors.Is(p.Signal(syscall.SIGTERM), os.ErrProcessDone))
	// Output:
	// exit status 7
	// true
}

func ExampleCgroup() {
	// Needs a writable cgroup v2 hierarchy (root, or a delegated subtree).
	root, err := spawn.Cgroup2Root()
	if err != nil {
		log.Fatal(err)
	}
	parent, err := spawn.OpenCgroup(root)
	if err != nil {
		log.Fatal(err)
	}
	defer parent.Close()
	cg, err := parent.Mkdir(fmt.Sprintf("example-%d", os.Getpid()))
	if err != nil {
		log.Fatal(err)
	}
	// The child is created inside the cgroup (CLONE_INTO_CGROUP): it never
	// runs anywhere else, nor does anything it starts.
	p, err := spawn.Spawn("/bin/sh", []string{"sh", "-c", "sleep 60 & sleep 60"}, &spawn.Attr{Cgroup: cg})
	if err != nil {
		log.Fatal(err)
	}
	if err := cg.Kill(); err != nil { // every process in it, grandchildren too
		log.Fatal(err)
	}
	st, err := p.Wait()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st)
	// The orphaned grandchild leaves the cgroup once it is reaped by init.
	for cg.Remove() != nil {
		time.Sleep(10 * time.Millisecond)
	}
}

func ExampleAttr_autoKill() {
	// Linux 7.1: the child is killed when its pidfd is closed, even if this
	// program dies first. NoNewPrivs lets a process without CAP_SYS_ADMIN
	// ask for it.
	p, err := spawn.Spawn("/bin/sleep", []string{"sleep", "60"}, &spawn.Attr{AutoKill: true, NoNewPrivs: true})
	if errors.Is(err, spawn.ErrNotSupported) {
		fmt.Println(err) // "… needs Linux 7.1 (CLONE_PIDFD_AUTOKILL)"
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	p.Release() // SIGKILL: the child does not outlive its handle
}

func ExamplePidfdGetpid() {
	p, err := spawn.Spawn("/bin/sleep", []string{"sleep", "60"}, nil)
	if err != nil {
		log.Fatal(err)
	}
	// Any pidfd, from this package or not, names its process's pid.
	pid, err := spawn.PidfdGetpid(p.Fd())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(pid == p.Pid())
	p.Kill()
	p.Wait()
	// Output: true
}
