// istioinject runs Istio's own sidecar injector offline, for the tests.
//
//	istioinject inject [--set path=value]... < manifests.yaml > injected.yaml
//	  Renders Istio's istiod chart from the release's embedded manifests (profile empty, pilot on,
//	  plus the --set flags, as istioctl install takes them), takes the injection template and values
//	  from the rendered istio-sidecar-injector ConfigMap and the mesh config from the `istio`
//	  ConfigMap, and injects the stream the way `istioctl kube-inject` does
//	  (pkg/kube/inject.IntoResourceFile). This is how Istio's own tests load the injector
//	  (pkg/kube/inject/webhook_test.go getInjectionSettings).
//	istioinject webhook --kubeconfig FILE --dir STATE [--set path=value]...
//	  Istio's sidecar injector as istiod serves it: a mutating admission webhook over TLS on
//	  127.0.0.1 (pkg/kube/inject.NewWebhook over a file watcher of the same rendered injector
//	  ConfigMap, and a kube client to the cluster for its Node lookups), registered with the
//	  chart's own MutatingWebhookConfiguration; see webhook.go. ENABLE_NATIVE_SIDECARS in the
//	  environment is istiod's, read once at start: restart it to change the mesh default.
//	istioinject read < manifests.yaml
//	  Each document as one line of JSON, read as Kubernetes reads a file
//	  (k8s.io/apimachinery/pkg/util/yaml.NewYAMLOrJSONDecoder over sigs.k8s.io/yaml); an empty
//	  document is `null`.
//
// One module, one go.mod per Istio release (go.istio-<minor>.mod): build with -modfile, and for
// Istio 1.24 with -tags istio_1_24 (mesh_watcher*.go: the one API that changed between them).
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	meshconfig "istio.io/api/mesh/v1alpha1"
	"istio.io/istio/operator/pkg/render"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/kube/inject"
)

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: istioinject inject [--set path=value]... | istioinject webhook --kubeconfig FILE --dir STATE [--set path=value]... | istioinject read"))
	}
	var err error
	switch os.Args[1] {
	case "inject":
		err = injectStream(os.Args[2:], os.Stdin, os.Stdout)
	case "webhook":
		err = serveWebhook(os.Args[2:])
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

// setFlags are istioctl install's --set flags, after the profile the harness always renders.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, " ") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

func newFlags(command string) (*flag.FlagSet, *setFlags) {
	flags := flag.NewFlagSet(command, flag.ContinueOnError)
	sets := &setFlags{"profile=empty", "components.pilot.enabled=true"}
	flags.Var(sets, "set", "path=value, as istioctl install --set takes it (repeatable)")
	return flags, sets
}

func injectStream(args []string, in io.Reader, out io.Writer) error {
	flags, sets := newFlags("inject")
	if err := flags.Parse(args); err != nil {
		return err
	}
	rendered, err := renderChart(*sets)
	if err != nil {
		return err
	}
	templates, err := inject.ParseTemplates(rendered.config.RawTemplates)
	if err != nil {
		return err
	}
	valuesConfig, err := inject.NewValuesConfig(rendered.values)
	if err != nil {
		return err
	}
	meshConfig, err := rendered.meshConfig()
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

// chart is what istiod reads from Istio's rendered istiod chart: the istio-sidecar-injector
// ConfigMap (its config and values), the `istio` ConfigMap's mesh config, and the injector's
// MutatingWebhookConfiguration.
type chart struct {
	rawConfig, values, mesh string
	config                  inject.Config
	webhooks                map[string]any
}

func (c chart) meshConfig() (*meshconfig.MeshConfig, error) {
	return mesh.ApplyMeshConfig(c.mesh, mesh.DefaultMeshConfig())
}

// renderChart renders the chart from the release's embedded manifests, as istioctl install does.
func renderChart(flags []string) (chart, error) {
	var rendered chart
	sets, _, err := render.GenerateManifest(nil, flags, false, nil, nil)
	if err != nil {
		return rendered, err
	}
	for _, set := range sets {
		for _, manifest := range set.Manifests {
			data, _ := manifest.Object["data"].(map[string]any)
			switch {
			case manifest.GetKind() == "ConfigMap" && manifest.GetName() == "istio-sidecar-injector":
				rendered.rawConfig, _ = data["config"].(string)
				if rendered.config, err = inject.UnmarshalConfig([]byte(rendered.rawConfig)); err != nil {
					return rendered, err
				}
				rendered.values, _ = data["values"].(string)
			case manifest.GetKind() == "ConfigMap" && manifest.GetName() == "istio":
				rendered.mesh, _ = data["mesh"].(string)
			case manifest.GetKind() == "MutatingWebhookConfiguration" && manifest.GetName() == "istio-sidecar-injector":
				rendered.webhooks = manifest.Object
			}
		}
	}
	if len(rendered.config.RawTemplates) == 0 || rendered.values == "" || rendered.webhooks == nil {
		return rendered, fmt.Errorf("no istio-sidecar-injector ConfigMap and webhook rendered for %s", strings.Join(flags, " "))
	}
	return rendered, nil
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
