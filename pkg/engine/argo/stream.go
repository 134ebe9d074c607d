package argo

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/andybalholm/brotli"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/klauspost/compress/zstd"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/step-metrics/step-metrics/pkg/engine"
	"github.com/step-metrics/step-metrics/pkg/limits"
	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

// This file is the Workflow decoder: one pass over the JSON text, read
// from a stream, so that neither the object nor a decompressed node map is
// ever held whole. status.nodes (and the node map inside
// status.compressedNodes) is read token by token, node by node, into only
// the fields FromWorkflow reads, with the strings that repeat (IDs as
// children and boundaries, template and host names, phases) stored once.
// The rest of the object (metadata, spec, the other status fields) is
// small and goes through encoding/json, member by member when a member
// does not decode, so a value of the wrong type costs that member and a
// warning naming it, never the rest of the object.

// nodeCost is what a node costs in memory once decoded, apart from its
// strings (counted as they are kept), with its share of the steps built
// from it: measured at 50,000 nodes of bench/synth (heap profile after the
// walk, 44.5 MB live), a node is 288 bytes and its map entry about 35, and
// the steps built from it about 360 bytes a node (a 288-byte Step and a
// resource map for each pod, 55% of the nodes); about 150 bytes of strings
// come on top.
const nodeCost = 768

// nodeBudget is the memory the decoded nodes may take, as decoder.used
// counts it: a quarter of limits.Memory, so that with the garbage
// collector's headroom the process stays below its limit. Tests lower it.
var nodeBudget = func() int64 { return limits.Memory() / 4 }

// maxRun is the longest run of input bytes without a quote outside a
// string, or the longest string: the decoder buffers one token whole, so
// a single 1 GB string (a compressed node map inflates to that from a few
// KB) must be refused before it is buffered. Tests lower it.
var maxRun int64 = 8 << 20

// maxInflated is the most bytes a compressed node map may inflate to:
// limits.Input. Tests lower it.
var maxInflated = limits.Input

// ErrTooLarge is wrapped by errors about input too large for the memory
// the process may use (too many nodes, a node map that inflates too far).
var ErrTooLarge = errors.New("too large for the memory limit")

// decoder reads one Workflow.
type decoder struct {
	dec      *jsontext.Decoder
	wf       *wfv1.Workflow
	nodeMap  nodeMap
	v4       v4Nodes
	warnings []string
	strs     map[string]string // interned strings
	scratch  []byte
	// wrongType counts fields skipped for their type, by field path, so
	// that a field wrong in every node is one warning.
	wrongType map[string]int
	badTime   map[string]int
	nodes     int
	used      int64 // memory taken by the nodes, estimated (nodeCost and strings)
	budget    int64
}

func newDecoder(r io.Reader) *decoder {
	return &decoder{
		dec:       jsontext.NewDecoder(&runBound{r: r, max: maxRun}, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)),
		wf:        &wfv1.Workflow{},
		strs:      map[string]string{},
		wrongType: map[string]int{},
		badTime:   map[string]int{},
		budget:    nodeBudget(),
	}
}

// readWorkflow decodes a Workflow from the JSON text r. Errors are one
// line and say what is wrong; the warnings are about fields skipped.
//
// The nodes are returned apart, in the walk's type; wf.Status.Nodes is
// left empty (Decode fills it from them).
func readWorkflow(r io.Reader) (*wfv1.Workflow, nodeMap, v4Nodes, []string, error) {
	d := newDecoder(r)
	if err := d.object(); err != nil {
		return nil, nil, nil, d.warnings, err
	}
	d.summarize()
	if err := checkKind(d.wf, len(d.nodeMap)); err != nil {
		return nil, nil, nil, d.warnings, err
	}
	return d.wf, d.nodeMap, d.v4, d.warnings, nil
}

func (d *decoder) warnf(format string, args ...any) {
	d.warnings = append(d.warnings, fmt.Sprintf(format, args...))
}

