module github.com/pidfd/spawn/ci/bench/report

go 1.22
