// Command fluxpostrender applies a HelmRelease's kustomize post-renderers to a rendered stream the
// way helm-controller does, at helm-controller's kustomize version (v5.8.1, api v0.21.1): each
// spec.postRenderers[].kustomize entry is one in-memory build whose only resource is the stream and
// whose patches and images are the entry's, the output of one feeding the next
// (fluxcd/helm-controller internal/postrender/kustomize.go Kustomize.Run and buildKustomization,
// build.go BuildPostRenderers; written from reading them, the package being internal).
//
// The HelmRelease is decoded strictly into helm-controller's own API type, so a field it does not
// have is an error.
//
//	fluxpostrender HELMRELEASE.yaml RENDERED.yaml    the stream, post-rendered
//	fluxpostrender -chart DIR HELMRELEASE.yaml       the chart installed client-side (dry run) with
//	    Helm's SDK at helm-controller's version (v4.2.1), the release's post-renderers and its
//	    spec.postRenderStrategy (unset: combined, internal/action/post_render.go), as JSON
//	    {"manifest": ..., "hooks": [...]}
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/loader"
	kubefake "helm.sh/helm/v4/pkg/kube/fake"
	release "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage"
	"helm.sh/helm/v4/pkg/storage/driver"
	"sigs.k8s.io/kustomize/api/krusty"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

func main() {
	chart := flag.String("chart", "", "install this chart (a directory) instead of post-rendering a stream")
	flag.Parse()
	args := flag.Args()
	if (*chart == "" && len(args) != 2) || (*chart != "" && len(args) != 1) {
		fail(fmt.Errorf("usage: fluxpostrender HELMRELEASE.yaml RENDERED.yaml | fluxpostrender -chart DIR HELMRELEASE.yaml"))
	}
	var hr helmv2.HelmRelease
	if err := yaml.UnmarshalStrict(read(args[0]), &hr); err != nil {
		fail(fmt.Errorf("%s: %w", args[0], err))
	}
	renderers := postRenderers(hr.Spec.PostRenderers)
	if *chart != "" {
		install(*chart, hr.Spec.PostRenderStrategy, renderers)
		return
	}
	out, err := renderers.Run(bytes.NewBuffer(read(args[1])))
	if err != nil {
		fail(err)
	}
	os.Stdout.Write(out.Bytes())
}

// postRenderers chains the release's kustomize post-renderers in order (build.go BuildPostRenderers).
type postRenderers []helmv2.PostRenderer

func (renderers postRenderers) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	stream := in.Bytes()
	for index, renderer := range renderers {
		if renderer.Kustomize == nil {
			continue
		}
		out, err := build(renderer.Kustomize, stream)
		if err != nil {
			return nil, fmt.Errorf("postRenderers[%d]: %w", index, err)
		}
		stream = out
	}
	return bytes.NewBuffer(stream), nil
}

func install(chartDir string, strategy helmv2.PostRenderStrategy, renderers postRenderers) {
	chart, err := loader.Load(chartDir)
	if err != nil {
		fail(err)
	}
	config := &action.Configuration{Releases: storage.Init(driver.NewMemory()),
		KubeClient: &kubefake.PrintingKubeClient{Out: io.Discard}, Capabilities: common.DefaultCapabilities}
	client := action.NewInstall(config)
	client.DryRunStrategy, client.ReleaseName, client.Namespace, client.Replace = action.DryRunClient, "release", "default", true
	client.PostRenderer = renderers
	if strategy == "" {
		strategy = helmv2.PostRenderStrategyCombined
	}
	client.PostRenderStrategy = action.PostRenderStrategy(strategy)
	installed, err := client.Run(chart, map[string]any{})
	if err != nil {
		fail(err)
	}
	rel, ok := installed.(*release.Release)
	if !ok {
		fail(fmt.Errorf("unexpected release type %T", installed))
	}
	hooks := []string{}
	for _, hook := range rel.Hooks {
		hooks = append(hooks, hook.Manifest)
	}
	if err := json.NewEncoder(os.Stdout).Encode(map[string]any{"manifest": rel.Manifest, "hooks": hooks}); err != nil {
		fail(err)
	}
}

func build(spec *helmv2.Kustomize, stream []byte) ([]byte, error) {
	fs := filesys.MakeFsInMemory()
	const input = "helm-output.yaml"
	if err := fs.WriteFile(input, stream); err != nil {
		return nil, err
	}
	kustomization := kustypes.Kustomization{Resources: []string{input}}
	kustomization.APIVersion, kustomization.Kind = kustypes.KustomizationVersion, kustypes.KustomizationKind
	for _, patch := range spec.Patches {
		entry := kustypes.Patch{Patch: patch.Patch}
		if t := patch.Target; t != nil {
			entry.Target = &kustypes.Selector{LabelSelector: t.LabelSelector, AnnotationSelector: t.AnnotationSelector}
			entry.Target.Name, entry.Target.Namespace = t.Name, t.Namespace
			entry.Target.Group, entry.Target.Version, entry.Target.Kind = t.Group, t.Version, t.Kind
		}
		kustomization.Patches = append(kustomization.Patches, entry)
	}
	for _, image := range spec.Images {
		kustomization.Images = append(kustomization.Images, kustypes.Image{Name: image.Name, NewName: image.NewName,
			NewTag: image.NewTag, Digest: image.Digest})
	}
	text, err := yaml.Marshal(kustomization)
	if err != nil {
		return nil, err
	}
	if err := fs.WriteFile("kustomization.yaml", text); err != nil {
		return nil, err
	}
	options := &krusty.Options{LoadRestrictions: kustypes.LoadRestrictionsNone, PluginConfig: kustypes.DisabledPluginConfig()}
	resources, err := krusty.MakeKustomizer(options).Run(fs, ".")
	if err != nil {
		return nil, err
	}
	out, err := resources.AsYaml()
	return bytes.TrimSpace(append(out, '\n')), err
}

func read(path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		fail(err)
	}
	return data
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "fluxpostrender:", err)
	os.Exit(1)
}
