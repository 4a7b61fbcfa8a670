//go:build linux

package spawn_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"github.com/pidfd/spawn"
	"golang.org/x/sys/unix"
)

// openPty opens a pseudo-terminal pair: /dev/ptmx, unlocked, and its slave.
func openPty() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil { // unlock the slave
		m.Close()
		return nil, nil, os.NewSyscallError("ioctl(TIOCSPTLCK)", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN) // its number
	if err != nil {
		m.Close()
		return nil, nil, os.NewSyscallError("ioctl(TIOCGPTN)", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return m, s, nil
}

// An interactive shell on a pseudo-terminal: a session of its own (Setsid)
// whose controlling terminal (Setctty) is its descriptor 0 (Ctty), as a
// terminal emulator or an ssh server starts one.
func ExampleCmd_pty() {
	master, slave, err := openPty()
	if err != nil {
		log.Fatal(err)
	}
	defer master.Close()
	cmd := spawn.Command("sh", "-i")
	cmd.Env = []string{"PS1=$ ", "PATH=/usr/bin:/bin"}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	slave.Close() // the shell holds the terminal now
	// Type a command; the terminal echoes it, the shell runs it.
	if _, err := io.WriteString(master, "echo answer $((6*7)); [ -t 0 ] && echo on a tty; exit 3\n"); err != nil {
		log.Fatal(err)
	}
	// Once the shell has exited and the slave is closed, the master reads
	// EIO: the end of the session.
	var out bytes.Buffer
	_, err = io.Copy(&out, master)
	if err != nil && !errors.Is(err, syscall.EIO) {
		log.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	fmt.Println(bytes.Contains(out.Bytes(), []byte("answer 42\r\n")))
	fmt.Println(bytes.Contains(out.Bytes(), []byte("on a tty\r\n")))
	fmt.Println(errors.As(err, &ee), ee.ExitCode())
	// Output:
	// true
	// true
	// true 3
}
