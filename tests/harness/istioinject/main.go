// istioinject runs Istio's own sidecar injector offline, for the tests.
//
//	istioinject inject [--set path=value]... < manifests.yaml > injected.yaml
//	  Renders Istio's istiod chart from the release's embedded manifests (profile empty, pilot on,
//	  plus the --set flags, as istioctl install takes them), takes the injection template and values
//	  from the rendered istio-sidecar-injector ConfigMap and the mesh config from the `istio`
//	  ConfigMap, and injects the stream the way `istioctl kube-inject` does
//	  (pkg/kube/inject.IntoResourceFile). This is how Istio's own tests load the injector
//	  (pkg/kube/inject/webhook_test.go getInjectionSettings).
//	istioinject read < manifests.yaml
//	  Each document as one line of JSON, read as Kubernetes reads a file
//	  (k8s.io/apimachinery/pkg/util/yaml.NewYAMLOrJSONDecoder over sigs.k8s.io/yaml); an empty
//	  document is `null`.
//
// One module, one go.mod per Istio release (go.istio-<minor>.mod): build with -modfile.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"istio.io/istio/operator/pkg/render"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/kube/inject"
)

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: istioinject inject [--set path=value]... | istioinject read"))
	}
	var err error
	switch os.Args[1] {
	case "inject":
		err = injectStream(os.Args[2:], os.Stdin, os.Stdout)
	case "read":
		err = readStream(os.Stdin, os.Stdout)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "istioinject:", err)
	os.Exit(1)
}

func injectStream(args []string, in io.Reader, out io.Writer) error {
	flags := []string{"profile=empty", "components.pilot.enabled=true"}
	for i := 0; i < len(args); i++ {
		if args[i] != "--set" || i+1 == len(args) {
			return fmt.Errorf("expected --set path=value, got %q", args[i])
		}
		i++
		flags = append(flags, args[i])
	}
	rawTemplates, values, meshYAML, err := injectorSettings(flags)
	if err != nil {
		return err
	}
	templates, err := inject.ParseTemplates(rawTemplates)
	if err != nil {
		return err
	}
	valuesConfig, err := inject.NewValuesConfig(values)
	if err != nil {
		return err
	}
	meshConfig, err := mesh.ApplyMeshConfig(meshYAML, mesh.DefaultMeshConfig())
	if err != nil {
		return err
	}
	writer := bufio.NewWriter(out)
	warn := func(warning string) { fmt.Fprintln(os.Stderr, warning) }
	if err := inject.IntoResourceFile(nil, templates, valuesConfig, "", meshConfig, in, writer, warn); err != nil {
		return err
	}
	return writer.Flush()
}

// injectorSettings renders the chart and picks the two ConfigMaps istiod reads its injector from.
func injectorSettings(flags []string) (inject.RawTemplates, string, string, error) {
	sets, _, err := render.GenerateManifest(nil, flags, false, nil, nil)
	if err != nil {
		return nil, "", "", err
	}
	var config inject.Config
	var values, meshYAML string
	for _, set := range sets {
		for _, manifest := range set.Manifests {
			if manifest.GetKind() != "ConfigMap" {
				continue
			}
			data, _ := manifest.Object["data"].(map[string]any)
			switch manifest.GetName() {
			case "istio-sidecar-injector":
				raw, _ := data["config"].(string)
				if config, err = inject.UnmarshalConfig([]byte(raw)); err != nil {
					return nil, "", "", err
				}
				values, _ = data["values"].(string)
			case "istio":
				meshYAML, _ = data["mesh"].(string)
			}
		}
	}
	if len(config.RawTemplates) == 0 || values == "" {
		return nil, "", "", fmt.Errorf("no istio-sidecar-injector ConfigMap rendered for %s", strings.Join(flags, " "))
	}
	return config.RawTemplates, values, meshYAML, nil
}

func readStream(in io.Reader, out io.Writer) error {
	decoder := utilyaml.NewYAMLOrJSONDecoder(in, 4096)
	writer := bufio.NewWriter(out)
	for {
		var document json.RawMessage
		err := decoder.Decode(&document)
		if errors.Is(err, io.EOF) {
			return writer.Flush()
		}
		if err != nil {
			return err
		}
		if document == nil {
			document = json.RawMessage("null")
		}
		if _, err := fmt.Fprintf(writer, "%s\n", document); err != nil {
			return err
		}
	}
}
