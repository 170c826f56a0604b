// Package bench compares the Go binding's JWT verification with golang-jwt v4 on the same
// tokens: HS256, RS256 (2048-bit) and ES256, each verifying the signature and checking exp, iat
// and iss, with a reused verifier / parsed key.
//
//	cd bindings/go/bench && go test -bench . -benchtime 2s
package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
	tollgate "github.com/tollgate/tollgate/bindings/go"
)

const issuer = "https://idp.example"

type fixture struct {
	alg    string
	token  string
	jwk    map[string]string
	key    any // golang-jwt's verification key
	method jwt.SigningMethod
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func pad(b []byte, n int) []byte {
	out := make([]byte, n)
	copy(out[n-len(b):], b)
	return out
}

func fixtures(tb testing.TB) []fixture {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		tb.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	claims := jwt.RegisteredClaims{
		Issuer:    issuer,
		Subject:   "user-1",
		IssuedAt:  jwt.NewNumericDate(now.Add(-time.Minute)),
		ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
	}
	sign := func(method jwt.SigningMethod, kid string, key any) string {
		t := jwt.NewWithClaims(method, claims)
		t.Header["kid"] = kid
		s, err := t.SignedString(key)
		if err != nil {
			tb.Fatal(err)
		}
		return s
	}
	return []fixture{
		{
			alg: "HS256", token: sign(jwt.SigningMethodHS256, "h1", secret),
			jwk: map[string]string{"kty": "oct", "kid": "h1", "alg": "HS256", "k": b64(secret)},
			key: secret, method: jwt.SigningMethodHS256,
		},
		{
			alg: "RS256", token: sign(jwt.SigningMethodRS256, "r1", rsaKey),
			jwk: map[string]string{"kty": "RSA", "kid": "r1", "alg": "RS256",
				"n": b64(rsaKey.N.Bytes()), "e": b64(big.NewInt(int64(rsaKey.E)).Bytes())},
			key: &rsaKey.PublicKey, method: jwt.SigningMethodRS256,
		},
		{
			alg: "ES256", token: sign(jwt.SigningMethodES256, "e1", ecKey),
			jwk: map[string]string{"kty": "EC", "kid": "e1", "alg": "ES256", "crv": "P-256",
				"x": b64(pad(ecKey.X.Bytes(), 32)), "y": b64(pad(ecKey.Y.Bytes(), 32))},
			key: &ecKey.PublicKey, method: jwt.SigningMethodES256,
		},
	}
}

func tollgateVerifier(tb testing.TB, f fixture) *tollgate.Verifier {
	keys, _ := json.Marshal(map[string]any{"keys": []any{f.jwk}})
	v, err := tollgate.NewVerifier(keys, tollgate.WithIssuers(issuer))
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func golangJWT(f fixture) func() error {
	parser := jwt.NewParser(jwt.WithValidMethods([]string{f.alg}))
	keyFunc := func(*jwt.Token) (any, error) { return f.key, nil }
	return func() error {
		var claims jwt.RegisteredClaims
		if _, err := parser.ParseWithClaims(f.token, &claims, keyFunc); err != nil {
			return err
		}
		if !claims.VerifyIssuer(issuer, true) {
			return fmt.Errorf("issuer")
		}
		return nil
	}
}

// TestSameVerdicts: both libraries accept every fixture, and refuse it with a changed signature.
func TestSameVerdicts(t *testing.T) {
	for _, f := range fixtures(t) {
		v := tollgateVerifier(t, f)
		if _, err := v.Verify([]byte(f.token), time.Now()); err != nil {
			t.Errorf("%s: tollgate: %v", f.alg, err)
		}
		if err := golangJWT(f)(); err != nil {
			t.Errorf("%s: golang-jwt: %v", f.alg, err)
		}
		bad := f
		last := bad.token[len(bad.token)-2]
		if last == 'A' {
			last = 'B'
		} else {
			last = 'A'
		}
		bad.token = bad.token[:len(bad.token)-2] + string(last) + bad.token[len(bad.token)-1:]
		if _, err := v.Verify([]byte(bad.token), time.Now()); err == nil {
			t.Errorf("%s: tollgate accepted a changed signature", f.alg)
		}
		if err := golangJWT(bad)(); err == nil {
			t.Errorf("%s: golang-jwt accepted a changed signature", f.alg)
		}
		v.Close()
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, f := range fixtures(b) {
		f := f
		v := tollgateVerifier(b, f)
		token := []byte(f.token)
		b.Run(f.alg+"/tollgate", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := v.Verify(token, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
		verify := golangJWT(f)
		b.Run(f.alg+"/golang-jwt", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := verify(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(f.alg+"/tollgate-parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := v.Verify(token, time.Now()); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		b.Run(f.alg+"/golang-jwt-parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := verify(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		v.Close()
	}
}
