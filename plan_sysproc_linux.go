//go:build linux

package spawn

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The os/exec SysProcAttr steps of the child plan: each one system call,
// numbered apart from the steps shared with the C shim's PidfdSpawn
// translation (which never sees them).
const (
	opUsernsWait   opKind = 64 + iota // read(syncR, buf, 1) == 1: the parent wrote the maps (ForkNP: after telling it, stepNotify)
	opKeepCaps                        // prctl(PR_SET_KEEPCAPS, 1)
	opForeground                      // ioctl(Ctty, TIOCSPGRP, &pgrp)
	opUnshare                         // unshare(a)
	opMountPrivate                    // mount("none", "/", NULL, MS_REC|MS_PRIVATE, NULL)
	opChroot                          // chroot(sys.chroot)
	opSetgroups                       // setgroups(len, sys.groups)
	opSetresgid                       // setresgid(a, a, a)
	opSetresuid                       // setresuid(a, a, a)
	opCapset                          // capset(&sys.caps[0], &sys.caps[2])
	opAmbient                         // prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, a)
	opNoctty                          // ioctl(0, TIOCNOTTY)
	opSetctty                         // ioctl(a, TIOCSCTTY, 1)
	opPtrace                          // ptrace(PTRACE_TRACEME)
)

// sysOpNames name these steps in errors (*os.PathError.Op).
var sysOpNames = map[opKind]string{
	opUsernsWait: "read(user namespace maps)", opKeepCaps: "prctl(PR_SET_KEEPCAPS)",
	opForeground: "ioctl(TIOCSPGRP)", opUnshare: "unshare", opMountPrivate: "mount(MS_PRIVATE)",
	opChroot: "chroot", opSetgroups: "setgroups", opSetresgid: "setresgid", opSetresuid: "setresuid",
	opCapset: "capset", opAmbient: "prctl(PR_CAP_AMBIENT_RAISE)", opNoctty: "ioctl(TIOCNOTTY)",
	opSetctty: "ioctl(TIOCSCTTY)", opPtrace: "ptrace(PTRACE_TRACEME)",
}

// stepSelfPid on a raw step asks the C shim's child to store its pid (an
// int32) at the step's third argument before the call: the process group
// that Foreground with Pgid 0 hands to TIOCSPGRP. The Clone3 child gets
// its pid there from the kernel instead (CLONE_CHILD_SETTID).
const stepSelfPid = 1 << 17

// stepNotify on a raw step asks the C shim's child to tell its parent,
// through the report pipe, that it is about to make the call: ForkNP's
// opUsernsWait, once the child has unshared its user namespace. The Clone3
// parent needs no word: its child is in the namespace from the start.
const stepNotify = 1 << 18

// stepOpMask keeps a raw step's plan step kind.
const stepOpMask = 0xffff

var (
	mountNone  = [...]byte{'n', 'o', 'n', 'e', 0}
	mountSlash = [...]byte{'/', 0}
)

// sysPlan is what the SysProcAttr steps point to. It lives in the Go heap
// (objects there do not move) and its plan keeps it alive.
type sysPlan struct {
	tid    int32 // the child's pid, from the kernel (CLONE_CHILD_SETTID) or the shim; 0 once it has executed (CLONE_CHILD_CLEARTID)
	pgrp   int32 // Foreground's group when Pgid is set
	caps   [8]uint32
	buf    [8]byte
	groups []uint32
	chroot []byte

	selfPgrp bool // Foreground with Pgid 0: TIOCSPGRP reads tid
	userns   bool // the parent writes the maps while the child waits (opUsernsWait)
	syncR    int  // the child's end of the maps handshake
}

// addSysFirst adds the steps that come before setsid: the wait for the maps
// of a child created in its user namespace (Clone3; the ForkNP child waits
// after its unshare, see addSysIDs).
func (pl *plan) addSysFirst(attr *Attr) {
	if sysProcField(attr) == "" {
		return
	}
	sp := &sysPlan{syncR: -1, tid: -1}
	pl.sys = sp
	sp.userns = attr.newUser() && (attr.UidMappings != nil || attr.GidMappings != nil)
	if sp.userns && pl.attr.Backend != ForkNP {
		pl.ops = append(pl.ops, op{kind: opUsernsWait})
	}
}

