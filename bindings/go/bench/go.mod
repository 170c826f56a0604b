module github.com/tollgate/tollgate/bindings/go/bench

go 1.19

require (
	github.com/golang-jwt/jwt/v4 v4.4.3
	github.com/tollgate/tollgate/bindings/go v0.0.0
)

// Both from this machine, no download: the binding beside this directory, and golang-jwt v4 from
// Debian's golang-github-golang-jwt-jwt-dev (apt-get install golang-github-golang-jwt-jwt-dev).
replace (
	github.com/golang-jwt/jwt/v4 => /usr/share/gocode/src/github.com/golang-jwt/jwt
	github.com/tollgate/tollgate/bindings/go => ../
)
