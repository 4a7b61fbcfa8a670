//go:build !linux

package spawn

import (
	"context"
	"syscall"
	"time"
)

// Limits bounds the resources of a Group's tree (cgroup v2). It needs Linux.
type Limits struct {
	MemoryMax  int64   // bytes (memory.max)
	MemoryHigh int64   // bytes (memory.high)
	PidsMax    int     // pids.max
	CPUMax     float64 // CPUs (cpu.max)
	CPUWeight  int     // cpu.weight, 1..10000
}

// GroupStats is what the kernel counts for a Group's tree. It needs Linux.
type GroupStats struct {
	CPUUsage, CPUUser, CPUSystem time.Duration // cpu.stat usage, user, system
	CPUThrottled                 time.Duration // cpu.stat throttled_usec
	MemoryCurrent, MemoryPeak    int64         // memory.current, memory.peak
	PidsCurrent, PidsPeak        int64         // pids.current, pids.peak
	OOMEvents, OOMKills          int64         // memory.events oom, oom_kill
	Frozen, Populated            bool          // cgroup.events
}

// Group is a process tree in a cgroup v2 directory. It needs Linux.
type Group struct{}

// NewGroup creates a Group. It needs Linux (cgroup v2).
func NewGroup(parent *Cgroup, name string, lim *Limits) (*Group, error) { return nil, errOS() }

// Cgroup returns nil.
func (g *Group) Cgroup() *Cgroup { return nil }

// Spawn starts a process inside the group. It needs Linux.
func (g *Group) Spawn(path string, argv []string, attr *Attr) (*Process, error) {
	return nil, errOS()
}

// Command returns a Cmd whose Start fails: Group needs Linux.
func (g *Group) Command(name string, arg ...string) *Cmd {
	c := Command(name, arg...)
	c.group = g
	return c
}

// CommandContext returns a Cmd whose Start fails: Group needs Linux.
func (g *Group) CommandContext(ctx context.Context, name string, arg ...string) *Cmd {
	c := CommandContext(ctx, name, arg...)
	c.group = g
	c.Cancel = g.Kill
	return c
}

// Pids lists the tree's processes. It needs Linux.
func (g *Group) Pids() ([]int, error) { return nil, errOS() }

// Signal signals the tree. It needs Linux.
func (g *Group) Signal(sig syscall.Signal) error { return errOS() }

// Kill kills the tree. It needs Linux.
func (g *Group) Kill() error { return errOS() }

// Freeze freezes the tree. It needs Linux ≥ 5.2.
func (g *Group) Freeze() error { return errOS() }

// Thaw thaws the tree. It needs Linux ≥ 5.2.
func (g *Group) Thaw() error { return errOS() }

// Wait waits until the tree is empty. It needs Linux.
func (g *Group) Wait(ctx context.Context) error { return errOS() }

// Stats measures the tree. It needs Linux.
func (g *Group) Stats() (*GroupStats, error) { return nil, errOS() }

// Close closes the group. It needs Linux.
func (g *Group) Close() error { return errOS() }
