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
	"strings"
	"time"

	"github.com/pidfd/spawn"
)

func ExampleSpawn() {
	// The path is used as given; argv[0] is the program's name.
	p, err := spawn.Spawn("/bin/sh", []string{"sh", "-c", "exit 3"}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Release()   // close the pidfd
	st, err := p.Wait() // parks in the runtime poller, then reaps
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
	defer p.Release()
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
