package redisstore_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	tollgate "github.com/tollgate/tollgate/bindings/go"
	"github.com/tollgate/tollgate/bindings/go/redisstore"
)

// A redis-server for the tests, started as tests/redis/harness.rs starts it for the Rust tests:
// on 127.0.0.1, a free port, persistence off, in a directory of its own; stopped when the test
// ends. Without redis-server the test fails, unless TOLLGATE_SKIP_PROXY_TESTS=1 (then it skips).
type redisServer struct {
	t    testing.TB
	port int
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

func startRedis(t testing.TB) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("TOLLGATE_SKIP_PROXY_TESTS") == "1" {
			t.Skip("skipped: redis-server is not installed")
		}
		t.Fatal("redis-server is not installed: run .ci/run (apt-get install redis-server), or set " +
			"TOLLGATE_SKIP_PROXY_TESTS=1 to skip the tests that need it")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	r := &redisServer{t: t, port: port, dir: t.TempDir()}
	r.restart()
	t.Cleanup(r.stop)
	return r
}

// restart starts the server (again) on the same port, empty.
func (r *redisServer) restart() {
	r.t.Helper()
	r.stop()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir)
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", r.addr(), 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-done:
			r.t.Fatalf("redis-server exited early: %v", cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			r.t.Fatalf("redis-server did not start on %s", r.addr())
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.cmd, r.done = cmd, done
}

// stop stops the server: SIGTERM, then SIGKILL after 5 s.
func (r *redisServer) stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	r.cmd = nil
}

func (r *redisServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }
func (r *redisServer) url() string  { return "redis://" + r.addr() }

// do runs one command on a connection of the test's own.
func (r *redisServer) do(cmd string, args ...interface{}) interface{} {
	r.t.Helper()
	c, err := redis.DialURL(r.url(), redis.DialConnectTimeout(5*time.Second),
		redis.DialReadTimeout(5*time.Second), redis.DialWriteTimeout(5*time.Second))
	if err != nil {
		r.t.Fatal(err)
	}
	defer c.Close()
	reply, err := c.Do(cmd, args...)
	if err != nil {
		r.t.Fatalf("%s: %v", cmd, err)
	}
	return reply
}

func newStore(t testing.TB, url string, timeout time.Duration) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(url, timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// putUndated writes records without their expiry: the tables run at a fixed time long before
// the real clock Redis expires keys by, so a record still valid at the table's time may be past
// its expiry in Redis's eyes.
func putUndated(t testing.TB, s *redisstore.Store, records []tollgate.StoredRecord) {
	t.Helper()
	undated := make([]tollgate.StoredRecord, len(records))
	for i, r := range records {
		undated[i] = tollgate.StoredRecord{Key: r.Key, Value: r.Value}
	}
	if err := s.Put(undated...); err != nil {
		t.Fatal(err)
	}
}

// The four example deployments' tables (examples/<deployment>/scenarios.json), loaded as the
// binding's scenarios_test.go loads them.

var deployments = []string{"project-oidc", "service-accounts", "tenant-path", "workspace-api"}

const examplesDir = "../../../examples"

type scenarioCase struct {
	Name    string
	Method  string
	Path    string
	Headers [][2]string
	Expect  map[string]json.RawMessage
}

func (c scenarioCase) status() int {
	var s int
	_ = json.Unmarshal(c.Expect["status"], &s)
	return s
}

func (c scenarioCase) str(field string) string {
	var s string
	_ = json.Unmarshal(c.Expect[field], &s)
	return s
}

type deployment struct {
	Name     string
	Policy   []byte
	Snapshot []byte
	Now      time.Time
	Cases    []scenarioCase
}

func (d *deployment) find(name string) (scenarioCase, bool) {
	for _, c := range d.Cases {
		if c.Name == name {
			return c, true
		}
	}
	return scenarioCase{}, false
}

var placeholder = regexp.MustCompile(`\{\{([^{}]*)\}\}`)

func loadDeployment(name string) (*deployment, error) {
	dir := filepath.Join(examplesDir, name)
	read := func(file string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, file)) }
	var table struct {
		Now    int64             `json:"now"`
		Tokens map[string]string `json:"tokens"`
		Cases  []struct {
			Name    string `json:"name"`
			Request struct {
				Method  string      `json:"method"`
				Path    string      `json:"path"`
				Headers [][2]string `json:"headers"`
			} `json:"request"`
			Expect map[string]json.RawMessage `json:"expect"`
		} `json:"cases"`
	}
	raw, err := read("scenarios.json")
	if err == nil {
		err = json.Unmarshal(raw, &table)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: scenarios.json: %w", name, err)
	}
	d := &deployment{Name: name, Now: time.Unix(table.Now, 0)}
	if d.Policy, err = read("policy.json"); err != nil {
		return nil, err
	}
	if d.Snapshot, err = read("snapshot.json"); err != nil {
		return nil, err
	}
	for _, c := range table.Cases {
		sc := scenarioCase{Name: c.Name, Method: c.Request.Method, Path: c.Request.Path, Expect: c.Expect}
		for _, h := range c.Request.Headers {
			value := placeholder.ReplaceAllStringFunc(h[1], func(m string) string {
				if tok, ok := table.Tokens[m[2:len(m)-2]]; ok {
					return tok
				}
				return m
			})
			sc.Headers = append(sc.Headers, [2]string{h[0], value})
		}
		d.Cases = append(d.Cases, sc)
	}
	if len(d.Cases) == 0 {
		return nil, fmt.Errorf("%s: no cases", name)
	}
	return d, nil
}

