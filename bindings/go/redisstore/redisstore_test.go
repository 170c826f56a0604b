package redisstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tollgate "github.com/tollgate/tollgate/bindings/go"
	"github.com/tollgate/tollgate/bindings/go/redisstore"
)

func TestMain(m *testing.M) {
	if name := os.Getenv(hostEnv); name != "" {
		os.Exit(runHost(name, os.Getenv(hostURLEnv)))
	}
	os.Exit(m.Run())
}

func asTollgateError(err error, target **tollgate.Error) bool { return errors.As(err, target) }

// The four deployments' tables with every record in Redis decide each case as the table says
// and exactly as the engine on the whole snapshot does.
func TestTheFourDeploymentsDecideAsWithTheSnapshot(t *testing.T) {
	r := startRedis(t)
	for _, name := range deployments {
		r.do("FLUSHALL")
		d := mustLoad(t, name)
		plain := plainEngine(t, d)
		engine, records := mustStoreEngine(t, d, nil)
		store := newStore(t, r.url(), 2*time.Second)
		putUndated(t, store, records)
		counting := &countingStore{Store: store}
		agree := 0
		for _, c := range d.Cases {
			want, err := plain.CheckRequest(c.Method, c.Path, c.Headers, d.Now)
			if err != nil {
				t.Fatal(err)
			}
			got, err := engine.CheckWithStore(context.Background(), c.Method, c.Path, c.Headers, counting, d.Now)
			if err != nil {
				t.Errorf("%s / %s: %v", name, c.Name, err)
				continue
			}
			if why := mismatches(got, c); len(why) > 0 {
				t.Errorf("%s / %s: %s", name, c.Name, strings.Join(why, "; "))
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s / %s: with Redis %+v, with the snapshot %+v", name, c.Name, got, want)
				continue
			}
			agree++
		}
		if len(records) > 0 && counting.found.Load() == 0 {
			t.Errorf("%s: no record was read from Redis", name)
		}
		t.Logf("%-16s %2d of %2d cases agree; %d records in Redis, %d lookups (%d found)", name, agree,
			len(d.Cases), len(records), counting.lookups.Load(), counting.found.Load())
	}
}

// countingStore counts lookups, and those that found a record.
type countingStore struct {
	tollgate.Store
	lookups, found atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, ok, err := s.Store.Get(ctx, key)
	s.lookups.Add(1)
	if ok {
		s.found.Add(1)
	}
	return v, ok, err
}

// keyCases are service-accounts' allowed cases that carry an API key.
func keyCases(d *deployment) []scenarioCase {
	var out []scenarioCase
	for _, c := range d.Cases {
		if c.status() == 200 && strings.HasPrefix(bearer(c), "fln_live_") {
			out = append(out, c)
		}
	}
	return out
}

