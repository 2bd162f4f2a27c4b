package web_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
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

// kin-openapi decodes JSON, text and forms only. An XML answer (the SEPA
// file) must at least be well-formed; the document's schema, a string,
// then holds its text.
func init() { openapi3filter.RegisterBodyDecoder("application/xml", xmlBodyDecoder) }

func xmlBodyDecoder(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		if _, err := dec.Token(); errors.Is(err, io.EOF) {
			return string(b), nil
		} else if err != nil {
			return nil, fmt.Errorf("not well-formed XML: %w", err)
		}
	}
}

// checkAPI validates one request (with its body) and its answer and
// returns what does not match the document.
func checkAPI(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) []string {
	if !strings.HasPrefix(req.URL.Path, "/api/v1/") || req.URL.Path == "/api/v1/openapi.json" {
		return nil
	}
	ct, err := contract()
	if err != nil {
		return []string{fmt.Sprintf("OpenAPI document: %v", err)}
	}
	// A copy with only the path, so the router matches on it.
	r := req.Clone(context.Background())
	r.URL.Scheme, r.URL.Host, r.Host = "", "", ""
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	if resp.StatusCode == http.StatusMethodNotAllowed || req.Method == http.MethodOptions {
		return ct.checkMethods(r, resp, respBody)
	}
	head := req.Method == http.MethodHead
	if head {
		// HEAD is GET without a body (the document lists GET only): the
		// status and headers are GET's.
		r.Method = http.MethodGet
	}
	var problems []string
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
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: head}}
	out.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		problems = append(problems, fmt.Sprintf("OpenAPI: the answer %d to %s %s is not as documented: %v\nbody: %.300s", resp.StatusCode, req.Method, req.URL.Path, err, respBody))
	}
	if documented := route.Operation.Responses.Status(resp.StatusCode); documented != nil {
		problems = append(problems, headersDocumented(req, resp, respBody, documented.Value, head)...)
	}
	return problems
}

// everyAnswer are the headers the server puts on every answer (transport,
// caching, the security headers of web/routes.go): the document's
// info.description names them once instead of every response.
var everyAnswer = []string{"Content-Type", "Content-Length", "Content-Encoding", "Transfer-Encoding", "Date", "Vary",
	"Cache-Control", "Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
	"Strict-Transport-Security"}

// headersDocumented checks what kin-openapi leaves out: it validates the
// headers a response declares, but not that every header sent is declared,
// nor that an answer with a body documents a content type.
func headersDocumented(req *http.Request, resp *http.Response, body []byte, documented *openapi3.Response, head bool) []string {
	var problems []string
	for name := range resp.Header {
		if slices.Contains(everyAnswer, name) {
			continue
		}
		if !slices.ContainsFunc(slices.Collect(maps.Keys(documented.Headers)), func(d string) bool { return http.CanonicalHeaderKey(d) == name }) {
			problems = append(problems, fmt.Sprintf("OpenAPI: the answer %d to %s %s sends the header %s=%q, which the document does not declare",
				resp.StatusCode, req.Method, req.URL.Path, name, resp.Header.Get(name)))
		}
	}
	if !head && len(body) > 0 && len(documented.Content) == 0 {
		problems = append(problems, fmt.Sprintf("OpenAPI: the answer %d to %s %s has a body (%s) but the document declares none",
			resp.StatusCode, req.Method, req.URL.Path, resp.Header.Get("Content-Type")))
	}
	if ct, ok := resp.Header["Content-Type"]; ok && len(documented.Content) == 0 {
		problems = append(problems, fmt.Sprintf("OpenAPI: the answer %d to %s %s sends Content-Type %q without a documented body",
			resp.StatusCode, req.Method, req.URL.Path, ct))
	}
	return problems
}

