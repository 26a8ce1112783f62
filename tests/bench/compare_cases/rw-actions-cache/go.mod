module github.com/tonistiigi/go-actions-cache