// summarize turns the per-field counts into warnings, in field order.
func (d *decoder) summarize() {
	for _, f := range slices.Sorted(maps.Keys(d.wrongType)) {
		d.warnf("ignored %s in %d node(s): a value of the wrong type", f, d.wrongType[f])
	}
	for _, f := range slices.Sorted(maps.Keys(d.badTime)) {
		d.warnf("ignored %s in %d node(s): not an RFC 3339 time between the years 1678 and 2262", f, d.badTime[f])
	}
}

// syntax describes a JSON syntax or I/O error, with where it happened.
func (d *decoder) syntax(err error) error {
	if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrLongToken) {
		return fmt.Errorf("decode workflow: %w", err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("decode workflow: the JSON text ends early (cut off?) at byte %d", d.dec.InputOffset())
	}
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		// Its message is the offset, the JSON pointer and the problem.
		return fmt.Errorf("decode workflow: %s", engine.Truncate(engine.OneLine(strings.TrimPrefix(se.Error(), "jsontext: ")), 300))
	}
	return fmt.Errorf("decode workflow: %s", engine.Truncate(engine.OneLine(err.Error()), 300))
}

// object reads the top-level object.
func (d *decoder) object() error {
	switch k := d.dec.PeekKind(); k {
	case '{':
	case 0:
		_, err := d.dec.ReadToken()
		if err == nil || errors.Is(err, io.EOF) {
			return errors.New("decode workflow: input is empty")
		}
		return d.syntax(err)
	default:
		return fmt.Errorf("decode workflow: expected an object, got a JSON %s", kindName(k))
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return d.syntax(err)
	}
	for d.dec.PeekKind() != '}' {
		name, err := d.name()
		if err != nil {
			return err
		}
		switch name {
		case "apiVersion":
			d.wf.APIVersion, err = d.topString(name)
		case "kind":
			d.wf.Kind, err = d.topString(name)
		case "metadata":
			err = d.members(name, &d.wf.ObjectMeta, map[string]bool{"managedFields": true})
		case "spec":
			err = d.spec()
		case "status":
			err = d.status()
		default:
			err = d.dec.SkipValue()
		}
		if err != nil {
			return d.syntax(err)
		}
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return d.syntax(err)
	}
	// One object: anything but blanks after it is not a Workflow.
	if k := d.dec.PeekKind(); k != 0 {
		return errors.New("decode workflow: more than one JSON value; pass a single Workflow (kubectl get wf NAME -o json)")
	}
	return nil
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '[':
		return "array"
	case '"':
		return "string"
	case '0':
		return "number"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "value"
}

// name reads an object member's name.
func (d *decoder) name() (string, error) {
	t, err := d.dec.ReadToken()
	if err != nil {
		return "", d.syntax(err)
	}
	return t.String(), nil
}

// topString reads a top-level string field; another type is a warning.
func (d *decoder) topString(field string) (string, error) {
	if d.dec.PeekKind() != '"' {
		d.warnf("ignored field %q: not a string", field)
		return "", d.dec.SkipValue()
	}
	t, err := d.dec.ReadToken()
	if err != nil {
		return "", err
	}
	return t.String(), nil
}

