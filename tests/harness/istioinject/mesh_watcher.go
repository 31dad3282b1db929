//go:build !istio_1_24

package main

import (
	meshconfig "istio.io/api/mesh/v1alpha1"
	"istio.io/istio/pkg/config/mesh/meshwatcher"
	"istio.io/istio/pkg/kube/krt"
)

// meshWatcher: a mesh config that never changes, as istiod's mesh watcher adapts its source
// (pkg/config/mesh/meshwatcher/mesh.go ConfigAdapter over a static krt collection).
func meshWatcher(config *meshconfig.MeshConfig) meshwatcher.WatcherCollection {
	return meshwatcher.ConfigAdapter(krt.NewStatic(&meshwatcher.MeshConfigResource{MeshConfig: config}, true))
}
