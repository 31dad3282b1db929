//go:build !argocd_v2

// Argo CD v3's packages (go.mod) under the names main.go uses.
package main

import (
	"github.com/argoproj/argo-cd/v3/cmpserver"
	"github.com/argoproj/argo-cd/v3/cmpserver/plugin"
	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v3/reposerver/apiclient"
	"github.com/argoproj/argo-cd/v3/reposerver/repository"
	"github.com/argoproj/argo-cd/v3/util/io"
)

type manifestRequest = apiclient.ManifestRequest
type pluginEnv = v1alpha1.Env
type cmpServerInit = plugin.CMPServerInitConstants

var readPluginConfig, newCMPServer = plugin.ReadPluginConfig, cmpserver.NewServer
var generateManifests, newTempPaths = repository.GenerateManifests, io.NewRandomizedTempPaths