// members decodes the object at the decoder into dst (a pointer to a
// struct) with encoding/json: whole when it decodes, else member by
// member, so that one member of the wrong type is skipped with a warning
// naming it and the others are kept. skip names members not decoded.
func (d *decoder) members(path string, dst any, skip map[string]bool) error {
	if d.dec.PeekKind() != '{' {
		if d.dec.PeekKind() != 'n' {
			d.warnf("ignored %s: not an object", path)
		}
		return d.dec.SkipValue()
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return err
	}
	for d.dec.PeekKind() != '}' {
		t, err := d.dec.ReadToken()
		if err != nil {
			return err
		}
		name := t.String()
		if skip[name] {
			if err := d.dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		v, err := d.dec.ReadValue()
		if err != nil {
			return err
		}
		d.member(path+"."+name, name, v, dst)
	}
	_, err := d.dec.ReadToken()
	return err
}

// member decodes {name: v} into dst, or warns.
func (d *decoder) member(path, name string, v jsontext.Value, dst any) {
	d.scratch = append(d.scratch[:0], '{')
	d.scratch, _ = jsontext.AppendQuote(d.scratch, name)
	d.scratch = append(d.scratch, ':')
	d.scratch = append(d.scratch, v...)
	d.scratch = append(d.scratch, '}')
	if err := json.Unmarshal(d.scratch, dst); err != nil {
		d.warnf("ignored %s: %s", path, describeJSONError(err))
	}
}

func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("a %s value where Argo's types expect %s (object from a newer Argo?)", te.Value, te.Type)
	}
	return engine.Truncate(engine.OneLine(err.Error()), 200)
}

// spec decodes spec, its templates one by one (a template that does not
// decode is left out with a warning; the others are kept).
func (d *decoder) spec() error {
	if d.dec.PeekKind() != '{' {
		return d.members("spec", &d.wf.Spec, nil) // warns and skips
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return err
	}
	for d.dec.PeekKind() != '}' {
		t, err := d.dec.ReadToken()
		if err != nil {
			return err
		}
		name := t.String()
		if name != "templates" || d.dec.PeekKind() != '[' {
			v, err := d.dec.ReadValue()
			if err != nil {
				return err
			}
			d.member("spec."+name, name, v, &d.wf.Spec)
			continue
		}
		if _, err := d.dec.ReadToken(); err != nil {
			return err
		}
		for i := 0; d.dec.PeekKind() != ']'; i++ {
			v, err := d.dec.ReadValue()
			if err != nil {
				return err
			}
			var tmpl wfv1.Template
			if err := json.Unmarshal(v, &tmpl); err != nil {
				d.warnf("ignored spec.templates[%d]%s: %s", i, templateName(v), describeJSONError(err))
				continue
			}
			d.wf.Spec.Templates = append(d.wf.Spec.Templates, tmpl)
		}
		if _, err := d.dec.ReadToken(); err != nil {
			return err
		}
	}
	_, err := d.dec.ReadToken()
	return err
}

// templateName is ` ("name")` of a template's JSON, or "".
func templateName(v []byte) string {
	var t struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(v, &t) != nil || t.Name == "" {
		return ""
	}
	return fmt.Sprintf(" (%q)", engine.Truncate(t.Name, 60))
}

// status decodes status: the node map streamed, the rest member by member.
func (d *decoder) status() error {
	if d.dec.PeekKind() != '{' {
		return d.members("status", &d.wf.Status, nil) // warns and skips
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return err
	}
	var compressed string
	for d.dec.PeekKind() != '}' {
		t, err := d.dec.ReadToken()
		if err != nil {
			return err
		}
		switch name := t.String(); name {
		case "nodes":
			if d.dec.PeekKind() != '{' {
				if d.dec.PeekKind() != 'n' {
					d.warnf("ignored status.nodes: not an object")
				}
				err = d.dec.SkipValue()
				break
			}
			if d.nodeMap == nil {
				d.nodeMap = nodeMap{}
			}
			err = d.readNodes(d.dec, "status.nodes")
		case "compressedNodes":
			compressed, err = d.topString("status.compressedNodes")
		case "taskResultsCompletionStatus", "storedTemplates":
			// Not read (one entry per pod, or the templates again).
			err = d.dec.SkipValue()
		default:
			var v jsontext.Value
			if v, err = d.dec.ReadValue(); err == nil {
				d.member("status."+name, name, v, &d.wf.Status)
			}
		}
		if err != nil {
			return err
		}
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return err
	}
	d.checkTimes()
	if compressed != "" && len(d.nodeMap) == 0 {
		if err := d.compressedNodes(compressed); err != nil {
			return fmt.Errorf("workflow %s: status.compressedNodes: %w", engine.Truncate(d.wf.Name, 60), err)
		}
	}
	return nil
}