// addSysIDs adds the steps after setpgid: the terminal's foreground group,
// namespaces, chroot, credentials and capabilities.
func (pl *plan) addSysIDs(attr *Attr) error {
	sp := pl.sys
	if sp == nil {
		return nil
	}
	if attr.Foreground {
		sp.pgrp = int32(attr.Pgid)
		sp.selfPgrp = attr.Pgid == 0
		pl.ops = append(pl.ops, op{kind: opForeground, a: int32(attr.Ctty)})
	}
	unshare := attr.Unshareflags
	forked := pl.attr.Backend == ForkNP
	if sp.userns && !forked {
		unshare &^= cloneNewUser // created with the child (cloneNSFlags)
	}
	if forked {
		unshare |= attr.Cloneflags
	}
	if unshare != 0 {
		pl.ops = append(pl.ops, op{kind: opUnshare, b: int64(unshare)})
	}
	if sp.userns && forked {
		// The forked child is in its user namespace from here on: it
		// tells the parent and waits for the maps, before anything that
		// the maps decide (the private mount tree, chroot, credentials).
		pl.ops = append(pl.ops, op{kind: opUsernsWait})
	}
	if attr.Unshareflags&cloneNewNS != 0 {
		pl.ops = append(pl.ops, op{kind: opMountPrivate})
	}
	if attr.Chroot != "" {
		sp.chroot = append([]byte(attr.Chroot), 0)
		pl.ops = append(pl.ops, op{kind: opChroot})
	}
	if len(attr.AmbientCaps) > 0 && attr.Credential != nil {
		// After the unshare: a new user namespace resets the securebits,
		// PR_SET_KEEPCAPS among them.
		pl.ops = append(pl.ops, op{kind: opKeepCaps})
	}
	if c := attr.Credential; c != nil {
		// Where setgroups is denied (user namespace maps without
		// GidMappingsEnableSetgroups), an empty list is no call, as in
		// os/exec.
		denied := attr.GidMappings != nil && !attr.GidMappingsEnableSetgroups
		if !c.NoSetGroups && !(denied && len(c.Groups) == 0) {
			sp.groups = make([]uint32, len(c.Groups))
			copy(sp.groups, c.Groups)
			pl.ops = append(pl.ops, op{kind: opSetgroups})
		}
		pl.ops = append(pl.ops, op{kind: opSetresgid, b: int64(c.Gid)}, op{kind: opSetresuid, b: int64(c.Uid)})
	}
	if len(attr.AmbientCaps) > 0 {
		// The parent's sets, with each ambient capability added to the
		// permitted and inheritable ones; a credential change to a
		// non-zero uid has cleared the effective set.
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			return os.NewSyscallError("capget", err)
		}
		for _, c := range attr.AmbientCaps {
			data[c/32].Permitted |= 1 << (c % 32)
			data[c/32].Inheritable |= 1 << (c % 32)
		}
		if attr.Credential != nil && attr.Credential.Uid != 0 {
			data[0].Effective, data[1].Effective = 0, 0
		}
		sp.caps = [8]uint32{hdr.Version, 0,
			data[0].Effective, data[0].Permitted, data[0].Inheritable,
			data[1].Effective, data[1].Permitted, data[1].Inheritable}
		pl.ops = append(pl.ops, op{kind: opCapset})
		for _, c := range attr.AmbientCaps {
			pl.ops = append(pl.ops, op{kind: opAmbient, b: int64(c)})
		}
	}
	return nil
}

// addSysTerminal adds the steps after the descriptors are laid out.
func (pl *plan) addSysTerminal(attr *Attr) {
	if pl.sys == nil {
		return
	}
	if attr.Noctty {
		pl.ops = append(pl.ops, op{kind: opNoctty})
	}
	if attr.Setctty {
		pl.ops = append(pl.ops, op{kind: opSetctty, a: int32(attr.Ctty)})
	}
}