// checkMethods checks a 405 or an answer to OPTIONS: the body (405) as the
// document's MethodNotAllowed response, and the Allow header against the
// operations the document has for the path (HEAD wherever GET, OPTIONS
// everywhere).
func (ct *apiContract) checkMethods(r *http.Request, resp *http.Response, body []byte) []string {
	var problems []string
	var documented []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(context.Background())
		probe.Method = m
		// The legacy router matches /ssh-keys against /ssh-keys/{id} with
		// an empty id: that is not an operation of this path.
		if _, params, err := ct.router.FindRoute(probe); err == nil && !slices.Contains(slices.Collect(maps.Values(params)), "") {
			documented = append(documented, m)
		}
	}
	if slices.Contains(documented, http.MethodGet) {
		documented = append(documented, http.MethodHead)
	}
	documented = append(documented, http.MethodOptions)
	if len(documented) == 1 {
		return []string{fmt.Sprintf("OpenAPI: %s %s answered %d, but the document has no operation at this path", r.Method, r.URL.Path, resp.StatusCode)}
	}
	var allow []string
	for _, m := range strings.Split(resp.Header.Get("Allow"), ",") {
		if m = strings.TrimSpace(m); m != "" {
			allow = append(allow, m)
		}
	}
	slices.Sort(allow)
	slices.Sort(documented)
	if !slices.Equal(allow, documented) {
		problems = append(problems, fmt.Sprintf("OpenAPI: %s %s: Allow %q, but the document has %q", r.Method, r.URL.Path, allow, documented))
	}
	var want *openapi3.ResponseRef
	switch {
	case resp.StatusCode == http.StatusMethodNotAllowed:
		want = ct.doc.Components.Responses["MethodNotAllowed"]
	case r.Method == http.MethodOptions && resp.StatusCode == http.StatusNoContent:
		want = ct.doc.Components.Responses["Options"]
	}
	if want == nil {
		return append(problems, fmt.Sprintf("OpenAPI: %s %s answered %d, which the document's components do not describe", r.Method, r.URL.Path, resp.StatusCode))
	}
	// The answer belongs to no operation: validate it as one whose only
	// response is the component.
	op := openapi3.NewOperation()
	op.Responses = openapi3.NewResponses(openapi3.WithStatus(resp.StatusCode, want))
	route := &routers.Route{Spec: ct.doc, Path: r.URL.Path, Method: r.Method, Operation: op}
	in := &openapi3filter.RequestValidationInput{Request: r, Route: route}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: r.Method == http.MethodHead}}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		problems = append(problems, fmt.Sprintf("OpenAPI: the answer %d to %s %s is not as documented: %v\nbody: %.300s", resp.StatusCode, r.Method, r.URL.Path, err, body))
	}
	return append(problems, headersDocumented(r, resp, body, want.Value, r.Method == http.MethodHead)...)
}