// checkTimes drops the workflow's own times that no timestamp can hold.
func (d *decoder) checkTimes() {
	for _, f := range []struct {
		name string
		t    *metav1.Time
	}{
		{"status.startedAt", &d.wf.Status.StartedAt},
		{"status.finishedAt", &d.wf.Status.FinishedAt},
		{"metadata.creationTimestamp", &d.wf.CreationTimestamp},
	} {
		if !f.t.IsZero() && !pipeline.ValidTime(f.t.Time) {
			d.warnf("ignored %s %s: outside the years 1678 to 2262 that a timestamp can hold", f.name, f.t.UTC().Format(time.RFC3339))
			*f.t = metav1.Time{}
		}
	}
}

// compressedNodes decodes status.compressedNodes, base64 of the node map
// compressed with gzip (Argo v3), zstd or brotli (v4.1), recognised by its
// magic bytes, streamed: the inflated text is never held, and is cut at
// maxInflated bytes.
func (d *decoder) compressedNodes(s string) error {
	// The base64 text is decoded whole (it is in memory already, and its
	// bytes are fewer); the inflated text is not.
	rawBytes, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("not base64: %w", err)
	}
	head := rawBytes[:min(4, len(rawBytes))]
	src := bytes.NewReader(rawBytes)
	var r io.Reader
	switch {
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		gz, err := gzip.NewReader(src)
		if err != nil {
			return fmt.Errorf("gzip: %w", cleanErr(err))
		}
		defer gz.Close()
		r = gz
	case len(head) >= 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd:
		zr, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(8<<20), zstd.WithDecoderMaxMemory(64<<20))
		if err != nil {
			return fmt.Errorf("zstd: %w", err)
		}
		defer zr.Close()
		r = zr
	default:
		r = brotli.NewReader(src)
	}
	lr := &boundedReader{r: r, left: maxInflated()}
	dec := jsontext.NewDecoder(&runBound{r: lr, max: maxRun}, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if k := dec.PeekKind(); k != '{' {
		if lr.err != nil {
			return lr.err
		}
		if _, err := dec.ReadToken(); err != nil && k == 0 {
			return fmt.Errorf("decompress (gzip, zstd or brotli): %s", engine.Truncate(engine.OneLine(cleanErr(err).Error()), 200))
		}
		return fmt.Errorf("decoded node map is not JSON object but a JSON %s", kindName(k))
	}
	d.nodeMap = nodeMap{}
	if err := d.readNodes(dec, "status.compressedNodes"); err != nil {
		if lr.err != nil {
			return lr.err
		}
		if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrLongToken) {
			return err
		}
		return fmt.Errorf("decoded node map is not JSON: %s", engine.Truncate(engine.OneLine(cleanErr(err).Error()), 200))
	}
	return nil
}

// cleanErr strips jsontext's prefix from err.
func cleanErr(err error) error {
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		return errors.New(strings.TrimPrefix(se.Error(), "jsontext: "))
	}
	return err
}

// boundedReader fails once more than left bytes were read.
type boundedReader struct {
	r    io.Reader
	left int64
	err  error
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		b.err = fmt.Errorf("decompressed node map exceeds %d MiB (a quarter of the memory limit): %w", maxInflated()>>20, ErrTooLarge)
		return 0, b.err
	}
	return n, err
}

