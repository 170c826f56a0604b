package tollgate_test

import (
	"errors"
	"fmt"
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