// TestOpenAPIContractCatchesDrift feeds the check answers that break the
// document, so a check that lets everything through fails here.
func TestOpenAPIContractCatchesDrift(t *testing.T) {
	answer := func(method, path, reqBody string, status int, body string, header http.Header) []string {
		req, _ := http.NewRequest(method, "http://127.0.0.1:1"+path, strings.NewReader(reqBody))
		if reqBody != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp := &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}}}
		for k, v := range header {
			if v == nil {
				resp.Header.Del(k)
			} else {
				resp.Header[k] = v
			}
		}
		return checkAPI(req, []byte(reqBody), resp, []byte(body))
	}
	const sepaRequest = `{"creditor_name":"Allmende eG","creditor_iban":"DE89370400440532013000","creditor_id":"DE98ZZZ09999999999","collection_date":"2026-12-10"}`
	sepaFile := http.Header{"Content-Type": {"application/xml; charset=utf-8"}, "Content-Disposition": {`attachment; filename="allmende-2026-11-pain.008.xml"`}}
	const notAllowed = `{"error":{"status":405,"code":"method_not_allowed","message":"This address does not accept that kind of request."}}`
	for _, tc := range []struct {
		name             string
		method, path, in string
		status           int
		out              string
		header           http.Header
		wantProblem      bool
	}{
		{"undeclared header", "GET", "/api/v1/me", "", 401, `{"error":{"status":401,"code":"unauthorized","message":"Sign in."}}`,
			http.Header{"Location": {"/elsewhere"}}, true},
		{"declared header", "POST", "/api/v1/membership/application", `{}`, 201, `{}`, http.Header{"Location": {"/api/v1/membership"}}, true},
		{"required header missing", "POST", "/api/v1/abuse-reports", `{}`, 429,
			`{"error":{"status":429,"code":"rate_limited","message":"Later."}}`, nil, true},
		{"required header sent", "POST", "/api/v1/abuse-reports", `{}`, 429,
			`{"error":{"status":429,"code":"rate_limited","message":"Later."}}`, http.Header{"Retry-After": {"30"}}, false},
		{"body where none is documented", "POST", "/api/v1/board/costs/01a235c4-55b3-77ca-9175-3d3d0f56eda8/reverse", "", 204, `{}`, nil, true},
		{"content type where no body is documented", "POST", "/api/v1/board/costs/01a235c4-55b3-77ca-9175-3d3d0f56eda8/reverse", "", 204, ``, nil, true},
		{"no body as documented", "POST", "/api/v1/board/costs/01a235c4-55b3-77ca-9175-3d3d0f56eda8/reverse", "", 204, ``,
			http.Header{"Content-Type": nil}, false},
		{"405 as documented", "DELETE", "/api/v1/me", "", 405, notAllowed, http.Header{"Allow": {"GET, HEAD, OPTIONS"}}, false},
		{"405 with an Allow unlike the document", "DELETE", "/api/v1/me", "", 405, notAllowed, http.Header{"Allow": {"GET, POST, HEAD, OPTIONS"}}, true},
		{"405 without Allow", "DELETE", "/api/v1/me", "", 405, notAllowed, nil, true},
		{"SEPA file as documented", "POST", "/api/v1/board/statements/sepa", sepaRequest, 200, `<?xml version="1.0"?><Document/>`, sepaFile, false},
		{"SEPA file that is no XML", "POST", "/api/v1/board/statements/sepa", sepaRequest, 200, `<Document>`, sepaFile, true},
		{"SEPA file of another type", "POST", "/api/v1/board/statements/sepa", sepaRequest, 200, `"<Document/>"`,
			http.Header{"Content-Disposition": sepaFile["Content-Disposition"]}, true},
		{"SEPA file without Content-Disposition", "POST", "/api/v1/board/statements/sepa", sepaRequest, 200, `<Document/>`,
			http.Header{"Content-Type": sepaFile["Content-Type"]}, true},
		{"OPTIONS as documented", "OPTIONS", "/api/v1/ssh-keys", "", 204, ``, http.Header{"Allow": {"GET, POST, HEAD, OPTIONS"}, "Content-Type": nil}, false},
		{"documented error", "GET", "/api/v1/me", "", 401, `{"error":{"status":401,"code":"unauthorized","message":"Sign in."}}`, nil, false},
		{"body outside the schema", "GET", "/api/v1/me", "", 200, `{"id":17}`, nil, true},
		{"undocumented status", "GET", "/api/v1/me", "", 418, `{}`, nil, true},
		{"undocumented operation", "GET", "/api/v1/not-documented", "", 200, `{}`, nil, true},
		{"invalid request accepted", "POST", "/api/v1/ssh-keys", `{"name":"","public_key":"x"}`, 201, `{}`, nil, true},
		{"invalid request refused", "POST", "/api/v1/ssh-keys", `{"name":"","public_key":"x"}`, 422,
			`{"error":{"status":422,"code":"invalid","message":"Please correct the marked fields.","fields":{"name":"Give the key a name."}}}`, nil, false},
	} {
		got := answer(tc.method, tc.path, tc.in, tc.status, tc.out, tc.header)
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
