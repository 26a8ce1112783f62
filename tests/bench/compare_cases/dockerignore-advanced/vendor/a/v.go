vendor/a/v.go
