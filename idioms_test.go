//go:build linux

package spawn_test

// Code written for os/exec, with the import changed and nothing else: it must
// compile and behave as it does with os/exec.

import (
	"errors"
	"os"
	osexec "os/exec"
	"syscall"
	"testing"

	"github.com/matryer/is"
	exec "github.com/pidfd/spawn"
)

// signalProcess is shared code that takes an *os.Process.
func signalProcess(p *os.Process, sig os.Signal) error { return p.Signal(sig) }

// failed is shared code that matches os/exec's error type.
func failed(err error) (int, bool) {
	var ee *osexec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), true
	}
	return 0, false
}

func TestOSExecIdioms(t *testing.T) {
	is := is.New(t)
	cmd := exec.Command("sleep", "60")
	is.NoErr(cmd.Start())
	endCmdOnCleanup(t, cmd)
	var pid int = cmd.Process.Pid // a field, as in os
	is.True(pid > 0)
	is.NoErr(cmd.Process.Signal(os.Interrupt)) // an os.Signal
	err := cmd.Wait()
	var exitErr *exec.ExitError
	is.True(errors.As(err, &exitErr))                             // a non-zero exit is an *ExitError
	var ps *os.ProcessState = exitErr.ProcessState                // the embedded field's name and type
	is.Equal(ps, cmd.ProcessState)                                // the Cmd's state
	ws := exitErr.Sys().(syscall.WaitStatus)                      // Sys as os gives it
	is.Equal(ws.Signal(), syscall.SIGINT)                         // the signal sent
	is.True(cmd.ProcessState.SysUsage().(*syscall.Rusage) != nil) // SysUsage as os gives it
	_, ok := failed(err)
	is.True(ok) // errors.As with os/exec's *ExitError matches

	cmd = exec.Command("sleep", "60")
	is.NoErr(cmd.Start())
	endCmdOnCleanup(t, cmd)
	is.NoErr(signalProcess(cmd.Process, os.Kill)) // passed as an *os.Process
	is.Equal(cmd.Wait().Error(), "signal: killed")
	code, ok := failed(exec.Command("sh", "-c", "exit 7").Run())
	is.True(ok)
	is.Equal(code, 7)
}
