module github.com/pidfd/spawn

go 1.24.0

require (
	github.com/matryer/is v1.4.1
	golang.org/x/sys v0.41.0
)
