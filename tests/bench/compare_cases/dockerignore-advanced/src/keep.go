src/keep.go