// readNodes reads a node map object: ID -> node.
func (d *decoder) readNodes(dec *jsontext.Decoder, path string) error {
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	for dec.PeekKind() != '}' {
		id, err := d.str(dec)
		if err != nil {
			return err
		}
		d.nodes++
		d.used += nodeCost
		if d.used > d.budget {
			return fmt.Errorf("%s: %d nodes need more than %d MiB, a quarter of the memory limit of %d MiB (raise the template's memory limit, or GOMEMLIMIT): %w",
				path, d.nodes, d.budget>>20, limits.Memory()>>20, ErrTooLarge)
		}
		switch dec.PeekKind() {
		case '{':
			n, v4, err := d.node(dec)
			if err != nil {
				return err
			}
			d.nodeMap[id] = n
			if v4.FailedPodRestarts > 0 || v4.TaskResultSynced != nil {
				if d.v4 == nil {
					d.v4 = v4Nodes{}
				}
				d.v4[id] = v4
			}
		case 'n':
			if err := dec.SkipValue(); err != nil {
				return err
			}
			d.nodeMap[id] = &node{}
		default:
			d.wrongType["a node that is not an object"]++
			if err := dec.SkipValue(); err != nil {
				return err
			}
		}
	}
	_, err := dec.ReadToken()
	return err
}

// uniq reads a string value that does not repeat (a node's name or
// display name), not interned. It is the caller's to check that the next
// value is a string.
func (d *decoder) uniq(dec *jsontext.Decoder) (string, error) {
	v, err := dec.ReadValue()
	if err != nil {
		return "", err
	}
	if len(v) >= 2 && v[0] == '"' && bytes.IndexByte(v, '\\') < 0 {
		d.used += int64(len(v))
		return string(v[1 : len(v)-1]), nil
	}
	d.scratch, err = jsontext.AppendUnquote(d.scratch[:0], v)
	d.used += int64(len(d.scratch))
	return string(d.scratch), err
}

// str reads a string value, interned: IDs (met again as children and
// boundaries), template, host and phase names. It is the caller's to check
// that the next value is a string (an object member's name always is).
func (d *decoder) str(dec *jsontext.Decoder) (string, error) {
	v, err := dec.ReadValue()
	if err != nil {
		return "", err
	}
	b := []byte(v)
	if len(b) >= 2 && b[0] == '"' && bytes.IndexByte(b, '\\') < 0 {
		b = b[1 : len(b)-1]
	} else {
		d.scratch, err = jsontext.AppendUnquote(d.scratch[:0], v)
		if err != nil {
			return "", err
		}
		b = d.scratch
	}
	if s, ok := d.strs[string(b)]; ok {
		return s, nil
	}
	s := string(b)
	d.strs[s] = s
	d.used += int64(len(s)) + 48 // the string and its interning entry
	return s, nil
}

// wrong skips a value of the wrong type for field, counting it.
func (d *decoder) wrong(dec *jsontext.Decoder, field string) error {
	if dec.PeekKind() != 'n' {
		d.wrongType[field]++
	}
	return dec.SkipValue()
}

// stringField reads a string member value into *dst.
func (d *decoder) stringField(dec *jsontext.Decoder, field string, dst *string) error {
	if dec.PeekKind() != '"' {
		return d.wrong(dec, field)
	}
	s, err := d.str(dec)
	*dst = s
	return err
}

// uniqField is stringField for a string that does not repeat.
func (d *decoder) uniqField(dec *jsontext.Decoder, field string, dst *string) error {
	if dec.PeekKind() != '"' {
		return d.wrong(dec, field)
	}
	s, err := d.uniq(dec)
	*dst = s
	return err
}

