package i18n_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"allmende/i18n"
)

// TestCatalogue checks that every message the code passes to i18n.T or
// i18n.N as a literal has a German text (and both plural forms), and that
// the catalogue holds nothing the code no longer has.
func TestCatalogue(t *testing.T) {
	catalogue := map[string]any{} // message → German
	fileOf := map[string]string{} // message → catalogue file
	files, err := filepath.Glob("locales/*.toml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no catalogue in locales/: %v", err)
	}
	for _, f := range files {
		var part map[string]any
		if _, err := toml.DecodeFile(f, &part); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !strings.HasSuffix(f, "de.toml") {
			t.Errorf("%s: a catalogue file's name ends in de.toml (go-i18n takes the language from it)", f)
		}
		for k, v := range part {
			if other, dup := fileOf[k]; dup {
				t.Errorf("%q is in both %s and %s", k, other, f)
			}
			catalogue[k], fileOf[k] = v, f
		}
	}
	used := map[string]string{}   // message → where
	literals := map[string]bool{} // every string literal of the code
	fset := token.NewFileSet()
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != ".." || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					literals[s] = true
				}
			}
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			idx, ok := messageArgs[pkg.Name+"."+sel.Sel.Name]
			if !ok {
				return true
			}
			for _, i := range idx {
				if i >= len(call.Args) {
					continue
				}
				lit := call.Args[i]
				s, ok := stringOf(lit)
				if !ok {
					continue
				}
				used[s] = fset.Position(lit.Pos()).String()
				entry, ok := catalogue[s]
				switch {
				case !ok:
					t.Errorf("%s: no German text for %q", fset.Position(lit.Pos()), s)
				case sel.Sel.Name == "N":
					forms, ok := entry.(map[string]any)
					if !ok || forms["one"] == nil || forms["other"] == nil {
						t.Errorf("%s: %q needs \"one\" and \"other\" in German", fset.Position(lit.Pos()), s)
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(used) < 5 {
		t.Fatalf("found only %d messages in the code: the scan is broken", len(used))
	}
	var stale []string
	for k := range catalogue {
		// Messages of the domain (field errors and the like) are
		// translated where they are shown, from a variable.
		if _, ok := used[k]; !ok && !literals[k] {
			stale = append(stale, k)
		}
	}
	sort.Strings(stale)
	for _, k := range stale {
		t.Errorf("%s: %q is used nowhere in the code", fileOf[k], k)
	}
}

// messageArgs are the functions that take a message as a literal, and
// which of their arguments it is: i18n's, and the domain's messages with
// parts filled in (models.Msg), which the web layer translates.
var messageArgs = map[string][]int{
	"i18n.T":           {1},
	"i18n.N":           {2},
	"models.Msgf":      {0},
	"models.Conflictf": {0},
	"models.Invalidf":  {1},
	"models.BadQueryf": {1},
}

// stringOf is the value of a string literal, or of literals joined with +.
func stringOf(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", false
		}
		a, ok := stringOf(e.X)
		if !ok {
			return "", false
		}
		b, ok := stringOf(e.Y)
		return a + b, ok
	case *ast.ParenExpr:
		return stringOf(e.X)
	}
	return "", false
}

func TestNegotiateAndFormat(t *testing.T) {
	for header, want := range map[string]i18n.Lang{
		"de-DE,de;q=0.9,en;q=0.8": i18n.German,
		"de-AT":                   i18n.German,
		"en-GB,en;q=0.9":          i18n.English,
		"fr-FR":                   i18n.English,
		"":                        i18n.English,
		"fr;q=0.9,de;q=0.8":       i18n.German,
	} {
		if got := i18n.Negotiate(header); got != want {
			t.Errorf("Negotiate(%q) = %s, want %s", header, got, want)
		}
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	de := i18n.WithLocale(context.Background(), i18n.NewLocale(i18n.German, berlin))
	en := i18n.WithLocale(context.Background(), i18n.NewLocale(i18n.English, time.UTC))
	at := time.Date(2026, 12, 2, 23, 30, 59, 0, time.UTC)
	for _, c := range []struct{ got, want string }{
		{i18n.Money(de, 123456), "1.234,56 €"},
		{i18n.Money(en, 123456), "€1,234.56"},
		{i18n.Money(de, -5), "−0,05 €"},
		{i18n.Number(de, 1234567), "1.234.567"},
		{i18n.Date(de, at), "3.12.2026"}, // already the 3rd in Berlin
		{i18n.Date(en, at), "2 Dec 2026"},
		{i18n.DateTime(de, at), "3.12.2026, 00:30 CET"},
		{i18n.DateTime(en, at), "2 Dec 2026, 23:30 UTC"},
		{i18n.T(de, "never"), "nie"},
		{i18n.T(en, "never"), "never"},
		{i18n.N(de, "%d virtual machine failing", "%d virtual machines failing", 1), "1 virtuelle Maschine mit Fehler"},
		{i18n.N(de, "%d virtual machine failing", "%d virtual machines failing", 3), "3 virtuelle Maschinen mit Fehler"},
		{i18n.N(de, "%d host", "%d hosts", 0), "0 Hosts"},
		{i18n.N(en, "%d host", "%d hosts", 1), "1 host"},
		{i18n.N(en, "%d host", "%d hosts", 0), "0 hosts"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if _, err := os.Stat("locales/de.toml"); err != nil {
		t.Fatal(err)
	}
}