func mustLoad(t testing.TB, name string) *deployment {
	t.Helper()
	d, err := loadDeployment(name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// storePolicy is policy with "records": "store" on every provider and the top-level members of
// extra (JSON) set; the providers' own members are kept as written.
func storePolicy(policy []byte, extra map[string]string) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(policy, &doc); err != nil {
		return nil, err
	}
	var providers []json.RawMessage
	if err := json.Unmarshal(doc["providers"], &providers); err != nil {
		return nil, err
	}
	for i, p := range providers {
		providers[i] = json.RawMessage(`{"records": "store", ` + strings.TrimPrefix(strings.TrimSpace(string(p)), "{"))
	}
	raw, err := json.Marshal(providers)
	if err != nil {
		return nil, err
	}
	doc["providers"] = raw
	for k, v := range extra {
		doc[k] = json.RawMessage(v)
	}
	return json.Marshal(doc)
}

// storeEngine is d's engine with its records in the store: every provider "records": "store",
// the snapshot without its records (RecordsFromSnapshot); and the records.
func storeEngine(d *deployment, extra map[string]string) (*tollgate.Engine, []tollgate.StoredRecord, error) {
	rest, records, err := tollgate.RecordsFromSnapshot(d.Snapshot)
	if err != nil {
		return nil, nil, err
	}
	policy, err := storePolicy(d.Policy, extra)
	if err != nil {
		return nil, nil, err
	}
	e, err := tollgate.NewEngine(policy)
	if err != nil {
		return nil, nil, err
	}
	if err := e.SwapKeys(rest); err != nil {
		e.Close()
		return nil, nil, err
	}
	return e, records, nil
}

func mustStoreEngine(t testing.TB, d *deployment, extra map[string]string) (*tollgate.Engine, []tollgate.StoredRecord) {
	t.Helper()
	e, records, err := storeEngine(d, extra)
	if err != nil {
		t.Fatalf("%s: %v", d.Name, err)
	}
	t.Cleanup(func() { e.Close() })
	return e, records
}

// plainEngine is d's engine on its whole snapshot, records included.
func plainEngine(t testing.TB, d *deployment) *tollgate.Engine {
	t.Helper()
	e, err := tollgate.NewEngine(d.Policy)
	if err == nil {
		err = e.SwapKeys(d.Snapshot)
	}
	if err != nil {
		t.Fatalf("%s: %v", d.Name, err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// mismatches compares a decision with a case's expectation: status and reason always, the other
// fields when the table names them.
func mismatches(d tollgate.Decision, c scenarioCase) []string {
	var why []string
	if d.Status != c.status() {
		why = append(why, fmt.Sprintf("status %d, want %d", d.Status, c.status()))
	}
	for field, got := range map[string]string{"reason": d.Reason, "subject": d.Subject, "kind": d.Kind,
		"tenant": d.Tenant, "www_authenticate": d.WWWAuthenticate, "correlation_id": d.CorrelationID} {
		if _, ok := c.Expect[field]; ok && c.str(field) != got {
			why = append(why, fmt.Sprintf("%s %q, want %q", field, got, c.str(field)))
		}
	}
	if raw, ok := c.Expect["roles"]; ok {
		var want []string
		_ = json.Unmarshal(raw, &want)
		if strings.Join(want, ",") != strings.Join(d.Roles, ",") {
			why = append(why, fmt.Sprintf("roles %v, want %v", d.Roles, want))
		}
	}
	if raw, ok := c.Expect["forward_headers"]; ok {
		var want map[string]string
		_ = json.Unmarshal(raw, &want)
		got := map[string]string{}
		for _, h := range d.ForwardHeaders {
			got[h[0]] = h[1]
		}
		same := len(got) == len(want) && len(d.ForwardHeaders) == len(want)
		for k, v := range want {
			same = same && got[k] == v
		}
		if !same {
			why = append(why, fmt.Sprintf("forward_headers %v, want %v", d.ForwardHeaders, want))
		}
	}
	return why
}

// userKey is the store key of subject's user record.
func userKey(subject string) string {
	sum := sha256.Sum256([]byte(subject))
	return "tollgate:user:" + hex.EncodeToString(sum[:])
}

// bearer is the credential of a case's Authorization header ("" for none).
func bearer(c scenarioCase) string {
	for _, h := range c.Headers {
		if strings.EqualFold(h[0], "Authorization") && strings.HasPrefix(h[1], "Bearer ") {
			return strings.TrimPrefix(h[1], "Bearer ")
		}
	}
	return ""
}

// A host process: this test binary run again as a gateway host (TestMain sees hostEnv), with a
// store engine for one deployment following the store's invalidations. It answers one JSON
// request per line on stdin with one JSON line on stdout.

const (
	hostEnv      = "TOLLGATE_REDISSTORE_TEST_HOST" // the deployment
	hostURLEnv   = "TOLLGATE_REDISSTORE_TEST_URL"
	webhookKey   = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	hostDeadline = 10 * time.Second
)

type hostRequest struct {
	Op      string                  `json:"op"`             // check, revoke, put, webhook
	Case    string                  `json:"case,omitempty"` // check: the table's case
	Key     string                  `json:"key,omitempty"`  // revoke: the API key
	Records []tollgate.StoredRecord `json:"records,omitempty"`
	Header  map[string][]string     `json:"header,omitempty"` // webhook
	Body    string                  `json:"body,omitempty"`
	Now     int64                   `json:"now,omitempty"`
}

type hostReply struct {
	Status int    `json:"status,omitempty"`
	Reason string `json:"reason,omitempty"`
	ID     string `json:"id,omitempty"`
	Error  string `json:"error,omitempty"` // the *tollgate.Error's code, or the message
}

// signalReady passes invalidations on to the engine and closes ready at the first "*" (the
// subscription is up).
type signalReady struct {
	engine *tollgate.Engine
	once   sync.Once
	ready  chan struct{}
}

func (s *signalReady) Invalidate(key string) error {
	err := s.engine.Invalidate(key)
	if key == "*" {
		s.once.Do(func() { close(s.ready) })
	}
	return err
}

func errorCode(err error) string {
	if err == nil {
		return ""
	}
	var te *tollgate.Error
	if asTollgateError(err, &te) {
		return te.Code
	}
	return err.Error()
}

// runHost is the host process's main: 0 when stdin ends.
func runHost(name, url string) int {
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "host %s: %v\n", name, err)
		return 1
	}
	d, err := loadDeployment(name)
	if err != nil {
		return fail(err)
	}
	engine, _, err := storeEngine(d, nil)
	if err != nil {
		return fail(err)
	}
	defer engine.Close()
	store, err := redisstore.New(url, 2*time.Second)
	if err != nil {
		return fail(err)
	}
	defer store.Close()
	verifier, err := tollgate.NewWebhookVerifier(tollgate.WebhookConfig{Keys: []string{webhookKey}})
	if err != nil {
		return fail(err)
	}
	defer verifier.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := &signalReady{engine: engine, ready: make(chan struct{})}
	go store.FollowInvalidations(ctx, ready)
	select {
	case <-ready.ready:
	case <-time.After(hostDeadline):
		return fail(fmt.Errorf("no subscription after %v", hostDeadline))
	}
	out := json.NewEncoder(os.Stdout)
	if err := out.Encode(hostReply{Status: 200, Reason: "ready"}); err != nil {
		return fail(err)
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(nil, 1<<20)
	for in.Scan() {
		var req hostRequest
		var reply hostReply
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			return fail(err)
		}
		switch req.Op {
		case "check":
			c, ok := d.find(req.Case)
			if !ok {
				return fail(fmt.Errorf("no case %q", req.Case))
			}
			dec, err := engine.CheckWithStore(ctx, c.Method, c.Path, c.Headers, store, d.Now)
			reply = hostReply{Status: dec.Status, Reason: dec.Reason, Error: errorCode(err)}
		case "revoke":
			id, err := store.RevokeAPIKey(req.Key, nil)
			reply = hostReply{ID: id, Error: errorCode(err)}
		case "put":
			reply = hostReply{Error: errorCode(store.Put(req.Records...))}
		case "webhook":
			err := store.ClaimWebhook(verifier, req.Header, []byte(req.Body), time.Unix(req.Now, 0), 0)
			reply = hostReply{Error: errorCode(err)}
		default:
			return fail(fmt.Errorf("unknown op %q", req.Op))
		}
		if err := out.Encode(reply); err != nil {
			return fail(err)
		}
	}
	return 0
}

// host is a running host process, as the test drives it.
type host struct {
	t     testing.TB
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

func startHost(t testing.TB, label, deploymentName, url string) *host {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), hostEnv+"="+deploymentName, hostURLEnv+"="+url)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &host{t: t, name: label, cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("host %s: %v", label, err)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("host %s did not exit", label)
		}
	})
	if r := h.read(); r.Reason != "ready" {
		t.Fatalf("host %s: %+v", label, r)
	}
	return h
}

