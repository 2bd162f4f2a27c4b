// Form parsing shared by several pages: repeated fields, optional numbers, field errors, lines.

package handlers

import (
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"allmende/views"
)

// formList returns every value of a repeated form field.
func formList(c echo.Context, name string) []string {
	params, err := c.FormParams()
	if err != nil {
		return nil
	}
	return params[name]
}

// optNumber reads an optional whole number from a form: blank is 0, and
// anything but a non-negative number is an error on the field.
func optNumber(f *views.Form, name, msg string) int {
	s := strings.TrimSpace(f.Value(name))
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		fieldErr(f, name, msg)
		return 0
	}
	return n
}

// fieldErr marks one field of a form as wrong.
func fieldErr(f *views.Form, name, msg string) {
	if f.Errors == nil {
		f.Errors = map[string]string{}
	}
	f.Errors[name] = msg
}

// lines splits a textarea into its non-blank lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
