package main

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sc115/sc115/acd"
	"github.com/sc115/sc115/acd/web"
)

// routeList is a mux that only lists what is mounted on it.
type routeList []string

func (r *routeList) HandleFunc(pattern string, _ func(http.ResponseWriter, *http.Request)) {
	*r = append(*r, pattern)
}

// TestOpenAPIDescribesEveryRoute (issue 15): the document served at
// /api/openapi.json has exactly the /api routes the service mounts — no
// route undocumented, no documented route missing — each with its roles.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	cfg := testConfig(t)
	s := startTest(t, cfg)
	var routes routeList
	auth := web.New(cfg.Web, cfg.ACD.APIToken, s.store, false, zerolog.Nop())
	acd.API(&routes, s.engine, auth)
	auth.Mount(&routes)
	web.NewWallboard(s.engine, time.Second, zerolog.Nop()).Mount(&routes, auth)
	web.Console(&routes, auth)
	web.Billing(&routes, auth, newAccounts(cfg))
	web.OpenAPI(&routes)
	mounted := map[string]bool{}
	for _, p := range routes {
		if method, path, ok := strings.Cut(p, " "); ok && strings.HasPrefix(path, "/api/") {
			mounted[method+" "+path] = true
		}
	}
	res, err := http.Get("http://" + s.httpLn.Addr().String() + "/api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil || res.StatusCode != 200 || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("/api/openapi.json: %d %v, openapi %q", res.StatusCode, err, doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			key := strings.ToUpper(method) + " " + path
			documented[key] = true
			var op struct {
				Roles []string `json:"x-roles"`
			}
			_ = json.Unmarshal(raw, &op)
			if len(op.Roles) == 0 && path != "/api/openapi.json" {
				t.Errorf("%s: no x-roles", key)
			}
		}
	}
	var missing, stale []string
	for k := range mounted {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !mounted[k] {
			stale = append(stale, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	if len(missing) > 0 || len(stale) > 0 || len(mounted) < 14 {
		t.Errorf("undocumented routes %v; documented but not mounted %v (%d mounted)", missing, stale, len(mounted))
	}
}
