//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/pidfd/spawn"
	"golang.org/x/sys/unix"
)

// treeRun skips where this process may not create cgroups.
func needGroup(t *testing.T) {
	t.Helper()
	g, err := spawn.NewGroup(nil, "", nil)
	if err != nil {
		t.Skipf("-tree needs a writable cgroup v2 (root, or a delegated subtree): %v", err)
	}
	g.Close()
}

// TestTreeKillsLeftovers: when PROG exits, what it left in the tree (here a
// setsid'd sleep) is killed and the group removed; -json counts them.
func TestTreeKillsLeftovers(t *testing.T) {
	needSh(t)
	needGroup(t)
	is := is.New(t)
	report := filepath.Join(t.TempDir(), "r.json")
	cmd := exec.Command(spawnBin, "-tree", "-json", "-o", report, "--",
		"sh", "-c", `setsid sleep 1000 & echo $!; sleep 1000 & read x; exit 0`)
	in, err := cmd.StdinPipe()
	is.NoErr(err)
	out, err := cmd.StdoutPipe()
	is.NoErr(err)
	is.NoErr(cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	is.NoErr(err) // the shell reports the setsid child
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	is.NoErr(err)
	p, err := spawn.OpenProcess(pid)
	is.NoErr(err) // a pidfd on the leftover-to-be
	defer p.Release()
	in.Close() // the shell reads EOF and exits
	is.NoErr(cmd.Wait())

	fds := []unix.PollFd{{Fd: int32(p.Fd()), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, int(slow.Milliseconds()))
	is.NoErr(err)
	is.Equal(n, 1) // the setsid child is gone

	b, err := os.ReadFile(report)
	is.NoErr(err)
	var rep treeJSON
	is.NoErr(json.Unmarshal(b, &rep))
	is.True(rep.Tree != nil)              // the tree's figures
	is.Equal(rep.Tree.LeftoversKilled, 2) // both sleeps were left
	is.True(rep.Tree.CPUSeconds > 0)      // CPU time of the tree
	_, err = os.Stat(rep.Tree.Cgroup)
	is.True(errors.Is(err, os.ErrNotExist)) // the group is removed
}

// TestTreeTimeout: -timeout ends the whole tree.
func TestTreeTimeout(t *testing.T) {
	needSh(t)
	needGroup(t)
	is := is.New(t)
	start := time.Now()
	code, _, stderr := spawnRun(t, "-tree", "-timeout", "200ms", "-grace", "200ms", "-json", "--",
		"sh", "-c", "trap '' TERM; sleep 1000 & sleep 1000; wait")
	is.True(time.Since(start) < slow) // not the sleeps' 1000 s
	var rep treeJSON
	is.NoErr(json.Unmarshal([]byte(stderr), &rep))
	is.True(rep.TimedOut)        // -timeout expired
	is.Equal(code, exitTimedOut) // as for a single child
	is.Equal(rep.SignalNum, 9)   // the shell ignored SIGTERM: SIGKILL after -grace
	is.True(rep.Tree != nil)     // tree figures
	_, err := os.Stat(rep.Tree.Cgroup)
	is.True(errors.Is(err, os.ErrNotExist)) // removed
}

// TestTreeUsage: the -tree flags need -tree and sane values.
func TestTreeUsage(t *testing.T) {
	is := is.New(t)
	code, _, stderr := spawnRun(t, "-pids-max", "3", "--", "true")
	is.Equal(code, 2)                                          // bad usage
	is.True(strings.Contains(stderr, "-pids-max needs -tree")) // says which flag
	code, _, stderr = spawnRun(t, "-tree", "-memory-max", "lots", "--", "true")
	is.Equal(code, 2)
	is.True(strings.Contains(stderr, "-memory-max"))
	for in, want := range map[string]int64{"4096": 4096, "64M": 64 << 20, "1.5G": 3 << 29, "2KiB": 2048} {
		got, err := parseSize(in)
		is.NoErr(err)
		is.Equal(got, want)
	}
}

// TestTreeLimitRefused: where the memory controller is not delegated, the
// tree does not start and the error says why.
func TestTreeLimitRefused(t *testing.T) {
	needGroup(t)
	is := is.New(t)
	code, _, stderr := spawnRun(t, "-tree", "-memory-max", "64M", "--", "true")
	if code == 0 {
		t.Skip("the memory controller is delegated here: nothing to refuse")
	}
	is.Equal(code, 125)                                    // spawn failed
	is.True(strings.Contains(stderr, "Delegate=yes"))      // with the fix
	is.True(strings.Contains(stderr, "memory controller")) // naming the controller
}
