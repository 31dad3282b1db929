// Command fluxpostrender applies a HelmRelease's kustomize post-renderers to a rendered stream the
// way helm-controller does, at helm-controller's kustomize version (v5.8.1, api v0.21.1): each
// spec.postRenderers[].kustomize entry is one in-memory build whose only resource is the stream and
// whose patches and images are the entry's, the output of one feeding the next
// (fluxcd/helm-controller internal/postrender/kustomize.go Kustomize.Run and buildKustomization,
// build.go BuildPostRenderers; written from reading them, the package being internal).
//
// The HelmRelease is decoded strictly into helm-controller's own API type, so a field it does not
// have is an error. Usage: fluxpostrender HELMRELEASE.yaml RENDERED.yaml > post-rendered.yaml
package main

import (
	"bytes"
	"fmt"
	"os"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"sigs.k8s.io/kustomize/api/krusty"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) != 3 {
		fail(fmt.Errorf("usage: fluxpostrender HELMRELEASE.yaml RENDERED.yaml"))
	}
	release := read(os.Args[1])
	var hr helmv2.HelmRelease
	if err := yaml.UnmarshalStrict(release, &hr); err != nil {
		fail(fmt.Errorf("%s: %w", os.Args[1], err))
	}
	stream := read(os.Args[2])
	for index, renderer := range hr.Spec.PostRenderers {
		if renderer.Kustomize == nil {
			continue
		}
		out, err := build(renderer.Kustomize, stream)
		if err != nil {
			fail(fmt.Errorf("postRenderers[%d]: %w", index, err))
		}
		stream = out
	}
	os.Stdout.Write(stream)
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
