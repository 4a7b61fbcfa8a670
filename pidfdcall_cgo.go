//go:build linux && cgo && (!amd64 || msan || asan)

package spawn

import "github.com/pidfd/spawn/internal/shim"

// pidfdSpawnCall runs the shim's spawn_pidfd_spawn through cgo (see
// pidfdcall_linux_amd64.go for why amd64 does not).
func pidfdSpawnCall(c *pidfdCall) {
	r := shim.PidfdSpawn(c.path, c.dir, c.argv, c.envp, c.ops, int(c.nops), c.mask, int(c.cgroup), c.search != 0)
	c.res = pidfdResult{err: int32(r.Err), where: int32(r.Where), pid: int32(r.Pid), pidfd: int32(r.Pidfd)}
}
