//go:build linux

package spawn_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/pidfd/spawn"
)

// A shell that leaves a daemon behind in a session of its own: the group
// kills it with the rest when the context ends, and Close removes the
// cgroup.
func ExampleNewGroup() {
	g, err := spawn.NewGroup(nil, "", nil) // below this process's own cgroup
	if err != nil {
		log.Fatal(err) // needs write access to it: root, or a delegated subtree
	}
	defer g.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	cmd := g.CommandContext(ctx, "sh", "-c", "setsid sleep 1000 & echo started; sleep 1000")
	out, err := cmd.Output() // returns once the context kills the whole tree
	fmt.Printf("%s%v\n", out, err)
	if err := g.Wait(context.Background()); err != nil {
		log.Fatal(err)
	}
	pids, _ := g.Pids()
	fmt.Println("left:", len(pids))
	// Output:
	// started
	// signal: killed
	// left: 0
}

// Limits need their controllers delegated to the parent cgroup; where they
// are not, NewGroup says which one, why and how to get it.
func ExampleLimits() {
	g, err := spawn.NewGroup(nil, "", &spawn.Limits{MemoryMax: 256 << 20, PidsMax: 64, CPUMax: 1.5})
	if err != nil {
		log.Print(err)
		return
	}
	defer g.Close()
	if err := g.Command("make", "-j4").Run(); err != nil {
		log.Print(err)
	}
	if st, err := g.Stats(); err == nil {
		fmt.Printf("CPU %v, peak memory %d bytes, OOM kills %d\n", st.CPUUsage, st.MemoryPeak, st.OOMKills)
	}
}
