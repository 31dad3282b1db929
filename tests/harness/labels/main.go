// Command labels answers, for the tests, how Kubernetes' own label-selector parser
// (k8s.io/apimachinery/pkg/labels.Parse) reads a selector string and whether it matches a label set.
//
// Input: one JSON object per line, {"selector": "...", "labels": {"k": "v"}}.
// Output: one JSON object per line, {"valid": bool, "matches": bool}.
package main

import (
	"bufio"
	"encoding/json"
	"os"

	"k8s.io/apimachinery/pkg/labels"
)

type query struct {
	Selector string            `json:"selector"`
	Labels   map[string]string `json:"labels"`
}

type answer struct {
	Valid   bool `json:"valid"`
	Matches bool `json:"matches"`
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var q query
		if err := json.Unmarshal(in.Bytes(), &q); err != nil {
			panic(err)
		}
		selector, err := labels.Parse(q.Selector)
		a := answer{Valid: err == nil}
		if err == nil {
			a.Matches = selector.Matches(labels.Set(q.Labels))
		}
		if err := out.Encode(a); err != nil {
			panic(err)
		}
	}
	if err := in.Err(); err != nil {
		panic(err)
	}
}
