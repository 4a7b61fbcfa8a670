//go:build linux && !(amd64 || arm64)

package spawn

import "testing"

// withClonePath skips: the clone(2) path belongs to the Clone3 trampoline,
// which exists on amd64 and arm64 only.
func withClonePath(t *testing.T) {
	t.Skip("the clone(2) path is the Clone3 trampoline's (amd64, arm64)")
}
