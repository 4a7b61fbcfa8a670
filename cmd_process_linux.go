//go:build linux

package spawn

import "context"

// waitExited parks in the wait set until the process has exited, without
// reaping it: Cmd.Wait then lets os.Process.Wait reap it, which returns at
// once with a real *os.ProcessState.
func (p *Process) waitExited() error {
	return p.control(func(fd int) error {
		if exited(fd) {
			return nil
		}
		if efd, ok := blocks.take(); ok { // as Wait: ppoll while few wait
			err := p.block(context.Background(), fd, efd, func(fd int) (bool, error) { return exited(fd), nil })
			blocks.put(efd)
			return err
		}
		if err := waits.add(&p.h); err != nil {
			return err
		}
		defer waits.remove(&p.h, false)
		for {
			if err := waits.sleep(&p.h); err != nil {
				return err
			}
			if exited(fd) {
				return nil
			}
			if p.h.closed() {
				return ErrReleased
			}
			if err := waits.rearm(&p.h); err != nil {
				return err
			}
		}
	})
}
