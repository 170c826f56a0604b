package tollgate_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	tollgate "github.com/tollgate/tollgate/bindings/go"
)

// mapStore is an in-memory Store; fail makes every Get fail as an unreachable store would.
type mapStore struct {
	mu      sync.Mutex
	values  map[string][]byte
	fail    error
	lookups int
	block   chan struct{} // when set, Get waits until it is closed
	entered chan struct{} // when set, Get sends on it first
}

func newMapStore(records []tollgate.StoredRecord) *mapStore {
	s := &mapStore{values: map[string][]byte{}}
	for _, r := range records {
		s.values[r.Key] = []byte(r.Value)
	}
	return s
}

func (s *mapStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	s.mu.Lock()
	block, entered := s.block, s.entered
	s.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if block != nil {
		<-block
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lookups++
	if s.fail != nil {
		return nil, false, s.fail
	}
	v, ok := s.values[key]
	return v, ok, nil
}

// storePolicy is policy with "records": "store" on every provider and the top-level members of
// extra (JSON) set; the providers' own members and order are kept as written.
func storePolicy(t testing.TB, policy []byte, extra map[string]string) []byte {
	t.Helper()
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(policy, &doc); err != nil {
		t.Fatal(err)
	}
	var providers []json.RawMessage
	if err := json.Unmarshal(doc["providers"], &providers); err != nil {
		t.Fatal(err)
	}
	for i, p := range providers {
		text := strings.TrimSpace(string(p))
		providers[i] = json.RawMessage(`{"records": "store", ` + strings.TrimPrefix(text, "{"))
	}
	raw, err := json.Marshal(providers)
	if err != nil {
		t.Fatal(err)
	}
	doc["providers"] = raw
	for k, v := range extra {
		doc[k] = json.RawMessage(v)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// storeEngine is d's engine with its records in a store: the policy of storePolicy, the snapshot
// without its records, and the records.
func storeEngine(t testing.TB, d *deployment, extra map[string]string) (*tollgate.Engine, []tollgate.StoredRecord) {
	t.Helper()
	rest, records, err := tollgate.RecordsFromSnapshot(d.Snapshot)
	if err != nil {
		t.Fatalf("%s: RecordsFromSnapshot: %v", d.Name, err)
	}
	e, err := tollgate.NewEngine(storePolicy(t, d.Policy, extra))
	if err != nil {
		t.Fatalf("%s: NewEngine: %v", d.Name, err)
	}
	if err := e.SwapKeys(rest); err != nil {
		t.Fatalf("%s: SwapKeys: %v", d.Name, err)
	}
	return e, records
}

// TestScenariosWithStore replays the four tables with every record in a store: each decision is
// the table's expectation and exactly what the snapshot engine decides, through CheckWithStore,
// CheckHTTPWithStore and the middleware with WithStore.
func TestScenariosWithStore(t *testing.T) {
	for _, name := range deployments {
		d := loadDeployment(t, name)
		plain := newEngine(t, d)
		e, records := storeEngine(t, d, nil)
		store := newMapStore(records)
		for _, c := range d.Cases {
			want, err := plain.CheckRequest(c.Method, c.Path, c.Headers, d.Now)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.CheckWithStore(context.Background(), c.Method, c.Path, c.Headers, store, d.Now)
			if err != nil {
				t.Errorf("%s / %s: CheckWithStore: %v", name, c.Name, err)
				continue
			}
			if why := mismatches(got, c.Expect); len(why) > 0 {
				t.Errorf("%s / %s: %s", name, c.Name, strings.Join(why, "; "))
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s / %s: with the store %+v, with the snapshot %+v", name, c.Name, got, want)
			}
			viaHTTP, err := e.CheckHTTPWithStore(httpRequest(c), store, d.Now)
			if err != nil || !reflect.DeepEqual(viaHTTP, want) {
				t.Errorf("%s / %s: CheckHTTPWithStore: %v %+v", name, c.Name, err, viaHTTP)
			}
		}
		if len(records) > 0 && store.lookups == 0 {
			t.Errorf("%s: no record was read from the store", name)
		}
		t.Logf("%s: %d cases, %d records, %d lookups", name, len(d.Cases), len(records), store.lookups)
		plain.Close()
		e.Close()
	}
}

func TestMiddlewareWithStore(t *testing.T) {
	d := loadDeployment(t, "service-accounts")
	e, records := storeEngine(t, d, nil)
	defer e.Close()
	store := newMapStore(records)
	c := apiKeyCases(d)[0]
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dec, _ := tollgate.FromContext(r.Context())
		fmt.Fprint(w, dec.Subject)
	})
	h := e.Middleware(next, tollgate.WithStore(store), tollgate.WithClock(func() time.Time { return d.Now }))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httpRequest(c))
	if w.Code != 200 || w.Body.String() == "" {
		t.Fatalf("%d %q", w.Code, w.Body.String())
	}
	store.fail = errors.New("down")
	e.Invalidate("*")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httpRequest(c))
	if w.Code != 503 || !strings.Contains(w.Body.String(), "store_unavailable") {
		t.Fatalf("%d %q", w.Code, w.Body.String())
	}
}