// Redis unreachable: a check that needs a record not cached is 503 store_unavailable (never
// 200), at once; Redis back on the same port with its records, the same engine allows it.
func TestAnUnreachableStoreFailsClosedAndRecoveryNeedsNoRestart(t *testing.T) {
	r := startRedis(t)
	d := mustLoad(t, "service-accounts")
	engine, records := mustStoreEngine(t, d, nil)
	store := newStore(t, r.url(), 2*time.Second)
	putUndated(t, store, records)
	cases := keyCases(d)
	if len(cases) < 2 {
		t.Fatalf("%d allowed API-key cases", len(cases))
	}
	check := func(c scenarioCase) tollgate.Decision {
		t.Helper()
		got, err := engine.CheckWithStore(context.Background(), c.Method, c.Path, c.Headers, store, d.Now)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := check(cases[0]); got.Status != 200 {
		t.Fatalf("%+v", got)
	}

	r.stop()
	for i := 0; i < 3; i++ {
		started := time.Now()
		got := check(cases[1])
		if got.Status != 503 || got.Reason != "store_unavailable" {
			t.Fatalf("Redis down: %d %s", got.Status, got.Reason)
		}
		if took := time.Since(started); took > 2*time.Second {
			t.Fatalf("failing closed took %v", took)
		}
	}
	_, _, err := store.Get(context.Background(), records[0].Key)
	if !errors.Is(err, tollgate.ErrStoreUnavailable) {
		t.Errorf("Get with Redis down: %v", err)
	}

	r.restart()
	putUndated(t, store, records)
	back := time.Now()
	status := 0
	for time.Since(back) < 15*time.Second {
		if status = check(cases[1]).Status; status == 200 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if status != 200 {
		t.Fatalf("the engine did not use Redis again: %d", status)
	}
	t.Logf("allowed again %v after Redis came back", time.Since(back))
}

// Two host processes on one Redis: a key revoked through A is refused by B within a second.
func TestTwoHostsAgreeOnARevocationWithinASecond(t *testing.T) {
	r := startRedis(t)
	d := mustLoad(t, "service-accounts")
	_, records, err := storeEngine(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	putUndated(t, newStore(t, r.url(), 2*time.Second), records)
	a := startHost(t, "A", d.Name, r.url())
	b := startHost(t, "B", d.Name, r.url())
	c := keyCases(d)[0]
	// Both cache the record (and check at the table's fixed time, so only an invalidation can
	// make them read it again).
	for _, h := range []*host{a, b} {
		if got := h.check(c); got.Status != 200 {
			t.Fatalf("host %s: %+v", h.name, got)
		}
	}
	revoked := a.ask(hostRequest{Op: "revoke", Key: bearer(c)})
	if revoked.Error != "" || revoked.ID == "" {
		t.Fatalf("revoke through A: %+v", revoked)
	}
	took := untilAll(t, []*host{b, a}, c, 401)
	t.Logf("revocation of %s through A refused by B (and A) after %v", revoked.ID, took)
	if took > time.Second {
		t.Errorf("propagation took %v", took)
	}
	if got := b.check(c); got.Reason != "api_key_revoked" {
		t.Errorf("B: %+v", got)
	}
	// The record in Redis is the revoked one (what `tollgate apikey revoke` writes).
	key, _ := redisstore.APIKeyStoreKey(bearer(c), nil)
	value, _ := r.do("GET", key).([]byte)
	if !strings.Contains(string(value), `"revoked":true`) || !strings.Contains(string(value), `"record":"api_key"`) {
		t.Errorf("stored: %s", value)
	}
}

// A webhook delivery accepted by A and replayed to B is refused by B (the claim is in Redis,
// for the tolerance window).
func TestAWebhookAcceptedByOneHostIsAReplayForAnother(t *testing.T) {
	r := startRedis(t)
	d := mustLoad(t, "service-accounts")
	a := startHost(t, "A", d.Name, r.url())
	b := startHost(t, "B", d.Name, r.url())
	delivery := hostRequest{Op: "webhook", Header: map[string][]string{
		"Webhook-Id":        {"msg_p5jXN8AQM9LWM0D4loKWxJek"},
		"Webhook-Timestamp": {"1614265330"},
		"Webhook-Signature": {"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
	}, Body: `{"test": 2432232314}`, Now: 1614265330}
	forged := delivery
	forged.Body = `{"test": 1}`
	if got := a.ask(forged); got.Error != "webhook_signature_invalid" {
		t.Fatalf("forged on A: %+v", got)
	}
	if got := a.ask(delivery); got.Error != "" {
		t.Fatalf("A: %+v", got)
	}
	if got := b.ask(delivery); got.Error != "webhook_replayed" {
		t.Fatalf("the replay on B: %+v", got)
	}
	if got := a.ask(delivery); got.Error != "webhook_replayed" {
		t.Fatalf("the replay on A: %+v", got)
	}
	ttl, _ := r.do("TTL", "tollgate:webhook:bcda2c50c55350fde15cb6a403311daac6f7adf9e5d5b836363f31d1b908edb1").(int64)
	if ttl < 296 || ttl > 301 {
		t.Errorf("the claim's TTL: %d", ttl)
	}
}

// A role taken from a user (their user record overwritten and announced) restricts their
// personal access token on both hosts within a second; given back, it works again.
func TestARoleRemovedFromAUserRestrictsTheirTokenOnBothHosts(t *testing.T) {
	r := startRedis(t)
	d := mustLoad(t, "project-oidc")
	_, records, err := storeEngine(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	putUndated(t, newStore(t, r.url(), 2*time.Second), records)
	var c scenarioCase
	for _, x := range d.Cases {
		if x.status() == 200 && x.str("kind") == "personal_access_token" {
			c = x
			break
		}
	}
	if c.Name == "" || c.str("subject") == "" {
		t.Fatal("no allowed personal-access-token case with its subject")
	}
	a := startHost(t, "A", d.Name, r.url())
	b := startHost(t, "B", d.Name, r.url())
	for _, h := range []*host{a, b} {
		if got := h.check(c); got.Status != 200 {
			t.Fatalf("host %s: %+v", h.name, got)
		}
	}
	var original tollgate.StoredRecord
	for _, rec := range records {
		if rec.Key == userKey(c.str("subject")) {
			original = rec
		}
	}
	if original.Key == "" {
		t.Fatalf("no user record for %s", c.str("subject"))
	}
	users, _ := json.Marshal(map[string]map[string]interface{}{
		"users": {c.str("subject"): map[string]interface{}{"roles": []string{}, "tenants": map[string]interface{}{}}},
	})
	_, demoted, err := tollgate.RecordsFromSnapshot(users)
	if err != nil || len(demoted) != 1 || demoted[0].Key != original.Key {
		t.Fatalf("%v %+v", err, demoted)
	}
	if got := a.ask(hostRequest{Op: "put", Records: demoted}); got.Error != "" {
		t.Fatal(got.Error)
	}
	took := untilAll(t, []*host{a, b}, c, 403)
	t.Logf("role change through A restricted %s's token on A and B after %v", c.str("subject"), took)
	if took > time.Second {
		t.Errorf("propagation took %v", took)
	}
	if got := b.check(c); got.Reason != "tenant_forbidden" {
		t.Errorf("B: %+v", got)
	}
	if got := b.ask(hostRequest{Op: "put", Records: []tollgate.StoredRecord{original}}); got.Error != "" {
		t.Fatal(got.Error)
	}
	untilAll(t, []*host{a, b}, c, 200)
}

// 8 goroutines × 10,000 checks, no record cache (every API-key check reads Redis): each decision
// is the one the snapshot engine makes for its own key.
func TestEightGoroutinesOfTenThousandChecksEachReadTheirOwnRecord(t *testing.T) {
	r := startRedis(t)
	d := mustLoad(t, "service-accounts")
	plain := plainEngine(t, d)
	engine, records := mustStoreEngine(t, d, map[string]string{"store": `{"cache_ttl": 0}`})
	store := newStore(t, r.url(), 5*time.Second)
	putUndated(t, store, records)
	type keyCase struct {
		c    scenarioCase
		want tollgate.Decision
	}
	var cases []keyCase
	for _, c := range d.Cases {
		if !strings.HasPrefix(bearer(c), "fln_") {
			continue
		}
		want, err := plain.CheckRequest(c.Method, c.Path, c.Headers, d.Now)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, keyCase{c, want})
	}
	if len(cases) < 5 {
		t.Fatalf("%d API-key cases", len(cases))
	}
	counting := &countingStore{Store: store}
	const goroutines, perGoroutine = 8, 10000
	var wg sync.WaitGroup
	var failures atomic.Int64
	started := time.Now()
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < perGoroutine; i++ {
				k := cases[(g+i)%len(cases)]
				got, err := engine.CheckWithStore(context.Background(), k.c.Method, k.c.Path, k.c.Headers, counting, d.Now)
				if err != nil || !reflect.DeepEqual(got, k.want) {
					if failures.Add(1) <= 5 {
						t.Errorf("goroutine %d, check %d: %s: %v %+v, want %+v", g, i, k.c.Name, err, got, k.want)
					}
				}
			}
		}(g)
	}
	wg.Wait()
	elapsed := time.Since(started)
	total := goroutines * perGoroutine
	t.Logf("%d checks, %d Redis lookups in %v: %.0f checks/s (%d cases, each its own key)", total,
		counting.lookups.Load(), elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), len(cases))
	if n := failures.Load(); n > 0 {
		t.Errorf("%d decisions differ", n)
	}
	if counting.lookups.Load() < int64(total)/2 {
		t.Errorf("only %d lookups: the record cache answered", counting.lookups.Load())
	}
}

// Records the engine must not use — another version, truncated JSON, another kind — decide 500
// invalid_record; fixed, the key works again (bad records are never cached).
func TestBadRecordsAreInvalidRecord(t *testing.T) {
	r := startRedis(t)
	d := mustLoad(t, "service-accounts")
	engine, records := mustStoreEngine(t, d, nil)
	store := newStore(t, r.url(), 2*time.Second)
	putUndated(t, store, records)
	c := keyCases(d)[0]
	key, err := redisstore.APIKeyStoreKey(bearer(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	var good string
	for _, rec := range records {
		if rec.Key == key {
			good = rec.Value
		}
	}
	if good == "" {
		t.Fatalf("no record under %s", key)
	}
	userRecord := ""
	for _, rec := range records {
		if strings.Contains(rec.Value, `"record":"user"`) {
			userRecord = rec.Value
		}
	}
	bad := []struct{ name, value string }{
		{"version 2", strings.Replace(good, `"v":1`, `"v":2`, 1)},
		{`version "1"`, strings.Replace(good, `"v":1`, `"v":"1"`, 1)},
		{"version 1.0", strings.Replace(good, `"v":1`, `"v":1.0`, 1)},
		{"truncated JSON", good[:len(good)-7]},
		{"kind user under an API key", strings.Replace(good, `"record":"api_key"`, `"record":"user"`, 1)},
		{"an unknown member", strings.Replace(good, `"v":1`, `"v":1,"extra":true`, 1)},
	}
	if userRecord != "" {
		bad = append(bad, struct{ name, value string }{"a user record under an API key", userRecord})
	}
	for _, b := range bad {
		if b.value == good {
			t.Fatalf("%s: the record did not change: %s", b.name, good)
		}
		if err := store.Put(tollgate.StoredRecord{Key: key, Value: b.value}); err != nil {
			t.Fatal(err)
		}
		if err := engine.Invalidate(key); err != nil {
			t.Fatal(err)
		}
		got, err := engine.CheckWithStore(context.Background(), c.Method, c.Path, c.Headers, store, d.Now)
		if err != nil || got.Status != 500 || got.Reason != "invalid_record" || got.Authenticated {
			t.Errorf("%s: %v %d %s", b.name, err, got.Status, got.Reason)
		}
	}
	if err := store.Put(tollgate.StoredRecord{Key: key, Value: good}); err != nil {
		t.Fatal(err)
	}
	// No Invalidate: an invalid record was never cached.
	got, err := engine.CheckWithStore(context.Background(), c.Method, c.Path, c.Headers, store, d.Now)
	if err != nil || got.Status != 200 {
		t.Errorf("the good record again: %v %+v", err, got)
	}
}

// Put writes a record with an expiry to expire a day after it, and one without, never; Claim
// is SET NX EX.
func TestPutExpiryAndClaim(t *testing.T) {
	r := startRedis(t)
	store := newStore(t, r.url(), 2*time.Second)
	exp := time.Now().Unix() + 3600
	_, one, err := tollgate.RecordsFromSnapshot([]byte(`{"revoked_jti": ["abc"]}`))
	if err != nil {
		t.Fatal(err)
	}
	dated := one[0]
	dated.Expires = &exp
	far := int64(1) << 62
	undated := tollgate.StoredRecord{Key: "tollgate:revoked_jti:" + strings.Repeat("0", 64), Value: dated.Value}
	farOff := tollgate.StoredRecord{Key: "tollgate:revoked_jti:" + strings.Repeat("1", 64), Value: dated.Value, Expires: &far}
	if err := store.Put(dated, undated, farOff); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := r.do("TTL", dated.Key).(int64); ttl < 86400+3600-10 || ttl > 86400+3600 {
		t.Errorf("TTL %d, want about %d", ttl, 86400+3600)
	}
	for _, k := range []string{undated.Key, farOff.Key} {
		if ttl, _ := r.do("TTL", k).(int64); ttl != -1 {
			t.Errorf("%s: TTL %d, want none", k, ttl)
		}
	}
	value, found, err := store.Get(context.Background(), dated.Key)
	if err != nil || !found || string(value) != dated.Value {
		t.Errorf("Get: %q %v %v", value, found, err)
	}
	if _, found, err := store.Get(context.Background(), "tollgate:user:"+strings.Repeat("2", 64)); found || err != nil {
		t.Errorf("Get of nothing: %v %v", found, err)
	}
	ok, err := store.Claim("tollgate:webhook:x", 60)
	if err != nil || !ok {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	if ok, err := store.Claim("tollgate:webhook:x", 60); err != nil || ok {
		t.Fatalf("second claim: %v %v", ok, err)
	}
	if ttl, _ := r.do("TTL", "tollgate:webhook:x").(int64); ttl < 55 || ttl > 60 {
		t.Errorf("claim TTL %d", ttl)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := store.Get(ctx, dated.Key); !errors.Is(err, context.Canceled) || !errors.Is(err, tollgate.ErrStoreUnavailable) {
		t.Errorf("Get with a cancelled context: %v", err)
	}
	if _, err := redisstore.New("http://127.0.0.1", time.Second); err == nil {
		t.Error("an http URL was accepted")
	}
	if _, err := redisstore.New(r.url(), 0); err == nil {
		t.Error("a zero timeout was accepted")
	}
	s, err := redisstore.New("redis://user:secret@127.0.0.1:1", time.Second)
	if err != nil || s.URL() != "redis://…@127.0.0.1:1" {
		t.Errorf("%v %q", err, s.URL())
	}
	// Passwords with reserved characters left unencoded: no piece of them in any message.
	for _, raw := range []string{
		"redis://:se/cret@127.0.0.1:6379",
		"redis://:se?cret@127.0.0.1:6379",
		"redis://:se%cret@127.0.0.1:6379",
		"redis:user:secret@127.0.0.1",
	} {
		_, err := redisstore.New(raw, time.Second)
		if err == nil || strings.Contains(err.Error(), "cret") || strings.Contains(err.Error(), ":se") {
			t.Errorf("%s: %v", raw, err)
		}
	}
}

// A claim is sent once: a SET NX that ran but whose reply was lost must not be sent again,
// where it would find the key set and read as a replay. Other commands are tried once more.
func TestAClaimIsNotRetriedAfterALostReply(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var commands atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			if n, _ := c.Read(buf); n > 0 {
				commands.Add(1)
			}
			c.Close() // the command may have run; its reply is lost
		}
	}()
	s, err := redisstore.New("redis://"+ln.Addr().String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Claim("tollgate:webhook:x", 60); !errors.Is(err, tollgate.ErrStoreUnavailable) {
		t.Fatalf("claim: %v", err)
	}
	if n := commands.Load(); n != 1 {
		t.Errorf("the claim was sent %d times", n)
	}
	commands.Store(0)
	if _, _, err := s.Get(context.Background(), "tollgate:user:x"); !errors.Is(err, tollgate.ErrStoreUnavailable) {
		t.Fatalf("get: %v", err)
	}
	if n := commands.Load(); n != 2 {
		t.Errorf("a read was sent %d times, not tried again", n)
	}
}

// StoreAPIKey writes a generated key's record, the engine accepts the key at once, and
// RevokeAPIKey (by key or by hash) makes it api_key_revoked on an engine following
// invalidations.
func TestStoreAndRevokeAPIKeys(t *testing.T) {
	r := startRedis(t)
	d := mustLoad(t, "service-accounts")
	engine, records := mustStoreEngine(t, d, nil)
	store := newStore(t, r.url(), 2*time.Second)
	putUndated(t, store, records)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := &signalReady{engine: engine, ready: make(chan struct{})}
	followed := make(chan struct{})
	go func() { store.FollowInvalidations(ctx, ready); close(followed) }()
	<-ready.ready

	g, err := tollgate.GenerateAPIKey("fln_live", "sa_new", nil, d.Now)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]interface{}
	_ = json.Unmarshal(g.Record, &rec)
	rec["tenant"], rec["scopes"] = "org_1", []string{"invoices:read"}
	record, _ := json.Marshal(rec)
	key, err := store.StoreAPIKey(record)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := redisstore.APIKeyStoreKey(g.Hash, nil); key != want {
		t.Errorf("stored under %s, want %s", key, want)
	}
	headers := [][2]string{{"Authorization", "Bearer " + g.Key}}
	check := func() tollgate.Decision {
		t.Helper()
		got, err := engine.CheckWithStore(ctx, "GET", "/v1/orgs/org_1/invoices", headers, store, d.Now)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := check(); got.Status != 200 || got.Subject != "sa_new" {
		t.Fatalf("the new key: %+v", got)
	}
	id, err := store.RevokeAPIKey(g.Key, nil)
	if err != nil || id != rec["id"] {
		t.Fatalf("RevokeAPIKey: %q %v", id, err)
	}
	deadline := time.Now().Add(time.Second)
	for check().Reason != "api_key_revoked" {
		if time.Now().After(deadline) {
			t.Fatalf("still %+v a second after the revocation", check())
		}
		time.Sleep(2 * time.Millisecond)
	}
	// By hash: the reader's key from the table.
	reader := keyCases(d)[0]
	hash, _ := tollgate.HashAPIKey(bearer(reader), nil)
	if _, err := store.RevokeAPIKey(hash, nil); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(time.Second)
	for {
		got, _ := engine.CheckWithStore(ctx, reader.Method, reader.Path, reader.Headers, store, d.Now)
		if got.Reason == "api_key_revoked" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("by hash: still %+v", got)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if _, err := store.RevokeAPIKey("fln_live_"+strings.Repeat("A", 38), nil); err == nil {
		t.Error("revoking a key the store does not hold")
	}
	if _, err := store.RevokeAPIKey("sha256:short", nil); err == nil {
		t.Error("a bad hash was accepted")
	}
	if _, err := store.StoreAPIKey([]byte(`{"id": "x"}`)); err == nil {
		t.Error("a bad record was stored")
	}
	cancel()
	select {
	case <-followed:
	case <-time.After(5 * time.Second):
		t.Fatal("FollowInvalidations did not return when its context ended")
	}
}

// sessionPolicy is a cookie session provider with its records in the store, a tenant header,
// one role and one tenant-scoped route.
const sessionPolicy = `{"version": 1, "credentials": [{"name": "s", "cookie": "flow_session"}],
	"providers": [{"name": "flow", "type": "session", "credentials": ["s"], "records": "store"}],
	"tenant": {"header": "X-Project-ID"}, "permissions": ["items:read"],
	"roles": [{"name": "viewer", "grants": ["items:read"]}],
	"routes": [{"method": "GET", "path": "/items", "tenant": true, "requires": ["items:read"]}]}`

// A login service's sessions in Redis: one stored with StoreSession (or SessionRecord and Put)
// lets its cookie through with the record's subject; stored again revoked, an engine following
// invalidations refuses it (session_revoked) within a second; an unknown id is unknown_session,
// an ended session session_expired (Redis keeps it a day past its expires, so the caller hears
// why); a session the library refuses is not written.
func TestStoreAndSignOutSessions(t *testing.T) {
	r := startRedis(t)
	store := newStore(t, r.url(), 2*time.Second)
	engine, err := tollgate.NewEngine([]byte(sessionPolicy))
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := &signalReady{engine: engine, ready: make(chan struct{})}
	followed := make(chan struct{})
	go func() { store.FollowInvalidations(ctx, ready); close(followed) }()
	<-ready.ready

	check := func(id string, now time.Time) tollgate.Decision {
		t.Helper()
		headers := [][2]string{{"Cookie", "theme=dark; flow_session=" + id}, {"X-Project-ID", "A"}}
		got, err := engine.CheckWithStore(ctx, "GET", "/items", headers, store, now)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	expires := time.Now().Unix() + 3600 // by the real clock: Redis keeps it a day past that
	session := func(expires int64, revoked bool) []byte {
		return []byte(fmt.Sprintf(`{"subject": "u-alice", "expires": %d, "tenants": {"A": ["viewer"]}, "revoked": %t}`,
			expires, revoked))
	}
	rec, err := tollgate.SessionRecord("s-123", session(expires, false), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Put(rec); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := r.do("TTL", rec.Key).(int64); ttl < 86400+3500 || ttl > 86400+3600 {
		t.Errorf("TTL %d, want about %d", ttl, 86400+3600)
	}
	if got := check("s-123", time.Time{}); got.Status != 200 || got.Subject != "u-alice" || got.Tenant != "A" ||
		!reflect.DeepEqual(got.Roles, []string{"viewer"}) {
		t.Fatalf("the session: %+v", got)
	}

	started := time.Now()
	key, err := store.StoreSession("s-123", session(expires, true), nil) // signing out
	if err != nil || key != rec.Key {
		t.Fatalf("StoreSession: %q %v", key, err)
	}
	for check("s-123", time.Time{}).Status == 200 {
		if time.Since(started) > time.Second {
			t.Fatal("still allowed a second after signing out")
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Logf("signed out: refused after %v", time.Since(started))
	if got := check("s-123", time.Time{}); got.Status != 401 || got.Reason != "session_revoked" {
		t.Errorf("signed out: %+v", got)
	}
	if stored, _ := r.do("GET", rec.Key).([]byte); !strings.Contains(string(stored), `"revoked":true`) {
		t.Errorf("stored: %s", stored)
	}

	if got := check("s-unknown", time.Time{}); got.Status != 401 || got.Reason != "unknown_session" {
		t.Errorf("unknown: %+v", got)
	}
	// Ended a minute ago by the real clock: still in Redis, session_expired.
	ended, err := store.StoreSession("s-ended", session(time.Now().Unix()-60, false), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, found, err := store.Get(ctx, ended); !found || err != nil {
		t.Fatalf("the ended session is not in Redis: %v %v", found, err)
	}
	if got := check("s-ended", time.Time{}); got.Status != 401 || got.Reason != "session_expired" {
		t.Errorf("ended: %+v", got)
	}
	// Valid until its expires, refused from then on.
	if _, err := store.StoreSession("s-later", session(expires, false), nil); err != nil {
		t.Fatal(err)
	}
	if got := check("s-later", time.Unix(expires-1, 0)); got.Status != 200 {
		t.Errorf("before its expires: %+v", got)
	}
	for _, at := range []int64{expires, expires + 1} {
		_ = engine.Invalidate("*")
		if got := check("s-later", time.Unix(at, 0)); got.Status != 401 || got.Reason != "session_expired" {
			t.Errorf("at its expires + %d: %+v", at-expires, got)
		}
	}

	for _, bad := range []string{`{"subject": "u-alice"}`, `{"subject": "u-alice", "expires": 1, "admin": true}`, `{subject`} {
		key, err := store.StoreSession("s-bad", []byte(bad), nil)
		if !errors.Is(err, tollgate.ErrInvalidRecord) || key != "" {
			t.Errorf("%s: %q %v", bad, key, err)
		}
	}
	probe, _ := tollgate.SessionRecord("s-bad", session(expires, false), nil)
	if n, _ := r.do("EXISTS", probe.Key).(int64); n != 0 {
		t.Error("a refused session was written")
	}
	cancel()
	<-followed
}

// FollowInvalidations makes its subscription again after Redis restarts, and drops every cached
// record ("*") when it does.
func TestFollowInvalidationsResubscribes(t *testing.T) {
	r := startRedis(t)
	store := newStore(t, r.url(), time.Second)
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go store.FollowInvalidations(ctx, rec)
	rec.waitFor(t, "*", 1)
	if err := store.Put(tollgate.StoredRecord{Key: "tollgate:user:" + strings.Repeat("a", 64), Value: "{}"}); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "tollgate:user:"+strings.Repeat("a", 64), 1)
	r.stop()
	time.Sleep(200 * time.Millisecond)
	r.restart()
	started := time.Now()
	rec.waitFor(t, "*", 2)
	t.Logf("subscribed again %v after Redis came back", time.Since(started).Round(time.Millisecond))
}

// recorder is an Invalidator that records the keys it is given.
type recorder struct {
	mu   sync.Mutex
	keys []string
}

func (r *recorder) Invalidate(key string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys = append(r.keys, key)
	return nil
}

// waitFor waits (up to 10 s) until key was given n times.
func (r *recorder) waitFor(t *testing.T, key string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		seen := 0
		for _, k := range r.keys {
			if k == key {
				seen++
			}
		}
		r.mu.Unlock()
		if seen >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q given %d times, want %d", key, seen, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var _ tollgate.Store = (*redisstore.Store)(nil)
var _ redisstore.Invalidator = (*tollgate.Engine)(nil)
