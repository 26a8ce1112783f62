src/pkg/temp/t.go