// apiKeyCases are a table's allowed cases that carry an API key (service-accounts: fln_live_…).
func apiKeyCases(d *deployment) []scenarioCase {
	var out []scenarioCase
	for _, c := range d.Cases {
		var status int
		_ = json.Unmarshal(c.Expect["status"], &status)
		for _, h := range c.Headers {
			if status == 200 && strings.Contains(h[1], "fln_live_") {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// TestStoreUnavailableAndInvalidation: a store that fails decides 503 store_unavailable for a
// record not cached; a cached one stands until invalidated; bad keys are refused.
func TestStoreUnavailableAndInvalidation(t *testing.T) {
	d := loadDeployment(t, "service-accounts")
	e, records := storeEngine(t, d, nil)
	defer e.Close()
	cases := apiKeyCases(d)
	if len(cases) < 2 {
		t.Fatalf("%d API-key cases", len(cases))
	}
	store := newMapStore(records)
	check := func(c scenarioCase) tollgate.Decision {
		t.Helper()
		got, err := e.CheckWithStore(context.Background(), c.Method, c.Path, c.Headers, store, d.Now)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := check(cases[0]); got.Status != 200 {
		t.Fatalf("%+v", got)
	}
	store.fail = errors.New("connection refused")
	if got := check(cases[1]); got.Status != 503 || got.Reason != "store_unavailable" || got.Authenticated {
		t.Fatalf("uncached record, store down: %+v", got)
	}
	if got := check(cases[0]); got.Status != 200 {
		t.Fatalf("cached record, store down: %+v", got)
	}
	if err := e.Invalidate("*"); err != nil {
		t.Fatal(err)
	}
	if got := check(cases[0]); got.Status != 503 {
		t.Fatalf("invalidated record, store down: %+v", got)
	}
	store.fail = nil
	if got := check(cases[1]); got.Status != 200 {
		t.Fatalf("store back: %+v", got)
	}
	for _, r := range records {
		if err := e.Invalidate(r.Key); err != nil {
			t.Errorf("Invalidate(%q): %v", r.Key, err)
		}
	}
	for _, bad := range []string{"", "tollgate:api_key:", "tollgate:user:ABC", "everything"} {
		if err := e.Invalidate(bad); !errors.Is(err, tollgate.ErrInvalidRequest) {
			t.Errorf("Invalidate(%q): %v", bad, err)
		}
	}
	if _, err := e.CheckWithStore(context.Background(), "GET", "/", nil, nil, d.Now); !errors.Is(err, tollgate.ErrInvalidOptions) {
		t.Errorf("no store: %v", err)
	}
	e.Close()
	if err := e.Invalidate("*"); !errors.Is(err, tollgate.ErrNullParameter) {
		t.Errorf("after Close: %v", err)
	}
}

// TestStoreInvalidRecords: a record of another version, truncated, or of another kind decides
// 500 invalid_record, and is asked for again once fixed (never cached).
func TestStoreInvalidRecords(t *testing.T) {
	d := loadDeployment(t, "service-accounts")
	e, records := storeEngine(t, d, nil)
	defer e.Close()
	c := apiKeyCases(d)[0]
	store := newMapStore(records)
	got, err := e.CheckWithStore(context.Background(), c.Method, c.Path, c.Headers, store, d.Now)
	if err != nil || got.Status != 200 {
		t.Fatalf("%v %+v", err, got)
	}
	var key string
	for k := range store.values {
		if strings.HasPrefix(k, "tollgate:api_key:") && strings.Contains(string(got.ClaimsJSON), keyID(t, store.values[k])) {
			key = k
		}
	}
	if key == "" {
		t.Fatal("no record for the case's key")
	}
	good := string(store.values[key])
	for name, bad := range map[string]string{
		"version 2":     strings.Replace(good, `"v":1`, `"v":2`, 1),
		"version \"1\"": strings.Replace(good, `"v":1`, `"v":"1"`, 1),
		"truncated":     good[:len(good)/2],
		"another kind":  strings.Replace(good, `"record":"api_key"`, `"record":"user"`, 1),
		"not JSON":      "\x00\x01",
		"empty":         "",
	} {
		if bad == good {
			t.Fatalf("%s: the record did not change: %s", name, good)
		}
		store.values[key] = []byte(bad)
		if err := e.Invalidate(key); err != nil {
			t.Fatal(err)
		}
		got, err := e.CheckWithStore(context.Background(), c.Method, c.Path, c.Headers, store, d.Now)
		if err != nil || got.Status != 500 || got.Reason != "invalid_record" {
			t.Errorf("%s: %v %+v", name, err, got)
		}
	}
	store.values[key] = []byte(good)
	got, err = e.CheckWithStore(context.Background(), c.Method, c.Path, c.Headers, store, d.Now)
	if err != nil || got.Status != 200 {
		t.Errorf("the good record again: %v %+v", err, got)
	}
}

func keyID(t testing.TB, record []byte) string {
	var r struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(record, &r); err != nil {
		t.Fatal(err)
	}
	return `"` + r.ID + `"`
}

// TestCloseWhileWaitingOnTheStore: Close does not wait for a store lookup in flight, and the
// check then fails with ErrNullParameter (its pending check freed).
func TestCloseWhileWaitingOnTheStore(t *testing.T) {
	d := loadDeployment(t, "service-accounts")
	e, records := storeEngine(t, d, nil)
	store := newMapStore(records)
	store.block = make(chan struct{})
	store.entered = make(chan struct{}, 1)
	c := apiKeyCases(d)[0]
	done := make(chan error)
	go func() {
		_, err := e.CheckWithStore(context.Background(), c.Method, c.Path, c.Headers, store, d.Now)
		done <- err
	}()
	<-store.entered
	closed := make(chan struct{})
	go func() { e.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("Close waited for the store")
	}
	close(store.block)
	if err := <-done; !errors.Is(err, tollgate.ErrNullParameter) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestRecordsFromSnapshot(t *testing.T) {
	d := loadDeployment(t, "project-oidc")
	rest, records, err := tollgate.RecordsFromSnapshot(d.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(rest, &doc); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"users", "api_keys", "revoked_jti"} {
		if _, ok := doc[gone]; ok {
			t.Errorf("the snapshot still has %s", gone)
		}
	}
	kinds := map[string]int{}
	for _, r := range records {
		parts := strings.Split(r.Key, ":")
		if len(parts) != 3 || parts[0] != "tollgate" || len(parts[2]) != 64 {
			t.Errorf("key %q", r.Key)
			continue
		}
		kinds[parts[1]]++
		if !strings.Contains(r.Value, `"record":"`+parts[1]+`"`) {
			t.Errorf("%s: %s", r.Key, r.Value)
		}
		if parts[1] == "user" && r.Expires != nil {
			t.Errorf("a user record expires: %s", r.Key)
		}
	}
	if kinds["user"] == 0 || kinds["api_key"] == 0 || kinds["revoked_jti"] == 0 {
		t.Errorf("kinds %v", kinds)
	}
	// One record: what a revocation writes. SHA-256("abc") is the key (docs/records.md).
	_, one, err := tollgate.RecordsFromSnapshot([]byte(`{"revoked_jti": ["abc"]}`))
	if err != nil || len(one) != 1 ||
		one[0].Key != "tollgate:revoked_jti:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("%v %+v", err, one)
	}
	if _, _, err := tollgate.RecordsFromSnapshot([]byte(`{"api_keys": {"p": [{"id": 1}]}}`)); err == nil {
		t.Error("a bad record was accepted")
	}
	if _, _, err := tollgate.RecordsFromSnapshot([]byte(`[]`)); !errors.Is(err, tollgate.ErrInvalidSnapshot) {
		t.Errorf("not an object: %v", err)
	}
}

// TestWebhookVerifyForStore: the Standard Webhooks example delivery gives its claim (key from
// the SHA-256 of its id, the tolerance as TTL); Settle decides; the local guard is not used.
func TestWebhookVerifyForStore(t *testing.T) {
	guard, err := tollgate.NewReplayGuard(10, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer guard.Close()
	v, err := tollgate.NewWebhookVerifier(tollgate.WebhookConfig{
		Keys: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, ReplayGuard: guard})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	body := []byte(`{"test": 2432232314}`)
	now := time.Unix(1614265330, 0)
	for i := 0; i < 2; i++ { // the same delivery twice: the store, not the verifier, decides
		claim, err := v.VerifyForStore(h, body, now, 0)
		if err != nil {
			t.Fatal(err)
		}
		if claim.Key != "tollgate:webhook:bcda2c50c55350fde15cb6a403311daac6f7adf9e5d5b836363f31d1b908edb1" || claim.TTL != 301 {
			t.Fatalf("%+v", claim)
		}
	}
	claim, _ := v.VerifyForStore(h, body, now, time.Hour)
	if claim.TTL < 3600 {
		t.Errorf("window 1 h: TTL %d", claim.TTL)
	}
	if err := (tollgate.ReplayClaim{}).Settle(true); err != nil {
		t.Error(err)
	}
	if err := (tollgate.ReplayClaim{}).Settle(false); !errors.Is(err, tollgate.ErrWebhookReplayed) {
		t.Error(err)
	}
	if _, err := v.VerifyForStore(h, []byte(`{"test": 1}`), now, 0); !errors.Is(err, tollgate.ErrWebhookSignatureInvalid) {
		t.Errorf("forged body: %v", err)
	}
	v.Close()
	if _, err := v.VerifyForStore(h, body, now, 0); !errors.Is(err, tollgate.ErrNullParameter) {
		t.Errorf("after Close: %v", err)
	}
}

// sessionPolicy is a cookie session provider with its records in the store (its own extra
// members set), a tenant header, one role and one tenant-scoped route (tests/c/store.c's).
func sessionPolicy(provider string) []byte {
	return []byte(`{"version": 1, "credentials": [{"name": "s", "cookie": "flow_session"}],
		"providers": [{"name": "flow", "type": "session", "credentials": ["s"], "records": "store"` + provider + `}],
		"tenant": {"header": "X-Project-ID"}, "permissions": ["items:read"],
		"roles": [{"name": "viewer", "grants": ["items:read"]}],
		"routes": [{"method": "GET", "path": "/items", "tenant": true, "requires": ["items:read"]}]}`)
}

// sessionHeaders carry the session id in the flow_session cookie, for tenant A.
func sessionHeaders(id string) [][2]string {
	return [][2]string{{"Cookie", "theme=dark; flow_session=" + id}, {"X-Project-ID", "A"}}
}

// TestSessionRecords: a session written with SessionRecord is checked from its cookie (200, the
// subject and roles from the record); rewritten revoked it is session_revoked once invalidated;
// an unknown id is unknown_session, an ended session session_expired; a peppered provider finds
// the record under the HMAC of the id.
func TestSessionRecords(t *testing.T) {
	e, err := tollgate.NewEngine(sessionPolicy(""))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	now := time.Unix(1000, 0)
	session := `{"subject": "u-alice", "expires": 2000, "created": 900, "tenants": {"A": ["viewer"]}}`
	r, err := tollgate.SessionRecord("s-123", []byte(session), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.Key, "tollgate:session:") || len(r.Key) != len("tollgate:session:")+64 ||
		r.Expires == nil || *r.Expires != 2000 {
		t.Fatalf("%+v", r)
	}
	var value map[string]interface{}
	if err := json.Unmarshal([]byte(r.Value), &value); err != nil {
		t.Fatal(err)
	}
	if value["v"] != 1.0 || value["record"] != "session" || value["subject"] != "u-alice" || value["revoked"] != false {
		t.Errorf("value %s", r.Value)
	}
	store := newMapStore([]tollgate.StoredRecord{r})
	check := func(id string, at time.Time) tollgate.Decision {
		t.Helper()
		got, err := e.CheckWithStore(context.Background(), "GET", "/items", sessionHeaders(id), store, at)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	got := check("s-123", now)
	if got.Status != 200 || got.Subject != "u-alice" || got.Kind != "user" || got.Provider != "flow" ||
		got.Tenant != "A" || !reflect.DeepEqual(got.Roles, []string{"viewer"}) {
		t.Fatalf("%+v", got)
	}

	revoked, err := tollgate.SessionRecord("s-123", []byte(strings.Replace(session, "}}", `}, "revoked": true}`, 1)), nil)
	if err != nil || revoked.Key != r.Key {
		t.Fatalf("%v %+v", err, revoked)
	}
	store.values[revoked.Key] = []byte(revoked.Value)
	if got := check("s-123", now); got.Status != 200 {
		t.Errorf("cached, not invalidated: %+v", got)
	}
	if err := e.Invalidate(revoked.Key); err != nil {
		t.Fatal(err)
	}
	if got := check("s-123", now); got.Status != 401 || got.Reason != "session_revoked" {
		t.Errorf("signed out: %+v", got)
	}
	if got := check("s-unknown", now); got.Status != 401 || got.Reason != "unknown_session" {
		t.Errorf("unknown: %+v", got)
	}
	ended, _ := tollgate.SessionRecord("s-ended", []byte(`{"subject": "u-bob", "expires": 1500, "tenants": {"A": ["viewer"]}}`), nil)
	store.values[ended.Key] = []byte(ended.Value)
	if got := check("s-ended", time.Unix(1499, 0)); got.Status != 200 {
		t.Errorf("before its expires: %+v", got)
	}
	for _, at := range []int64{1500, 1501} {
		_ = e.Invalidate("*")
		if got := check("s-ended", time.Unix(at, 0)); got.Status != 401 || got.Reason != "session_expired" {
			t.Errorf("at %d: %+v", at, got)
		}
	}

	pepper := make([]byte, 32)
	for i := range pepper {
		pepper[i] = byte(100 + i)
	}
	pe, err := tollgate.NewEngine(sessionPolicy(`, "hashing": "hmac-sha256"`))
	if err != nil {
		t.Fatal(err)
	}
	defer pe.Close()
	if err := pe.SwapKeys([]byte(`{"peppers": {"flow": "` + base64.RawURLEncoding.EncodeToString(pepper) + `"}}`)); err != nil {
		t.Fatal(err)
	}
	peppered, err := tollgate.SessionRecord("s-789", []byte(session), pepper)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, pepper)
	mac.Write([]byte("s-789"))
	if peppered.Key != "tollgate:session:"+hex.EncodeToString(mac.Sum(nil)) {
		t.Errorf("peppered key %s", peppered.Key)
	}
	got, err = pe.CheckWithStore(context.Background(), "GET", "/items", sessionHeaders("s-789"), newMapStore([]tollgate.StoredRecord{peppered}), now)
	if err != nil || got.Status != 200 || got.Subject != "u-alice" {
		t.Errorf("peppered: %v %+v", err, got)
	}
	plain, _ := tollgate.SessionRecord("s-789", []byte(session), nil)
	_ = pe.Invalidate("*") // the peppered record is cached
	got, err = pe.CheckWithStore(context.Background(), "GET", "/items", sessionHeaders("s-789"), newMapStore([]tollgate.StoredRecord{plain}), now)
	if err != nil || got.Reason != "unknown_session" {
		t.Errorf("hashed without the pepper: %v %+v", err, got)
	}
}

// TestSessionRecordHashesAndRefusals: SHA-256 of the id is the key (docs/records.md's "abc"),
// and sessions or ids the library refuses are ErrInvalidRecord.
func TestSessionRecordHashesAndRefusals(t *testing.T) {
	session := []byte(`{"subject": "u-alice", "expires": 2000}`)
	r, err := tollgate.SessionRecord("abc", session, nil)
	if err != nil || r.Key != "tollgate:session:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("%v %+v", err, r)
	}
	if r.Value != `{"v":1,"record":"session","subject":"u-alice","kind":"user","expires":2000,"revoked":false}` {
		t.Errorf("value %s", r.Value)
	}
	for name, bad := range map[string]string{
		"no subject":                  `{"expires": 2000}`,
		"no expires":                  `{"subject": "u-alice"}`,
		"a subject not a string":      `{"subject": 1, "expires": 2000}`,
		"an unknown member":           `{"subject": "u-alice", "expires": 2000, "admin": true}`,
		"an unknown kind":             `{"subject": "u-alice", "expires": 2000, "kind": "robot"}`,
		"a store record's own member": `{"v": 1, "subject": "u-alice", "expires": 2000}`,
		"not JSON":                    `{subject`,
		"not an object":               `[]`,
		"empty":                       ``,
	} {
		r, err := tollgate.SessionRecord("s-1", []byte(bad), nil)
		var te *tollgate.Error
		if !errors.Is(err, tollgate.ErrInvalidRecord) || !errors.As(err, &te) || !strings.Contains(te.Message, "the session") {
			t.Errorf("%s: %v %+v", name, err, r)
		}
	}
	for _, id := range []string{"", strings.Repeat("x", 513)} {
		if _, err := tollgate.SessionRecord(id, session, nil); !errors.Is(err, tollgate.ErrInvalidRecord) ||
			!strings.Contains(err.Error(), "1 to 512 bytes") {
			t.Errorf("an id of %d bytes: %v", len(id), err)
		}
	}
	if _, err := tollgate.SessionRecord(strings.Repeat("x", 512), session, nil); err != nil {
		t.Errorf("an id of 512 bytes: %v", err)
	}
	if _, err := tollgate.SessionRecord("s-\xff", session, nil); !errors.Is(err, tollgate.ErrInvalidUTF8) {
		t.Errorf("an id not UTF-8: %v", err)
	}
}