// addSysLast adds the step just before the signal mask and execve.
func (pl *plan) addSysLast(attr *Attr) {
	if pl.sys != nil && attr.Ptrace {
		pl.ops = append(pl.ops, op{kind: opPtrace})
	}
}

// cloneNSFlags are the namespace flags of the clone itself.
func (pl *plan) cloneNSFlags() uint64 {
	if pl.sys == nil {
		return 0
	}
	f := uint64(pl.attr.Cloneflags)
	if pl.sys.userns && pl.attr.Backend != ForkNP {
		f |= cloneNewUser
	}
	return f
}

// lowerSys lowers one SysProcAttr step.
func (pl *plan) lowerSys(o op, add func(k opKind, nr uintptr, args ...uint64) *rawStep) {
	sp := pl.sys
	ptr := func(p unsafe.Pointer) uint64 { return uint64(uintptr(p)) }
	switch o.kind {
	case opUsernsWait:
		s := add(o.kind, unix.SYS_READ, uint64(sp.syncR), ptr(unsafe.Pointer(&sp.buf[0])), 1)
		s.op |= checkEq
		s.expect = 1
		if pl.attr.Backend == ForkNP {
			s.op |= stepNotify
		}
	case opKeepCaps:
		add(o.kind, unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1, 0, 0, 0)
	case opForeground:
		p := &sp.pgrp
		if sp.selfPgrp {
			p = &sp.tid
		}
		s := add(o.kind, unix.SYS_IOCTL, uint64(o.a), unix.TIOCSPGRP, ptr(unsafe.Pointer(p)))
		if sp.selfPgrp && pl.attr.Backend == ForkNP {
			s.op |= stepSelfPid
		}
	case opUnshare:
		add(o.kind, unix.SYS_UNSHARE, uint64(o.b))
	case opMountPrivate:
		add(o.kind, unix.SYS_MOUNT, ptr(unsafe.Pointer(&mountNone[0])), ptr(unsafe.Pointer(&mountSlash[0])), 0,
			unix.MS_REC|unix.MS_PRIVATE, 0)
	case opChroot:
		add(o.kind, unix.SYS_CHROOT, ptr(unsafe.Pointer(&sp.chroot[0])))
	case opSetgroups:
		var p uint64
		if len(sp.groups) > 0 {
			p = ptr(unsafe.Pointer(&sp.groups[0]))
		}
		add(o.kind, sysSetgroups, uint64(len(sp.groups)), p)
	case opSetresgid:
		add(o.kind, sysSetresgid, uint64(o.b), uint64(o.b), uint64(o.b))
	case opSetresuid:
		add(o.kind, sysSetresuid, uint64(o.b), uint64(o.b), uint64(o.b))
	case opCapset:
		add(o.kind, unix.SYS_CAPSET, ptr(unsafe.Pointer(&sp.caps[0])), ptr(unsafe.Pointer(&sp.caps[2])))
	case opAmbient:
		add(o.kind, unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uint64(o.b), 0, 0)
	case opNoctty:
		add(o.kind, unix.SYS_IOCTL, 0, unix.TIOCNOTTY)
	case opSetctty:
		add(o.kind, unix.SYS_IOCTL, uint64(o.a), unix.TIOCSCTTY, 1)
	case opPtrace:
		add(o.kind, unix.SYS_PTRACE, unix.PTRACE_TRACEME, 0, 0, 0)
	}
}

// sysStepErr names a failed SysProcAttr step, or returns nil for another
// step.
func (pl *plan) sysStepErr(k opKind, errno error) error {
	name, ok := sysOpNames[k]
	if !ok {
		return nil
	}
	path := pl.path
	if k == opChroot {
		path = pl.attr.Chroot
	}
	return &os.PathError{Op: name, Path: path, Err: errno}
}
