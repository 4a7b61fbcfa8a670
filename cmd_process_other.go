//go:build !linux

package spawn

func (p *Process) waitExited() error { return errOS() }