// node reads one node object.
func (d *decoder) node(dec *jsontext.Decoder) (*node, v4Node, error) {
	n := &node{}
	var v4 v4Node
	if _, err := dec.ReadToken(); err != nil {
		return n, v4, err
	}
	for dec.PeekKind() != '}' {
		t, err := dec.ReadToken()
		if err != nil {
			return n, v4, err
		}
		// Compare without allocating: t.String() of a short unescaped
		// name does not escape.
		switch field := t.String(); field {
		case "id":
			err = d.stringField(dec, "id", &n.ID)
		case "name":
			err = d.uniqField(dec, "name", &n.Name)
		case "displayName":
			err = d.uniqField(dec, "displayName", &n.DisplayName)
		case "type":
			var s string
			err = d.stringField(dec, "type", &s)
			n.Type = wfv1.NodeType(s)
		case "templateName":
			err = d.stringField(dec, "templateName", &n.TemplateName)
		case "phase":
			var s string
			err = d.stringField(dec, "phase", &s)
			n.Phase = wfv1.NodePhase(s)
		case "boundaryID":
			err = d.stringField(dec, "boundaryID", &n.BoundaryID)
		case "message":
			err = d.stringField(dec, "message", &n.Message)
		case "hostNodeName":
			err = d.stringField(dec, "hostNodeName", &n.HostNodeName)
		case "startedAt":
			err = d.timeField(dec, "startedAt", &n.StartedAt)
		case "finishedAt":
			err = d.timeField(dec, "finishedAt", &n.FinishedAt)
		case "templateRef":
			err = d.templateRef(dec, n)
		case "resourcesDuration":
			err = d.resources(dec, n)
		case "nodeFlag":
			err = d.nodeFlag(dec, n)
		case "daemoned":
			var b bool
			var ok bool
			if ok, b, err = d.boolField(dec, "daemoned"); ok {
				n.Daemoned = b
			}
		case "children":
			err = d.children(dec, n)
		case "outputs":
			err = d.outputs(dec, n)
		case "failedPodRestarts":
			if dec.PeekKind() != '0' {
				err = d.wrong(dec, "failedPodRestarts")
				break
			}
			var tok jsontext.Token
			if tok, err = dec.ReadToken(); err == nil {
				if f := tok.Float(); f >= 0 && f <= 1<<20 && f == float64(int32(f)) {
					v4.FailedPodRestarts = int32(f)
				} else {
					d.wrongType["failedPodRestarts"]++
				}
			}
		case "taskResultSynced":
			var b, ok bool
			if ok, b, err = d.boolField(dec, "taskResultSynced"); ok {
				v4.TaskResultSynced = &b
			}
		default:
			err = dec.SkipValue()
		}
		if err != nil {
			return n, v4, err
		}
	}
	if n.Type != wfv1.NodeTypePod {
		// Only pods' usage is read (see argoSteps); the sums the
		// controller gives the other nodes are not kept.
		n.Resources = nil
	}
	_, err := dec.ReadToken()
	return n, v4, err
}

func (d *decoder) boolField(dec *jsontext.Decoder, field string) (ok, v bool, err error) {
	switch dec.PeekKind() {
	case 't', 'f':
		t, err := dec.ReadToken()
		return err == nil, err == nil && t.Bool(), err
	}
	return false, false, d.wrong(dec, field)
}

// timeField reads an RFC 3339 time as metav1.Time does (in local time);
// anything else, or a time no timestamp can hold, is left zero and
// counted.
func (d *decoder) timeField(dec *jsontext.Decoder, field string, dst *metav1.Time) error {
	switch dec.PeekKind() {
	case 'n':
		return dec.SkipValue()
	case '"':
	default:
		return d.wrong(dec, field)
	}
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	b := []byte(v)
	if bytes.IndexByte(b, '\\') >= 0 {
		if d.scratch, err = jsontext.AppendUnquote(d.scratch[:0], v); err != nil {
			return err
		}
		b = d.scratch
	} else {
		b = b[1 : len(b)-1]
	}
	if len(b) == 0 {
		return nil
	}
	t, err := time.Parse(time.RFC3339, string(b))
	if err != nil || !pipeline.ValidTime(t) {
		d.badTime[field]++
		return nil
	}
	*dst = metav1.NewTime(t.Local())
	return nil
}

func (d *decoder) templateRef(dec *jsontext.Decoder, n *node) error {
	if dec.PeekKind() != '{' {
		return d.wrong(dec, "templateRef")
	}
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	var ref wfv1.TemplateRef
	if json.Unmarshal(v, &ref) != nil {
		d.wrongType["templateRef"]++
		return nil
	}
	ref.Name, ref.Template = d.intern(ref.Name), d.intern(ref.Template)
	n.TemplateRef = &ref
	return nil
}