func (h *host) read() hostReply {
	h.t.Helper()
	if !h.out.Scan() {
		h.t.Fatalf("host %s ended: %v", h.name, h.out.Err())
	}
	var r hostReply
	if err := json.Unmarshal(h.out.Bytes(), &r); err != nil {
		h.t.Fatalf("host %s: %q: %v", h.name, h.out.Text(), err)
	}
	return r
}

func (h *host) ask(req hostRequest) hostReply {
	h.t.Helper()
	line, err := json.Marshal(req)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.stdin.Write(append(line, '\n')); err != nil {
		h.t.Fatalf("host %s: %v", h.name, err)
	}
	return h.read()
}

func (h *host) check(c scenarioCase) hostReply {
	h.t.Helper()
	r := h.ask(hostRequest{Op: "check", Case: c.Name})
	if r.Error != "" {
		h.t.Fatalf("host %s: %s: %s", h.name, c.Name, r.Error)
	}
	return r
}

// untilAll asks c of every host until each answers status: how long that took (at most 5 s).
func untilAll(t testing.TB, hosts []*host, c scenarioCase, status int) time.Duration {
	t.Helper()
	started := time.Now()
	for _, h := range hosts {
		for h.check(c).Status != status {
			if time.Since(started) > 5*time.Second {
				t.Fatalf("%s: host %s still not %d after 5 s", c.Name, h.name, status)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	return time.Since(started)
}
