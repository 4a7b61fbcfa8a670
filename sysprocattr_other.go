//go:build !linux

package spawn

import "syscall"

type sysProcAttr struct{}

func applySysProcAttr(attr *Attr, s *syscall.SysProcAttr) (*sysProcAttr, error) {
	if s != nil {
		return nil, errOS()
	}
	return nil, nil
}

func (s *sysProcAttr) started(p *Process) error { return nil }
func (s *sysProcAttr) done()                    {}
