// Command argocd-harness runs Argo CD's own repo-server manifest generation and cmp-server
// (argoproj/argo-cd) so the tests can drive our plugin through them. One source, two releases:
// the release's packages come from release_v2.go or release_v3.go under the names used here:
//
//	go build -modfile=go.mod .                                   the newest (Argo CD v3, Go 1.27)
//	go build -modfile=go.argocd-2.14.mod -tags argocd_v2 .       the oldest supported (v2.14)
//
// (`go mod tidy` reads every build tag, so it would put both majors in each go.mod: update a
// release with `go get` under its -modfile and -tags instead.)
//
//	argocd-harness serve <config dir>   cmpserver: serve <config dir>/plugin.yaml on
//	                                    $ARGOCD_PLUGINSOCKFILEPATH/<name>.sock until killed
//	argocd-harness generate             reposerver/repository.GenerateManifests for the JSON
//	                                    request on stdin: {"appPath", "repoRoot", "revision", "request"}
//	argocd-harness envsubst             v1alpha1.Env.Envsubst: {"env": [{"name", "value"}], "texts": [...]}
//	                                    on stdin, the substituted texts as a JSON list on stdout
//
// generate prints {"sourceType", "manifests", "commands"} or exits 1 with {"error"}. It is the
// repo-server's path after the checkout: source type (ExplicitType, then util/app/discovery),
// then helm/kustomize/directory in process or the plugin over the socket with the env and
// tarball the repo-server sends. Git, caching, the Application controller and RBAC are not
// run: the tests hand over a checked-out directory.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

type generateInput struct {
	AppPath  string          `json:"appPath"`
	RepoRoot string          `json:"repoRoot"`
	Revision string          `json:"revision"`
	Request  manifestRequest `json:"request"`
	// The repo-server's request deadline (reposerver --repo-server-timeout-seconds, 60 s by default).
	TimeoutSeconds int `json:"timeoutSeconds"`
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "serve" {
		serve(os.Args[2])
		return
	}
	if len(os.Args) == 2 && os.Args[1] == "generate" {
		generate()
		return
	}
	if len(os.Args) == 2 && os.Args[1] == "envsubst" {
		envsubst()
		return
	}
	fmt.Fprintln(os.Stderr, "usage: argocd-harness serve <config dir> | generate < request.json")
	os.Exit(2)
}

func serve(configDir string) {
	config, err := readPluginConfig(configDir)
	fail(err)
	server, err := newCMPServer(cmpServerInit{PluginConfig: *config})
	fail(err)
	grpcServer, err := server.CreateGRPC()
	fail(err)
	// cmpserver.Run listens the same way but also exits the process on signals; the tests kill us.
	_ = os.Remove(config.Address())
	listener, err := net.Listen("unix", config.Address())
	fail(err)
	fail(grpcServer.Serve(listener))
}

func generate() {
	var input generateInput
	fail(json.NewDecoder(os.Stdin).Decode(&input))
	timeout := time.Duration(input.TimeoutSeconds) * time.Second
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	response, err := generateManifests(ctx, input.AppPath, input.RepoRoot, input.Revision, &input.Request,
		false, nil, resource.MustParse("100Mi"), newTempPaths(os.TempDir()))
	fail(err)
	fail(json.NewEncoder(os.Stdout).Encode(map[string]any{
		"sourceType": response.SourceType,
		"manifests":  response.Manifests,
		"commands":   response.Commands,
	}))
}

func envsubst() {
	var input struct {
		Env   pluginEnv `json:"env"` // [{"name", "value"}], as v1alpha1.EnvEntry reads it
		Texts []string  `json:"texts"`
	}
	fail(json.NewDecoder(os.Stdin).Decode(&input))
	out := make([]string, len(input.Texts))
	for i, text := range input.Texts {
		out[i] = input.Env.Envsubst(text)
	}
	fail(json.NewEncoder(os.Stdout).Encode(out))
}

func fail(err error) {
	if err != nil {
		_ = json.NewEncoder(os.Stdout).Encode(map[string]string{"error": err.Error()})
		os.Exit(1)
	}
}
