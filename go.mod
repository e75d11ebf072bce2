module github.com/sparknet/sparknet

go 1.26
