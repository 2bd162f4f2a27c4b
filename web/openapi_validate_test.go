package web_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// The API tests' client checks every /api/v1 request it sends and every
// answer it gets against the OpenAPI document (kin-openapi), so a handler
// and its documentation cannot drift apart:
//   - an operation the document does not have is an error;
//   - an answer with a status the operation does not document, or a body
//     outside its schema, is an error;
//   - a request the document calls invalid must be refused (4xx): if the
//     server accepts it, the document is stricter than the code.
// A request the document calls valid may still be refused for a reason
// only the domain knows (a 409, or a 422 for a rule parameter).

type apiContract struct {
	doc    *openapi3.T
	router routers.Router

	mu        sync.Mutex
	exercised map[string]bool // "METHOD /path/{template}"
}

var contract = sync.OnceValues(func() (*apiContract, error) {
	b, err := os.ReadFile("../handlers/openapi.json")
	if err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(b)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, err
	}
	// The document's server is "/api/v1"; requests in tests go to a
	// random port, so match on the path alone.
	doc.Servers = openapi3.Servers{{URL: "/api/v1"}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &apiContract{doc: doc, router: router, exercised: map[string]bool{}}, nil
})

// checkAPI validates one request (with its body) and its answer and
// returns what does not match the document.
func checkAPI(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) []string {
	// HEAD is GET without a body (the document lists GET only).
	if !strings.HasPrefix(req.URL.Path, "/api/v1/") || req.URL.Path == "/api/v1/openapi.json" || req.Method == http.MethodHead ||
		resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusTooManyRequests {
		return nil
	}
	ct, err := contract()
	if err != nil {
		return []string{fmt.Sprintf("OpenAPI document: %v", err)}
	}
	var problems []string
	// A copy with only the path, so the router matches on it.
	r := req.Clone(context.Background())
	r.URL.Scheme, r.URL.Host, r.Host = "", "", ""
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := ct.router.FindRoute(r)
	if err != nil {
		if resp.StatusCode != http.StatusNotFound {
			problems = append(problems, fmt.Sprintf("OpenAPI: %s %s is not in the document (%v) but answered %d", req.Method, req.URL.Path, err, resp.StatusCode))
		}
		return problems
	}
	ct.mu.Lock()
	ct.exercised[req.Method+" "+route.Path] = true
	ct.mu.Unlock()

	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	if reqErr != nil && resp.StatusCode < 400 {
		problems = append(problems, fmt.Sprintf("OpenAPI: %s %s answered %d to a request the document calls invalid: %v", req.Method, req.URL.Path, resp.StatusCode, reqErr))
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	out.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		problems = append(problems, fmt.Sprintf("OpenAPI: the answer %d to %s %s is not as documented: %v\nbody: %.300s", resp.StatusCode, req.Method, req.URL.Path, err, respBody))
	}
	return problems
}

// TestOpenAPIContractCatchesDrift feeds the check answers that break the
// document, so a check that lets everything through fails here.
func TestOpenAPIContractCatchesDrift(t *testing.T) {
	answer := func(method, path, reqBody string, status int, body string) []string {
		req, _ := http.NewRequest(method, "http://127.0.0.1:1"+path, strings.NewReader(reqBody))
		if reqBody != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp := &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}}}
		return checkAPI(req, []byte(reqBody), resp, []byte(body))
	}
	for _, tc := range []struct {
		name             string
		method, path, in string
		status           int
		out              string
		wantProblem      bool
	}{
		{"documented error", "GET", "/api/v1/me", "", 401, `{"error":{"status":401,"code":"unauthorized","message":"Sign in."}}`, false},
		{"body outside the schema", "GET", "/api/v1/me", "", 200, `{"id":17}`, true},
		{"undocumented status", "GET", "/api/v1/me", "", 418, `{}`, true},
		{"undocumented operation", "GET", "/api/v1/not-documented", "", 200, `{}`, true},
		{"invalid request accepted", "POST", "/api/v1/ssh-keys", `{"name":"","public_key":"x"}`, 201, `{}`, true},
		{"invalid request refused", "POST", "/api/v1/ssh-keys", `{"name":"","public_key":"x"}`, 422,
			`{"error":{"status":422,"code":"invalid","message":"Please correct the marked fields.","fields":{"name":"Give the key a name."}}}`, false},
	} {
		got := answer(tc.method, tc.path, tc.in, tc.status, tc.out)
		if (len(got) > 0) != tc.wantProblem {
			t.Errorf("%s: problems %q, want a problem: %v", tc.name, got, tc.wantProblem)
		}
	}
}

// undocumentedOperations lists the document's operations no test sent.
func (ct *apiContract) unexercised() []string {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	var missing []string
	for path, item := range ct.doc.Paths.Map() {
		for method := range item.Operations() {
			if path == "/openapi.json" {
				continue
			}
			if !ct.exercised[method+" "+path] {
				missing = append(missing, method+" "+path)
			}
		}
	}
	sort.Strings(missing)
	return missing
}

// TestMain runs the package's tests and then, when all of them ran (no
// -run or -skip), fails if an operation of the document was never sent:
// an operation no test exercises is one the contract check cannot hold.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	all := flag.Lookup("test.run").Value.String() == "" && flag.Lookup("test.skip").Value.String() == ""
	if code == 0 && (all || os.Getenv("ALLMENDE_OPENAPI_COVERAGE") != "") {
		ct, err := contract()
		if err != nil {
			fmt.Fprintln(os.Stderr, "OpenAPI document:", err)
			os.Exit(1)
		}
		if missing := ct.unexercised(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "OpenAPI: %d documented operations no test sends:\n  %s\n", len(missing), strings.Join(missing, "\n  "))
			code = 1
		}
	}
	os.Exit(code)
}
