package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/labstack/echo/v4"

	"allmende/models"
)

// bindJSON decodes an API request body into dst strictly: unknown fields
// and trailing data are errors, so a typo in a field name is reported
// instead of silently ignored. Failures are 400s in the API's error shape.
func bindJSON(c echo.Context, dst any) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if ct != "" && !strings.HasPrefix(ct, echo.MIMEApplicationJSON) {
		return &models.Error{Code: http.StatusUnsupportedMediaType, Safe: "send the body as application/json"}
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return echo.ErrStatusRequestEntityTooLarge
		}
		return &models.Error{Code: http.StatusBadRequest, Safe: "the body cannot be read", Err: err}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return &models.Error{Code: http.StatusBadRequest, Safe: "malformed JSON body: " + jsonProblem(err), Err: err}
	}
	if field := nullForValue(body, dst); field != "" {
		return &models.Error{Code: http.StatusBadRequest, Safe: "malformed JSON body: field " + field + " is null; leave it out or give a value",
			Fields: map[string]string{field: "null is not a value here"}}
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return &models.Error{Code: http.StatusBadRequest, Safe: "malformed JSON body: trailing data after the object"}
	}
	return nil
}

// nullForValue names a top-level field sent as null whose destination
// cannot hold "no value" (a string, number or bool): encoding/json would
// silently leave it empty, which the OpenAPI document does not allow.
// Pointer, slice and map fields may be null (a PATCH clearing a setting).
func nullForValue(body []byte, dst any) string {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return ""
	}
	t := reflect.TypeOf(dst)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return ""
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		raw, ok := fields[name]
		if !ok || string(bytes.TrimSpace(raw)) != "null" {
			continue
		}
		switch f.Type.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		default:
			return name
		}
	}
	return ""
}

// jsonProblem describes a decoding error without echoing Go type names.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return "syntax error"
	case errors.As(err, &typ):
		return "field " + typ.Field + " has the wrong type"
	case errors.Is(err, io.EOF):
		return "empty body"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "cannot be read"
}
