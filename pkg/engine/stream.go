package engine

import (
	"bytes"
	"io"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

// StreamReader is an Engine that can also read its object as JSON from a
// stream in one pass, holding only what it decodes, never the text: an
// exit handler's memory is then that of the run, whatever the size of the
// object. Package argo's Engine is one.
type StreamReader interface {
	Engine
	// ReadStream is Read of the JSON text r.
	ReadStream(r io.Reader, opts Options) (run *pipeline.Run, warnings []string, err error)
}

// SniffJSON returns the top-level apiVersion and kind of the JSON object
// that prefix begins, as far as prefix tells them (kubectl prints both
// first); empty when prefix is not the start of a JSON object or does not
// reach them. It reads nothing but prefix.
func SniffJSON(prefix []byte) (apiVersion, kind string) {
	dec := jsontext.NewDecoder(bytes.NewReader(prefix), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if t, err := dec.ReadToken(); err != nil || t.Kind() != '{' {
		return "", ""
	}
	for dec.PeekKind() == '"' {
		name, err := dec.ReadToken()
		if err != nil {
			return apiVersion, kind
		}
		switch n := name.String(); {
		case (n == "apiVersion" || n == "kind") && dec.PeekKind() == '"':
			v, err := dec.ReadToken()
			if err != nil {
				return apiVersion, kind
			}
			if n == "kind" {
				kind = v.String()
			} else {
				apiVersion = v.String()
			}
			if apiVersion != "" && kind != "" {
				return apiVersion, kind
			}
		default:
			if dec.SkipValue() != nil {
				return apiVersion, kind
			}
		}
	}
	return apiVersion, kind
}
