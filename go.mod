module github.com/pidfd/spawn

go 1.26.0

require (
	github.com/matryer/is v1.4.1
	golang.org/x/sys v0.50.0
)
