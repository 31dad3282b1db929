//go:build istio_1_24

package main

import (
	meshconfig "istio.io/api/mesh/v1alpha1"
	"istio.io/istio/pkg/config/mesh"
)

// meshWatcher: a mesh config that never changes (Istio 1.24: pkg/config/mesh/watcher.go).
func meshWatcher(config *meshconfig.MeshConfig) mesh.Watcher {
	return mesh.NewFixedWatcher(config)
}
