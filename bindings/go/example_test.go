package tollgate_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	tollgate "github.com/tollgate/tollgate/bindings/go"
)

func ExampleEngine_CheckRequest() {
	policy, _ := os.ReadFile("../../examples/tenant-path/policy.json")
	snapshot, _ := os.ReadFile("../../examples/tenant-path/snapshot.json")
	engine, err := tollgate.NewEngine(policy)
	if err != nil {
		panic(err)
	}
	defer engine.Close()
	if err := engine.SwapKeys(snapshot); err != nil {
		panic(err)
	}
	d, err := engine.CheckRequest("GET", "/api/tenants/A/items", nil, time.Now())
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Status, d.Reason, d.WWWAuthenticate != "")
	// Output: 401 missing_credentials true
}

func ExampleVerify() {
	jwk := []byte(`{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow","alg":"HS256"}`)
	token := []byte("eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")

	tok, err := tollgate.Verify(token, jwk, tollgate.WithIssuers("joe"), tollgate.WithTime(time.Unix(1300819000, 0)))
	fmt.Println(tok.Issuer, tok.Algorithm, err)

	_, err = tollgate.Verify(token, jwk, tollgate.WithTime(time.Unix(1300819380+3600, 0)))
	var te *tollgate.Error
	if errors.As(err, &te) {
		fmt.Println(te.Code, te.Number, te.HTTPStatus, errors.Is(err, tollgate.ErrExpired))
	}
	// Output:
	// joe HS256 <nil>
	// expired 400 401 true
}

// A key source for an OpenID provider, swapping each refreshed key set into an engine, with a
// verifier for code that checks tokens itself. (Not run: it needs the provider.)
func ExampleKeySource() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	policy, _ := os.ReadFile("policy.json")
	engine, err := tollgate.NewEngine(policy)
	if err != nil {
		panic(err)
	}
	defer engine.Close()

	ks, err := tollgate.DiscoverKeySource(ctx, "https://auth.example.com",
		tollgate.WithSwapInto(engine, "zitadel"),
		tollgate.WithHTTPClient(&http.Client{Timeout: 5 * time.Second}))
	if err != nil {
		panic(err)
	}
	defer ks.Close()
	if err := ks.Refresh(ctx); err != nil { // the first set, before serving
		panic(err)
	}
	go ks.Run(ctx) // refreshes in the background until ctx ends

	http.Handle("/", engine.Middleware(http.NotFoundHandler(), tollgate.WithDenyHandler(
		func(w http.ResponseWriter, r *http.Request, d *tollgate.Decision) {
			if d.RefreshKid != "" {
				ks.OnUnknownKID(d.RefreshKid) // a key the set lacks: Run fetches early (rate-limited)
			}
			tollgate.WriteRefusal(w, d)
		})))

	// Code that verifies tokens itself keeps a verifier: it follows the source's set.
	v, err := ks.Verifier(tollgate.WithIssuers("https://auth.example.com"), tollgate.WithAudiences("project-api"))
	if errors.Is(err, tollgate.ErrKeySetStale) {
		fmt.Println("the provider's keys have not been refreshed for two days")
	} else if err == nil {
		defer v.Close()
	}
}

// A webhook receiver with replay detection, fed a delivery signed by the sender's side.
func ExampleWebhookVerifier() {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	guard, err := tollgate.NewReplayGuard(10000, 0)
	if err != nil {
		panic(err)
	}
	defer guard.Close()
	wv, err := tollgate.NewWebhookVerifier(tollgate.WebhookConfig{Keys: []string{secret}, ReplayGuard: guard})
	if err != nil {
		panic(err)
	}
	defer wv.Close()

	now := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	sig, _ := tollgate.SignWebhook(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", now, body)
	header := http.Header{}
	header.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	header.Set("webhook-timestamp", "1614265330")
	header.Set("webhook-signature", sig)

	fmt.Println(sig)
	fmt.Println(wv.Verify(header, body, now))
	err = wv.Verify(header, body, now) // the same delivery again
	fmt.Println(errors.Is(err, tollgate.ErrWebhookReplayed))
	// Output:
	// v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
	// <nil>
	// true
}

// An API key for a service account: the key is shown once, the record (with its hash) stored
// in the snapshot's api_keys; CheckAPIKey refuses a mistyped key before any lookup.
func ExampleGenerateAPIKey() {
	g, err := tollgate.GenerateAPIKey("fln_live", "sa_billing", nil, time.Now())
	if err != nil {
		panic(err)
	}
	hash, _ := tollgate.HashAPIKey(g.Key, nil)
	fmt.Println(hash == g.Hash, tollgate.CheckAPIKey(g.Key, "fln_live"))

	mistyped := g.Key[:len(g.Key)-1]
	fmt.Println(errors.Is(tollgate.CheckAPIKey(mistyped, "fln_live"), tollgate.ErrMalformedAPIKey))
	// Output:
	// true <nil>
	// true
}
