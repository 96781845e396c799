package serviceconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// object is a decoded JSON object; values are map[string]any, []any,
// json.Number, string, bool or nil.
type object = map[string]any

// decode parses js as exactly one JSON value, keeping numbers as their
// text.
func decode(js string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(js))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("unexpected end of JSON input")
		}
		return nil, fmt.Errorf("invalid service config JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err == nil {
			err = errors.New("data after the top-level value")
		}
		return nil, fmt.Errorf("invalid service config JSON: %w", err)
	}
	return v, nil
}

// errf returns the error "path: msg".
func errf(path, format string, args ...any) error {
	return errors.New(path + ": " + fmt.Sprintf(format, args...))
}

// missing is the error for an absent required field.
func missing(path string) error { return errf(path, "missing (required)") }

const maxShown = 64

// show renders a JSON value for an error message: compact JSON, cut short
// when long.
func show(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("%v", v)
	}
	s := strings.TrimSuffix(b.String(), "\n")
	if len(s) <= maxShown {
		return s
	}
	cut := maxShown
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// field returns o's value for name and whether it is present and not
// null. An exact key wins; otherwise a key equal to name under Unicode
// case folding is used (the first in byte order, for determinism), as
// grpc-go's encoding/json decoding does.
func field(o object, name string) (any, bool) {
	if v, ok := o[name]; ok {
		return v, v != nil
	}
	found := false
	var key string
	for k := range o {
		if strings.EqualFold(k, name) && (!found || k < key) {
			key, found = k, true
		}
	}
	if !found {
		return nil, false
	}
	v := o[key]
	return v, v != nil
}

// numberText returns the text of a JSON number, or of a string holding
// one (the proto JSON mapping accepts both for numeric fields).
func numberText(v any) (string, bool) {
	switch x := v.(type) {
	case json.Number:
		return string(x), true
	case string:
		if x == "" || !(x[0] == '-' || (x[0] >= '0' && x[0] <= '9')) {
			return "", false
		}
		if !json.Valid([]byte(x)) {
			return "", false
		}
		return x, true
	}
	return "", false
}

// number returns v as a finite float64.
func number(path string, v any) (float64, error) {
	text, ok := numberText(v)
	if !ok {
		return 0, errf(path, "%s is not a number", show(v))
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, errf(path, "%s is out of range", show(v))
	}
	return f, nil
}

// integer returns v as an integral float64 (exact for every value a
// uint32 field can hold).
func integer(path string, v any) (float64, error) {
	f, err := number(path, v)
	if err != nil {
		if _, ok := numberText(v); !ok {
			return 0, errf(path, "%s is not an integer", show(v))
		}
		return 0, err
	}
	if f != math.Trunc(f) {
		return 0, errf(path, "%s is not an integer", show(v))
	}
	return f, nil
}

// boolean returns v as a bool.
func boolean(path string, v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, errf(path, "%s is not a boolean", show(v))
	}
	return b, nil
}

// str returns v as a string.
func str(path string, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", errf(path, "%s is not a string", show(v))
	}
	return s, nil
}

// obj returns v as an object.
func obj(path string, v any) (object, error) {
	o, ok := v.(object)
	if !ok {
		return nil, errf(path, "%s is not an object", show(v))
	}
	return o, nil
}

// array returns v as an array.
func array(path string, v any) ([]any, error) {
	a, ok := v.([]any)
	if !ok {
		return nil, errf(path, "%s is not an array", show(v))
	}
	return a, nil
}
