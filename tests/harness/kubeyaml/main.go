// kubeyaml reads YAML and label selectors the way Kubernetes does, for the tests.
//
// One process serves many requests: one JSON object per line on stdin, one JSON answer per line
// on stdout.
//
//	{"yaml": "<base64 bytes>"}
//	  -> {"documents": [<JSON of each document, null when empty>]} | {"error": "..."}
//	  Read as kubectl reads a file (k8s.io/cli-runtime pkg/resource/visitor.go StreamVisitor):
//	  k8s.io/apimachinery/pkg/util/yaml.NewYAMLOrJSONDecoder, which splits YAML with its
//	  YAMLReader and converts each document with sigs.k8s.io/yaml (go-yaml's resolver), and
//	  reads a stream that starts with `{` as JSON.
//	{"objects": "<base64 bytes>"}
//	  -> {"documents": [[<JSON of each object>] | {"error": "..."} per document]}: each document
//	  decoded as kubectl's resource builder decodes a file's documents
//	  (unstructured.UnstructuredJSONScheme, k8s.io/apimachinery/pkg/apis/meta/v1/unstructured
//	  helpers.go): a document with `items` is a list whose items are its objects, and an item with
//	  neither kind nor apiVersion gets the list's kind without "List" and the list's apiVersion
//	  (decodeToList); any other document is one object. An empty document has no objects.
//	{"document": "<base64 bytes>"}
//	  -> {"documents": [<JSON>]} | {"error": "..."}: one document through sigs.k8s.io/yaml.YAMLToJSON
//	  alone (what a value written by the re-emitter reads back as).
//	{"selector": "app=,tier!=db", "labels": {"app": ""}}
//	  -> {"valid": true, "matches": true} | {"valid": false, "error": "..."}
//	  k8s.io/apimachinery/pkg/labels.Parse.
//	{"labelSelector": {"matchLabels": {...}, "matchExpressions": [...]}, "labels": {...}}
//	  -> the same, through metav1.LabelSelectorAsSelector.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

type request struct {
	YAML          []byte                `json:"yaml"`
	Objects       []byte                `json:"objects"`
	Document      []byte                `json:"document"`
	Selector      *string               `json:"selector"`
	LabelSelector *metav1.LabelSelector `json:"labelSelector"`
	Labels        map[string]string     `json:"labels"`
}

type answer struct {
	Documents []json.RawMessage `json:"documents,omitempty"`
	Valid     *bool             `json:"valid,omitempty"`
	Matches   *bool             `json:"matches,omitempty"`
	Error     string            `json:"error,omitempty"`
}

func readStream(data []byte) answer {
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	documents := []json.RawMessage{}
	for {
		var document json.RawMessage
		err := decoder.Decode(&document)
		if errors.Is(err, io.EOF) {
			return answer{Documents: documents}
		}
		if err != nil {
			return answer{Error: err.Error()}
		}
		if document == nil {
			document = json.RawMessage("null")
		}
		documents = append(documents, document)
	}
}

// objects decodes each document of a stream as kubectl's builder does; a document it cannot
// decode (no kind, say) answers {"error": ...} in its place.
func objects(data []byte) answer {
	read := readStream(data)
	if read.Error != "" {
		return read
	}
	documents := []json.RawMessage{}
	for _, document := range read.Documents {
		found, err := decodeObjects(document)
		if err != nil {
			found, _ = json.Marshal(map[string]string{"error": err.Error()})
		}
		documents = append(documents, found)
	}
	return answer{Documents: documents}
}

func decodeObjects(document json.RawMessage) (json.RawMessage, error) {
	items := []map[string]interface{}{}
	if string(document) != "null" {
		object, _, err := unstructured.UnstructuredJSONScheme.Decode(document, nil, nil)
		if err != nil {
			return nil, err
		}
		switch typed := object.(type) {
		case *unstructured.UnstructuredList:
			for _, item := range typed.Items {
				items = append(items, item.Object)
			}
		case *unstructured.Unstructured:
			items = append(items, typed.Object)
		}
	}
	return json.Marshal(items)
}

func selectorAnswer(selector labels.Selector, err error, set map[string]string) answer {
	valid := err == nil
	if !valid {
		return answer{Valid: &valid, Error: err.Error()}
	}
	matches := selector.Matches(labels.Set(set))
	return answer{Valid: &valid, Matches: &matches}
}

func serve(line []byte) answer {
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		return answer{Error: "bad request: " + err.Error()}
	}
	switch {
	case req.Selector != nil:
		selector, err := labels.Parse(*req.Selector)
		return selectorAnswer(selector, err, req.Labels)
	case req.LabelSelector != nil:
		selector, err := metav1.LabelSelectorAsSelector(req.LabelSelector)
		return selectorAnswer(selector, err, req.Labels)
	case req.Objects != nil:
		return objects(req.Objects)
	case req.Document != nil:
		converted, err := yaml.YAMLToJSON(req.Document)
		if err != nil {
			return answer{Error: err.Error()}
		}
		return answer{Documents: []json.RawMessage{converted}}
	default:
		return readStream(req.YAML)
	}
}

func main() {
	in := bufio.NewReader(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	encoder := json.NewEncoder(out)
	for {
		line, err := in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			if encodeErr := encoder.Encode(serve(line)); encodeErr != nil {
				os.Exit(1)
			}
			out.Flush()
		}
		if err != nil {
			return
		}
	}
}
