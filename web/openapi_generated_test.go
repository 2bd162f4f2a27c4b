package web_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"allmende/models/account"
)

// TestGeneratedRequests is our Schemathesis: for every documented
// operation it sends requests generated from the document — valid ones
// and broken ones (a required field missing, a wrong type, an unknown
// field, huge or control-character text, ids that exist and ids that
// don't) — as an admin, a board member, a member and nobody. No answer
// may be a server error, and every answer must be as documented, which
// checkAPI (run by the client) enforces, including "a request the
// document calls invalid is refused". The seed is fixed, so a failure
// repeats.
func TestGeneratedRequests(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	createUser(t, srv, "admin@example.org", account.RoleAdmin)
	createUser(t, srv, "board@example.org", account.RoleBoard)
	createUser(t, srv, "member@example.org", account.RoleMember)
	d := openDomain(t, cfg)
	tokens := []string{"", tokenFor(t, d, "admin@example.org"), tokenFor(t, d, "board@example.org"), tokenFor(t, d, "member@example.org")}
	ct, err := contract()
	if err != nil {
		t.Fatal(err)
	}
	g := &generator{rnd: rand.New(rand.NewPCG(42, 2026)), ids: []string{"01a235c4-55b3-77ca-9175-3d3d0f56eda8"}}
	c := newClient(t, base)

	type op struct {
		method, path string
		op           *openapi3.Operation
	}
	var ops []op
	for path, item := range ct.doc.Paths.Map() {
		for method, o := range item.Operations() {
			ops = append(ops, op{method, path, o})
		}
	}
	// GETs first: their answers fill the pool of ids that exist.
	sort.Slice(ops, func(i, j int) bool {
		if (ops[i].method == http.MethodGet) != (ops[j].method == http.MethodGet) {
			return ops[i].method == http.MethodGet
		}
		return ops[i].method+ops[i].path < ops[j].method+ops[j].path
	})
	sent, serverErrors := 0, 0
	statuses := map[int]int{}
	for _, o := range ops {
		for round := range 30 {
			broken := round%3 == 2
			path, query := g.params(o.op, o.path, broken)
			var body string
			if o.op.RequestBody != nil {
				if mt := o.op.RequestBody.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil {
					v := g.value(mt.Schema.Value, 0)
					if broken {
						v = g.breakValue(mt.Schema.Value, v)
					}
					b, _ := json.Marshal(v)
					body = string(b)
				}
			}
			token := tokens[round%len(tokens)]
			resp, answer := apiJSON(c, o.method, "/api/v1"+path+query, token, body)
			sent++
			statuses[resp.StatusCode]++
			if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusInsufficientStorage {
				serverErrors++
				t.Errorf("%s %s%s: %d\nrequest: %.300s\nanswer: %.300s", o.method, path, query, resp.StatusCode, body, answer)
			}
			g.harvest(answer)
		}
	}
	t.Logf("%d generated requests over %d operations, %d server errors; answers by status: %v", sent, len(ops), serverErrors, statuses)
	// A run that only met sign-in walls or 404s would prove nothing.
	if statuses[http.StatusOK]+statuses[http.StatusCreated]+statuses[http.StatusAccepted] == 0 || statuses[http.StatusUnprocessableEntity]+statuses[http.StatusBadRequest] == 0 {
		t.Errorf("the generated requests reached neither successes nor validation: %v", statuses)
	}
}

// generator makes values from schemas. ids holds ids seen in answers.
type generator struct {
	rnd *rand.Rand
	ids []string
}

var idRE = regexp.MustCompile(`"id":"([0-9a-f-]{36})"`)

func (g *generator) harvest(answer string) {
	for _, m := range idRE.FindAllStringSubmatch(answer, 20) {
		g.ids = append(g.ids, m[1])
	}
}

func (g *generator) id() string {
	if g.rnd.IntN(4) == 0 {
		return fmt.Sprintf("%08x-0000-7000-8000-%012x", g.rnd.Uint32(), g.rnd.Uint64()&0xffffffffffff)
	}
	return g.ids[g.rnd.IntN(len(g.ids))]
}

