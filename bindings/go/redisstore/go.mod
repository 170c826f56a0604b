module github.com/tollgate/tollgate/bindings/go/redisstore

go 1.19

require (
	github.com/gomodule/redigo v1.8.3
	github.com/tollgate/tollgate/bindings/go v0.0.0
)

// Both from this machine, nothing downloaded (GOPROXY=off works): the binding in the directory
// above (this is a module of its own so that the binding itself stays dependency-free), and
// redigo from Debian's golang-github-gomodule-redigo-dev
// (apt-get install golang-github-gomodule-redigo-dev), which installs its sources and go.mod
// there. A directory replacement needs no go.sum line and no module cache. redigo's go.mod
// requires testify (for redigo's own tests); go 1.19's lazy module loading never reads it while
// every imported package comes from a module listed here, so go build, vet and test work
// offline, but commands that load the whole module graph (go mod tidy, go list -m all) would try
// to download it: keep this file as it is, by hand.
replace (
	github.com/gomodule/redigo => /usr/share/gocode/src/github.com/gomodule/redigo
	github.com/tollgate/tollgate/bindings/go => ../
)
