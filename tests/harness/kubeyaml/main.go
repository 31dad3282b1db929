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
	"k8s.io/apimachinery/pkg/labels"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

type request struct {
	YAML          []byte                `json:"yaml"`
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