// params fills the path template and builds a query string.
func (g *generator) params(o *openapi3.Operation, path string, broken bool) (string, string) {
	var query []string
	for _, p := range o.Parameters {
		pv := p.Value
		switch pv.In {
		case "path":
			v := g.id()
			if broken && g.rnd.IntN(2) == 0 {
				v = "x%27%20OR%201=1"
			}
			path = strings.ReplaceAll(path, "{"+pv.Name+"}", v)
		case "query":
			if !pv.Required && g.rnd.IntN(2) == 0 {
				continue
			}
			var v any = "AAA"
			if pv.Schema != nil && !broken {
				v = g.value(pv.Schema.Value, 0)
			}
			query = append(query, pv.Name+"="+url.QueryEscape(fmt.Sprint(v)))
		}
	}
	if len(query) == 0 {
		return path, ""
	}
	return path, "?" + strings.Join(query, "&")
}

var samples = []string{"a", "Test", "node-a", "abc-1", "hello world", "DE", "12345", "x@example.org",
	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGsBvyqfYYmhE8Dzs7Z+Q4TeEJOJ8e5TbYv7GuJ6dPqJ test", "2027-01-15", "yes"}

// value makes a value that fits s as far as is easy (enums, bounds,
// formats, patterns tried against samples).
func (g *generator) value(s *openapi3.Schema, depth int) any {
	if s == nil || depth > 4 {
		return nil
	}
	if len(s.Enum) > 0 {
		return s.Enum[g.rnd.IntN(len(s.Enum))]
	}
	if s.Const != nil {
		return s.Const
	}
	if len(s.OneOf) > 0 {
		return g.value(s.OneOf[g.rnd.IntN(len(s.OneOf))].Value, depth+1)
	}
	typ := ""
	if s.Type != nil && len(*s.Type) > 0 {
		typ = (*s.Type)[g.rnd.IntN(len(*s.Type))]
	}
	switch typ {
	case "boolean":
		return g.rnd.IntN(2) == 0
	case "integer", "number":
		lo, hi := -5.0, 200.0
		if s.Min != nil {
			lo = *s.Min
		}
		if s.Max != nil {
			hi = *s.Max
		}
		if hi < lo {
			hi = lo
		}
		return int64(lo) + g.rnd.Int64N(int64(hi-lo)+1)
	case "array":
		n := g.rnd.IntN(3)
		out := make([]any, 0, n)
		for range n {
			if s.Items != nil {
				out = append(out, g.value(s.Items.Value, depth+1))
			}
		}
		return out
	case "object":
		out := map[string]any{}
		for name, p := range s.Properties {
			if slices.Contains(s.Required, name) || g.rnd.IntN(2) == 0 {
				out[name] = g.value(p.Value, depth+1)
			}
		}
		return out
	case "string":
		switch s.Format {
		case "uuid":
			return g.id()
		case "date":
			return fmt.Sprintf("20%02d-%02d-%02d", 25+g.rnd.IntN(4), 1+g.rnd.IntN(12), 1+g.rnd.IntN(28))
		case "date-time":
			return "2026-12-02T10:00:00Z"
		case "email":
			return []string{"member@example.org", "board@example.org", "nobody@example.org"}[g.rnd.IntN(3)]
		}
		if s.Pattern != "" {
			if re, err := regexp.Compile(s.Pattern); err == nil {
				for _, c := range g.rnd.Perm(len(samples)) {
					if re.MatchString(samples[c]) {
						return samples[c]
					}
				}
			}
		}
		return samples[g.rnd.IntN(len(samples))]
	}
	return nil
}

// breakValue makes one thing about v wrong.
func (g *generator) breakValue(s *openapi3.Schema, v any) any {
	obj, ok := v.(map[string]any)
	if !ok {
		return []any{v, v}
	}
	switch g.rnd.IntN(6) {
	case 0: // a required field missing
		if len(s.Required) > 0 {
			delete(obj, s.Required[g.rnd.IntN(len(s.Required))])
		}
	case 1: // an unknown field
		obj["unknown_field"] = 1
	case 2, 3: // a field of the wrong type, or absurd text
		for name := range s.Properties {
			obj[name] = []any{1, "x", nil, strings.Repeat("ü", 20000), "a\x00b\x1b[31m", -1, 1e300}[g.rnd.IntN(7)]
			break
		}
	case 4:
		return nil
	case 5:
		return "not an object"
	}
	return obj
}
