//go:build linux && cgo

package spawn

import (
	"errors"
	"os"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/matryer/is"
	"github.com/pidfd/spawn/internal/forktest"
)

// TestNoDescriptorWithoutOwnerFork is TestNoDescriptorWithoutOwner for
// ForkCall and ForkExec called directly, with and without atfork handlers,
// and for their failures before and after the fork: with the garbage
// collector off, no descriptor and no child is left.
func TestNoDescriptorWithoutOwnerFork(t *testing.T) {
	n := 100 // each round forks this large test binary four times
	if testing.Short() || sanitizer() != "" {
		n = 10
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	runtime.GC()
	is := is.New(t)
	arg := forktest.Int(7)
	defer forktest.Free(arg)
	notCgroup, err := os.Open(os.TempDir())
	is.NoErr(err)
	defer notCgroup.Close()

	before := fdCount(t)
	for i := 0; i < n; i++ {
		flags := ForkFlags(0)
		if i%2 == 1 {
			flags = ForkAsyncSafe
		}
		p, err := ForkCall(forktest.Value(), arg, &ForkArgs{Flags: flags})
		is.NoErr(err) // ForkCall
		st, err := p.Wait()
		is.NoErr(err)
		is.True(st.ExitCode()%100 == 7) // fn's result (plus 100 where a test's atfork handler ran)
		p, err = ForkExec("/bin/true", []string{"true"}, nil, &ForkArgs{Flags: flags})
		is.NoErr(err) // ForkExec
		_, err = p.Wait()
		is.NoErr(err)

		_, err = failed(ForkCall(nil, nil, nil))
		is.True(err != nil) // refused before any fork
		_, err = failed(ForkExec("/nonexistent/spawn-test", []string{"x"}, nil, &ForkArgs{Flags: flags}))
		is.True(errors.Is(err, os.ErrNotExist)) // the exec fails in the child
		_, err = failed(ForkCall(forktest.Value(), arg, &ForkArgs{Flags: ForkCgroup | flags, Cgroup: int(notCgroup.Fd())}))
		is.True(err != nil) // the cgroup move fails in the child
	}
	is.Equal(fdCount(t), before) // no descriptor left behind without the GC
	noZombie(t)
	t.Logf("%d rounds, %d descriptors before and after", n, before)
}
