// Command podvalidation runs Kubernetes' own validation on pod templates, as the API server does
// when a PodTemplate is created (pkg/registry/core/podtemplate/strategy.go): decode (strictly, to
// report unknown fields, and laxly, as without strict field validation), default, drop the fields
// of disabled features, then ValidatePodTemplate with the options the pod asks for.
//
// Input on stdin: a JSON array of pod templates (metadata + spec). Output: a JSON array with, per
// template, the unknown fields a strict decoder refuses, the containers' restartPolicy fields the
// disabled features drop, and the validation errors (field path and type). -kube-version X.Y sets
// the feature gates' defaults to that version's (emulation).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/version"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	podutil "k8s.io/kubernetes/pkg/api/pod"
	"k8s.io/kubernetes/pkg/apis/core"
	corev1 "k8s.io/kubernetes/pkg/apis/core/v1"
	"k8s.io/kubernetes/pkg/apis/core/validation"
	kjson "sigs.k8s.io/json"
)

type fieldError struct {
	Field string `json:"field"`
	Type  string `json:"type"`
}

type result struct {
	Unknown []string     `json:"unknown"`
	Dropped []string     `json:"dropped"`
	Errors  []fieldError `json:"errors"`
}

func main() {
	kubeVersion := flag.String("kube-version", "", "X.Y: emulate the feature-gate defaults of this version")
	flag.Parse()
	if *kubeVersion != "" {
		if err := utilfeature.DefaultMutableFeatureGate.SetEmulationVersion(version.MustParse(*kubeVersion)); err != nil {
			fail(err)
		}
	}
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	var templates []json.RawMessage
	if err := json.Unmarshal(data, &templates); err != nil {
		fail(err)
	}
	results := make([]result, 0, len(templates))
	for _, raw := range templates {
		results = append(results, validate(raw))
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		fail(err)
	}
}

func validate(raw []byte) result {
	res := result{Unknown: []string{}, Dropped: []string{}, Errors: []fieldError{}}
	var strict v1.PodTemplateSpec
	strictErrs, err := kjson.UnmarshalStrict(raw, &strict)
	if err != nil {
		fail(err)
	}
	for _, e := range strictErrs {
		res.Unknown = append(res.Unknown, e.Error())
	}
	template := &v1.PodTemplate{Template: strict} // lax: what is left once unknown fields are dropped
	template.Name, template.Namespace = "template", "default"
	corev1.SetObjectDefaults_PodTemplate(template)
	var internal core.PodTemplate
	if err := corev1.Convert_v1_PodTemplate_To_core_PodTemplate(template, &internal, nil); err != nil {
		fail(err)
	}
	before := restartPolicies(&internal.Template.Spec)
	podutil.DropDisabledTemplateFields(&internal.Template, nil)
	after := restartPolicies(&internal.Template.Spec)
	for path := range before {
		if !after[path] {
			res.Dropped = append(res.Dropped, path)
		}
	}
	opts := podutil.GetValidationOptionsFromPodTemplate(&internal.Template, nil)
	for _, e := range validation.ValidatePodTemplate(&internal, opts) {
		res.Errors = append(res.Errors, fieldError{Field: e.Field, Type: string(e.Type)})
	}
	return res
}

// restartPolicies: the paths of the containers' restartPolicy fields that are set.
func restartPolicies(spec *core.PodSpec) map[string]bool {
	set := map[string]bool{}
	for kind, containers := range map[string][]core.Container{"initContainers": spec.InitContainers, "containers": spec.Containers} {
		for i, c := range containers {
			if c.RestartPolicy != nil {
				set[fmt.Sprintf("spec.%s[%d].restartPolicy", kind, i)] = true
			}
		}
	}
	return set
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "podvalidation:", err)
	os.Exit(2)
}
