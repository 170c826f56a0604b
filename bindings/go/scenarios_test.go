package tollgate_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	tollgate "github.com/tollgate/tollgate/bindings/go"
)

// The four example deployments; their tables (examples/<deployment>/scenarios.json, format in
// core/src/scenario.rs) are replayed as tests/c/scenarios.c replays them.
var deployments = []string{"project-oidc", "service-accounts", "tenant-path", "workspace-api"}

const examplesDir = "../../examples"

// summary collects the per-table counts TestMain prints after the run (visible without -v).
var summary struct {
	sync.Mutex
	lines map[string]string
}

func report(key, line string) {
	summary.Lock()
	defer summary.Unlock()
	if summary.lines == nil {
		summary.lines = map[string]string{}
	}
	summary.lines[key] = line
}

func TestMain(m *testing.M) {
	code := m.Run()
	keys := make([]string, 0, len(summary.lines))
	for k := range summary.lines {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Println(summary.lines[k])
	}
	os.Exit(code)
}

type scenarioCase struct {
	Name    string
	Method  string
	Path    string
	Headers [][2]string
	Expect  map[string]json.RawMessage
}

type deployment struct {
	Name     string
	Policy   []byte
	Snapshot []byte
	Now      time.Time
	Cases    []scenarioCase
}

var placeholder = regexp.MustCompile(`\{\{([^{}]*)\}\}`)

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadDeployment(t testing.TB, name string) *deployment {
	t.Helper()
	dir := filepath.Join(examplesDir, name)
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
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, "scenarios.json")), &table); err != nil {
		t.Fatalf("%s: scenarios.json: %v", name, err)
	}
	d := &deployment{
		Name:     name,
		Policy:   readFile(t, filepath.Join(dir, "policy.json")),
		Snapshot: readFile(t, filepath.Join(dir, "snapshot.json")),
		Now:      time.Unix(table.Now, 0),
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
		t.Fatalf("%s: no cases", name)
	}
	return d
}

func newEngine(t testing.TB, d *deployment) *tollgate.Engine {
	t.Helper()
	e, err := tollgate.NewEngine(d.Policy)
	if err != nil {
		t.Fatalf("%s: NewEngine: %v", d.Name, err)
	}
	if err := e.SwapKeys(d.Snapshot); err != nil {
		t.Fatalf("%s: SwapKeys: %v", d.Name, err)
	}
	return e
}

// mismatches compares a decision with a case's expectation: status and reason always, the other
// fields when the table names them (as core/src/scenario.rs's Expect::check does).
func mismatches(d tollgate.Decision, expect map[string]json.RawMessage) []string {
	var why []string
	differ := func(what string, want, got any) {
		why = append(why, fmt.Sprintf("%s: expected %v, got %v", what, want, got))
	}
	var status int
	_ = json.Unmarshal(expect["status"], &status)
	if d.Status != status {
		differ("status", status, d.Status)
	}
	if tollgate.ErrorName(d.Code) != d.Reason {
		differ("reason number", d.Reason, tollgate.ErrorName(d.Code))
	}
	strs := map[string]string{
		"reason": d.Reason, "subject": d.Subject, "kind": d.Kind, "tenant": d.Tenant,
		"www_authenticate": d.WWWAuthenticate, "correlation_id": d.CorrelationID,
		"refresh_kid": d.RefreshKid,
	}
	for field, got := range strs {
		raw, ok := expect[field]
		if !ok {
			continue
		}
		var want string
		if err := json.Unmarshal(raw, &want); err != nil || want != got {
			differ(field, string(raw), fmt.Sprintf("%q", got))
		}
	}
	if raw, ok := expect["roles"]; ok {
		var want []string
		_ = json.Unmarshal(raw, &want)
		if strings.Join(want, "\x00") != strings.Join(d.Roles, "\x00") || len(want) != len(d.Roles) {
			differ("roles", want, d.Roles)
		}
	}
	if raw, ok := expect["forward_headers"]; ok {
		var want map[string]string
		_ = json.Unmarshal(raw, &want)
		got := map[string]string{}
		for _, h := range d.ForwardHeaders {
			got[h[0]] = h[1]
		}
		same := len(want) == len(d.ForwardHeaders) && len(got) == len(want)
		for k, v := range want {
			same = same && got[k] == v
		}
		if !same {
			differ("forward_headers", want, d.ForwardHeaders)
		}
	}
	if d.Authenticated != (d.Kind != "") {
		differ("authenticated", d.Kind != "", d.Authenticated)
	}
	return why
}

