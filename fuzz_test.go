//go:build linux

package spawn

// FuzzAttr throws arbitrary Attrs (argv, env, dir, a Files layout with
// nil, shared, colliding and closed entries, session and group flags, signal
// sets, limits, the lifecycle flags, the backend) at a harmless program,
// /bin/true. The invariant: Spawn either returns an error and no child, or a
// Process whose Wait succeeds; nothing hangs, no descriptor and no child is
// left behind. Input that validation must refuse (NUL bytes) is EINVAL
// before any child exists.
//
// The seeds (testdata/fuzz/FuzzAttr) run as an ordinary test; fuzz with
//
//	go test -run '^$' -fuzz '^FuzzAttr$' -fuzztime 60s

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/matryer/is"
	"golang.org/x/sys/unix"
)

// Bits of FuzzAttr's flags argument.
const (
	fzSpawnP = 1 << iota
	fzSetsid
	fzSetpgid
	fzInheritFDs
	fzResetIDs
	fzNoNewPrivs
	fzParentEnv
	fzFiles
	fzPdeathsig
	fzRlimitCore
	fzRlimitNofile
	fzAutoReap
	fzAutoKill
	fzPgid
	fzDir
)

// fuzzFiles is the pool a Files layout is drawn from, one byte per entry.
type fuzzFiles struct {
	devnull, r, w, closed *os.File
}

func newFuzzFiles(t *testing.T) *fuzzFiles {
	t.Helper()
	var ff fuzzFiles
	var err error
	if ff.devnull, err = os.OpenFile("/dev/null", os.O_RDWR, 0); err != nil {
		t.Fatal(err)
	}
	if ff.r, ff.w, err = os.Pipe(); err != nil {
		t.Fatal(err)
	}
	if ff.closed, err = os.Open("/dev/null"); err != nil {
		t.Fatal(err)
	}
	ff.closed.Close()
	return &ff
}

func (ff *fuzzFiles) close() {
	ff.devnull.Close()
	ff.r.Close()
	ff.w.Close()
}

// layout turns bytes into a Files slice (at most 16 entries).
func (ff *fuzzFiles) layout(b []byte) (files []*os.File, hasClosed bool) {
	if len(b) > 16 {
		b = b[:16]
	}
	files = []*os.File{}
	for _, c := range b {
		var f *os.File
		switch c % 6 {
		case 1:
			f = os.Stdin
		case 2:
			f = ff.devnull
		case 3:
			f = ff.r
		case 4:
			f = ff.w
		case 5:
			f = ff.closed
			hasClosed = true
		}
		files = append(files, f)
	}
	return files, hasClosed
}

// lines splits s at newlines into at most 64 strings; "" is nil.
func lines(s string) []string {
	if s == "" {
		return nil
	}
	l := strings.Split(s, "\n")
	if len(l) > 64 {
		l = l[:64]
	}
	return l
}

func FuzzAttr(f *testing.F) {
	f.Fuzz(func(t *testing.T, backend uint8, flags uint16, args, env, dir string, files, sigs []byte, num uint16) {
		is := is.New(t)
		before := openFds()
		ff := newFuzzFiles(t)

		attr := &Attr{Backend: Backend(backend % 4)}
		argv := lines(args)
		nul := hasNUL(strings.Join(argv, ""))
		if flags&fzParentEnv == 0 {
			attr.Env = lines(env)
			if attr.Env == nil {
				attr.Env = []string{}
			}
			nul = nul || hasNUL(strings.Join(attr.Env, ""))
		}
		if flags&fzDir != 0 {
			attr.Dir = dir
			nul = nul || hasNUL(dir)
		}
		hasClosed := false
		if flags&fzFiles != 0 {
			attr.Files, hasClosed = ff.layout(files)
		}
		attr.Setsid = flags&fzSetsid != 0
		attr.Setpgid = flags&fzSetpgid != 0
		if flags&fzPgid != 0 {
			attr.Pgid = int(num)
		}
		attr.InheritFDs = flags&fzInheritFDs != 0
		attr.ResetIDs = flags&fzResetIDs != 0
		attr.NoNewPrivs = flags&fzNoNewPrivs != 0
		attr.AutoReap = flags&fzAutoReap != 0
		attr.AutoKill = flags&fzAutoKill != 0
		if len(sigs) > 16 {
			sigs = sigs[:16]
		}
		for _, s := range sigs {
			// High bit: SigDefault; the rest is the signal, valid or not.
			if s&0x80 != 0 {
				attr.SigDefault = append(attr.SigDefault, syscall.Signal(s&0x7f))
			} else {
				attr.SigMask = append(attr.SigMask, syscall.Signal(s))
			}
		}
		if flags&fzPdeathsig != 0 && len(sigs) > 0 {
			attr.Pdeathsig = syscall.Signal(sigs[0] & 0x7f)
		}
		if flags&fzRlimitCore != 0 {
			attr.Rlimits = append(attr.Rlimits, Rlimit{unix.RLIMIT_CORE, 0, 0})
		}
		if flags&fzRlimitNofile != 0 {
			// Anything from 0 (the loader cannot open libc: exit 127)
			// to cur > max (EINVAL in the child).
			attr.Rlimits = append(attr.Rlimits, Rlimit{unix.RLIMIT_NOFILE, uint64(num), uint64(num>>4) + 64})
		}

		var p *Process
		var err error
		if flags&fzSpawnP != 0 {
			p, err = SpawnP("true", argv, attr)
		} else {
			p, err = Spawn("/bin/true", argv, attr)
		}
		if nul {
			is.True(errors.Is(err, syscall.EINVAL)) // a NUL byte is refused before any child
		}
		is.True(err != nil || !hasClosed) // a closed *os.File in Files is refused (EBADF, or an earlier error)
		if err != nil {
			is.True(p == nil) // an error comes with no child
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			st, werr := p.WaitContext(ctx)
			cancel()
			if werr != nil {
				p.Kill()
				p.Wait()
			}
			p.Release()
			is.NoErr(werr)     // a spawned /bin/true ends and is reaped, within 10s
			is.True(st != nil) // with a status
		}
		ff.close()
		is.True(noChild()) // nothing left to reap
		var leaked []string
		for fd, target := range openFds() {
			if _, ok := before[fd]; !ok && !strings.HasPrefix(target, "/proc/") {
				leaked = append(leaked, fmt.Sprintf("%d -> %s", fd, target))
			}
		}
		is.Equal(leaked, []string(nil)) // no descriptor leaked
	})
}
