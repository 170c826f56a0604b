module github.com/tollgate/tollgate/bindings/go

go 1.19