// httpRequest turns a case into the *http.Request a net/http server would hand a handler.
func httpRequest(c scenarioCase) *http.Request {
	r := httptest.NewRequest(c.Method, c.Path, nil)
	r.Host = "" // the tables send no Host
	for _, h := range c.Headers {
		r.Header.Add(h[0], h[1])
	}
	return r
}

// TestScenarios replays every case of the four tables through CheckRequest (headers as ordered
// pairs) and Check (an *http.Request, headers in an http.Header map).
func TestScenarios(t *testing.T) {
	total, agreeing := 0, 0
	for i, name := range deployments {
		d := loadDeployment(t, name)
		e := newEngine(t, d)
		agree := 0
		t.Run(name, func(t *testing.T) {
			for _, c := range d.Cases {
				got, err := e.CheckRequest(c.Method, c.Path, c.Headers, d.Now)
				if err != nil {
					t.Errorf("%s / %s: CheckRequest: %v", name, c.Name, err)
					continue
				}
				why := mismatches(got, c.Expect)
				viaHTTP, err := e.Check(httpRequest(c), d.Now)
				if err != nil {
					why = append(why, "Check: "+err.Error())
				} else if w := mismatches(viaHTTP, c.Expect); len(w) > 0 {
					why = append(why, "via *http.Request: "+strings.Join(w, "; "))
				}
				if len(why) > 0 {
					t.Errorf("%s / %s: %s", name, c.Name, strings.Join(why, "; "))
					continue
				}
				agree++
			}
		})
		total += len(d.Cases)
		agreeing += agree
		report(fmt.Sprintf("1 scenario %d", i), fmt.Sprintf("scenarios %-18s %3d of %3d cases agree", name, agree, len(d.Cases)))
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
	report("1 scenario z", fmt.Sprintf("scenarios %-18s %3d of %3d cases agree", "all four", agreeing, total))
}

// TestConcurrentChecksAndSwaps shares one engine per deployment between 8 goroutines replaying
// the table while another keeps swapping the same keys in (run it with -race).
func TestConcurrentChecksAndSwaps(t *testing.T) {
	for _, name := range deployments {
		d := loadDeployment(t, name)
		e := newEngine(t, d)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		swapped := 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := e.SwapKeys(d.Snapshot); err != nil {
					t.Errorf("%s: SwapKeys: %v", name, err)
					return
				}
				swapped++
				time.Sleep(time.Millisecond)
			}
		}()
		var checkers sync.WaitGroup
		for g := 0; g < 8; g++ {
			checkers.Add(1)
			go func(g int) {
				defer checkers.Done()
				for round := 0; round < 5; round++ {
					for i, c := range d.Cases {
						var got tollgate.Decision
						var err error
						if (i+g+round)%2 == 0 {
							got, err = e.CheckRequest(c.Method, c.Path, c.Headers, d.Now)
						} else {
							got, err = e.Check(httpRequest(c), d.Now)
						}
						if err != nil {
							t.Errorf("%s / %s: %v", name, c.Name, err)
							return
						}
						if why := mismatches(got, c.Expect); len(why) > 0 {
							t.Errorf("%s / %s (goroutine %d): %s", name, c.Name, g, strings.Join(why, "; "))
							return
						}
					}
				}
			}(g)
		}
		checkers.Wait()
		close(stop)
		wg.Wait()
		if swapped == 0 {
			t.Errorf("%s: no swap ran", name)
		}
		e.Close()
	}
}

// TestCloseWhileChecking closes an engine while goroutines use it: every call either decides or
// fails with ErrNullParameter; nothing crashes.
func TestCloseWhileChecking(t *testing.T) {
	d := loadDeployment(t, "tenant-path")
	e := newEngine(t, d)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000000; i++ { // until Close
				c := d.Cases[i%len(d.Cases)]
				if _, err := e.CheckRequest(c.Method, c.Path, c.Headers, d.Now); err != nil {
					var te *tollgate.Error
					if !asError(err, &te) || te.Code != "null_parameter" {
						t.Errorf("after Close: %v", err)
					}
					return
				}
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	e.Close()
	wg.Wait()
	e.Close() // idempotent
}
