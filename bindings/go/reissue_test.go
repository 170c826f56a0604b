package tollgate_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	tollgate "github.com/tollgate/tollgate/bindings/go"
)

// TestReissueInTenantPath: a token allowed on a route is re-issued, and the new token is allowed
// when the old one has expired (as tests/engine.rs's re-issue test).
func TestReissueInTenantPath(t *testing.T) {
	d := loadDeployment(t, "tenant-path")
	e := newEngine(t, d)
	defer e.Close()
	var c scenarioCase
	for _, sc := range d.Cases {
		if sc.Name == "Admin in A writes items in A" {
			c = sc
		}
	}
	if c.Name == "" {
		t.Fatal("no such case")
	}
	later := d.Now.Add(500 * time.Second) // alice's token expires at now+540
	token, dec, err := e.ReissueRequest(c.Method, c.Path, c.Headers, later)
	if err != nil || !dec.Allowed() || dec.Subject != "alice" || token == "" {
		t.Fatalf("reissue: %q, %+v, %v", token, dec, err)
	}
	at := later.Add(590 * time.Second)
	fresh, err := e.CheckRequest(c.Method, c.Path, [][2]string{{"token", token}}, at)
	if err != nil || !fresh.Allowed() {
		t.Fatalf("the new token: %+v, %v", fresh, err)
	}
	if fresh.Subject != "alice" || fresh.Tenant != "A" || !fresh.ExpiresAt.Equal(later.Add(600*time.Second)) ||
		strings.Join(fresh.Roles, ",") != "Admin,Viewer" {
		t.Errorf("the new token's principal: %+v", fresh)
	}
	old, err := e.CheckRequest(c.Method, c.Path, c.Headers, at)
	if err != nil || old.Reason != "expired" {
		t.Errorf("the old token: %+v, %v", old, err)
	}
	// A refusal is not re-issued; its decision comes back to answer it with.
	token, dec, err = e.ReissueRequest(c.Method, c.Path, nil, later)
	if !errors.Is(err, tollgate.ErrSigningFailed) || token != "" || dec.Reason != "missing_credentials" {
		t.Errorf("a refusal: %q, %+v, %v", token, dec, err)
	}
	// The *http.Request form.
	r := httpRequest(c)
	token, dec, err = e.Reissue(r, later)
	if err != nil || !dec.Allowed() || token == "" {
		t.Errorf("Reissue(*http.Request): %q, %+v, %v", token, dec, err)
	}
	e.Close()
	if _, _, err := e.ReissueRequest(c.Method, c.Path, c.Headers, later); !errors.Is(err, tollgate.ErrNullParameter) {
		t.Errorf("closed engine: %v", err)
	}
}