func (d *decoder) intern(s string) string {
	if v, ok := d.strs[s]; ok {
		return v
	}
	d.strs[s] = s
	d.used += int64(len(s)) + 48
	return s
}

// resources reads resourcesDuration: resource name -> whole seconds.
func (d *decoder) resources(dec *jsontext.Decoder, n *node) error {
	if dec.PeekKind() != '{' {
		return d.wrong(dec, "resourcesDuration")
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	for dec.PeekKind() != '}' {
		name, err := d.str(dec)
		if err != nil {
			return err
		}
		if dec.PeekKind() != '0' {
			if err := d.wrong(dec, "resourcesDuration."+engine.Truncate(name, 40)); err != nil {
				return err
			}
			continue
		}
		t, err := dec.ReadToken()
		if err != nil {
			return err
		}
		f := t.Float()
		if f != float64(int64(f)) || f < 0 || f > 1<<53 {
			d.wrongType["resourcesDuration."+engine.Truncate(name, 40)]++
			continue
		}
		n.Resources = setResource(n.Resources, name, int64(f))
		d.used += 32
	}
	_, err := dec.ReadToken()
	return err
}

func (d *decoder) nodeFlag(dec *jsontext.Decoder, n *node) error {
	if dec.PeekKind() != '{' {
		return d.wrong(dec, "nodeFlag")
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	var f wfv1.NodeFlag
	for dec.PeekKind() != '}' {
		t, err := dec.ReadToken()
		if err != nil {
			return err
		}
		var dst *bool
		switch t.String() {
		case "hooked":
			dst = &f.Hooked
		case "retried":
			dst = &f.Retried
		default:
			if err := dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		ok, b, err := d.boolField(dec, "nodeFlag")
		if err != nil {
			return err
		}
		if ok {
			*dst = b
		}
	}
	n.NodeFlag = &f
	_, err := dec.ReadToken()
	return err
}

func (d *decoder) children(dec *jsontext.Decoder, n *node) error {
	if dec.PeekKind() != '[' {
		return d.wrong(dec, "children")
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	n.Children = n.Children[:0] // a repeated member replaces, as in encoding/json
	for dec.PeekKind() != ']' {
		if dec.PeekKind() != '"' {
			if err := d.wrong(dec, "children"); err != nil {
				return err
			}
			continue
		}
		c, err := d.str(dec)
		if err != nil {
			return err
		}
		n.Children = append(n.Children, c)
	}
	_, err := dec.ReadToken()
	return err
}

// outputs reads a node's outputs.parameters (where steps publish their
// own metrics); the rest of outputs is skipped.
func (d *decoder) outputs(dec *jsontext.Decoder, n *node) error {
	if dec.PeekKind() != '{' {
		return d.wrong(dec, "outputs")
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	n.Outputs = &wfv1.Outputs{}
	for dec.PeekKind() != '}' {
		t, err := dec.ReadToken()
		if err != nil {
			return err
		}
		if t.String() != "parameters" {
			if err := dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		if dec.PeekKind() != '[' {
			if err := d.wrong(dec, "outputs.parameters"); err != nil {
				return err
			}
			continue
		}
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		for dec.PeekKind() != ']' {
			p, ok, err := d.parameter(dec)
			if err != nil {
				return err
			}
			if ok {
				n.Outputs.Parameters = append(n.Outputs.Parameters, p)
			}
		}
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
	}
	_, err := dec.ReadToken()
	return err
}

// parameter reads one output parameter's name and value. A value that is
// a number or a boolean is its JSON text, as Argo's AnyString reads it.
func (d *decoder) parameter(dec *jsontext.Decoder) (wfv1.Parameter, bool, error) {
	var p wfv1.Parameter
	if dec.PeekKind() != '{' {
		return p, false, d.wrong(dec, "outputs.parameters[]")
	}
	if _, err := dec.ReadToken(); err != nil {
		return p, false, err
	}
	for dec.PeekKind() != '}' {
		t, err := dec.ReadToken()
		if err != nil {
			return p, false, err
		}
		switch t.String() {
		case "name":
			err = d.stringField(dec, "outputs.parameters[].name", &p.Name)
		case "value":
			switch dec.PeekKind() {
			case '"':
				var tok jsontext.Token
				if tok, err = dec.ReadToken(); err == nil {
					v := tok.String()
					d.used += int64(len(v)) + 64
					p.Value = wfv1.AnyStringPtr(v)
				}
			case '0', 't', 'f':
				var v jsontext.Value
				if v, err = dec.ReadValue(); err == nil {
					p.Value = wfv1.AnyStringPtr(string(v))
				}
			default:
				err = d.wrong(dec, "outputs.parameters[].value")
			}
		default:
			err = dec.SkipValue()
		}
		if err != nil {
			return p, false, err
		}
	}
	_, err := dec.ReadToken()
	return p, true, err
}

// runBound fails a stream with a string longer than max bytes, or more
// than max bytes without a quote outside strings (a huge number, blanks):
// the tokens jsontext would have to buffer whole. It finds quotes with
// bytes.IndexByte and tells an escaped quote by the backslashes before it.
type runBound struct {
	r   io.Reader
	max int64
	run int64 // bytes since the last quote (outside strings) or in the string
	in  bool  // inside a string
	bs  int   // backslashes at the end of what was read, inside a string
	err error
}

// ErrLongToken is wrapped by the error about a string or token too long.
var ErrLongToken = errors.New("a string or token too long")

func (b *runBound) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.r.Read(p)
	q := p[:n]
	if b.bs == 0 && int64(len(q)) <= b.max && bytes.IndexByte(q, '\\') < 0 {
		// The fast path, most reads: no escapes, so every quote toggles
		// and only the runs at the ends of q can be long.
		if first := bytes.IndexByte(q, '"'); first < 0 {
			b.run += int64(len(q))
		} else {
			if b.run+int64(first) > b.max {
				b.run += int64(first)
			} else {
				b.in = b.in != (bytes.Count(q, []byte{'"'})%2 == 1)
				b.run = int64(len(q) - 1 - bytes.LastIndexByte(q, '"'))
			}
		}
		b.bs = 0
		q = nil
	}
	for len(q) > 0 {
		i := bytes.IndexByte(q, '"')
		if i < 0 {
			b.run += int64(len(q))
			if b.in {
				b.bs = trailingBackslashes(q, b.bs)
			}
			break
		}
		if b.in {
			bs := trailingBackslashes(q[:i], b.bs)
			b.bs = 0
			if bs%2 == 1 { // an escaped quote: still in the string
				b.run += int64(i + 1)
				q = q[i+1:]
				continue
			}
		}
		b.run += int64(i)
		if b.run > b.max {
			break
		}
		b.in, b.run, b.bs = !b.in, 0, 0
		q = q[i+1:]
	}
	if b.run > b.max {
		what := "bytes without a quote (a number or blanks that long)"
		if b.in {
			what = "bytes in one string"
		}
		b.err = fmt.Errorf("more than %d MiB of %s: %w", b.max>>20, what, ErrLongToken)
		return 0, b.err
	}
	return n, err
}

// trailingBackslashes counts the backslashes that end q, adding carry when
// q is all backslashes.
func trailingBackslashes(q []byte, carry int) int {
	n := 0
	for n < len(q) && q[len(q)-1-n] == '\\' {
		n++
	}
	if n == len(q) {
		n += carry
	}
	return n
}

// setResource sets name's seconds in rs, as a map would: a repeated name
// (a duplicate JSON member) replaces the earlier value.
func setResource(rs []resource, name string, secs int64) []resource {
	for i := range rs {
		if rs[i].Name == name {
			rs[i].Seconds = secs
			return rs
		}
	}
	return append(rs, resource{Name: name, Seconds: secs})
}
