// Command dockerfile-llb converts a Dockerfile with BuildKit's own Dockerfile frontend
// (github.com/moby/buildkit frontend/dockerfile/dockerfile2llb), as `docker buildx build` does, but
// without a daemon or a registry, and prints JSON:
//   - "lint": the warnings of `docker build --check` (DockerfileLint), and "error" if it cannot build;
//   - "builds": per build-arg set and platform given, the sources of the LLB graph (images, HTTP
//     downloads with their pinned checksums, local context paths).
//
// usage: dockerfile-llb DOCKERFILE PLATFORM[,PLATFORM...] KEY=VALUE[;KEY=VALUE...] [...more arg sets]
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// offlineImages stands in for the registry, so the conversion needs no network: every base image is a
// one-layer Linux image (with no layers the frontend would treat it as scratch). The frontend reads
// only its config (env, user, workdir).
type offlineImages struct{ arch string }

func (o offlineImages) ResolveImageConfig(_ context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	config := fmt.Sprintf(`{"architecture":%q,"os":"linux","rootfs":{"type":"layers","diff_ids":["%s"]},"config":{"Env":["PATH=/usr/local/bin:/usr/bin:/bin"]}}`, o.arch, digest.FromString(ref))
	return ref, digest.FromString(ref), []byte(config), nil
}

type source struct {
	Identifier string            `json:"identifier"`
	Attrs      map[string]string `json:"attrs,omitempty"`
}

type build struct {
	Platform string            `json:"platform"`
	Args     map[string]string `json:"args"`
	Sources  []source          `json:"sources"`
	Error    string            `json:"error,omitempty"`
}

type report struct {
	Lint   []string `json:"lint"`
	Error  string   `json:"error,omitempty"`
	Builds []build  `json:"builds"`
}

func parseArgs(text string) map[string]string {
	args := map[string]string{}
	for _, pair := range strings.Split(text, ";") {
		if key, value, ok := strings.Cut(pair, "="); ok {
			args[key] = value
		}
	}
	return args
}

func convert(ctx context.Context, dockerfile []byte, arch string, args map[string]string) build {
	result := build{Platform: "linux/" + arch, Args: args}
	platform := ocispecs.Platform{OS: "linux", Architecture: arch}
	converted, err := dockerfile2llb.Dockerfile2LLB(ctx, dockerfile, dockerfile2llb.ConvertOpt{
		Config:         dockerui.Config{BuildArgs: args, TargetPlatforms: []ocispecs.Platform{platform}},
		TargetPlatform: &platform,
		MetaResolver:   offlineImages{arch},
	})
	if err != nil {
		result.Error = err.Error()
		return result
	}
	definition, err := converted.State.Marshal(ctx)
	if err != nil {
		result.Error = err.Error()
		return result
	}
	for _, raw := range definition.Def {
		var op pb.Op
		if err := op.UnmarshalVT(raw); err != nil {
			result.Error = err.Error()
			return result
		}
		if src := op.GetSource(); src != nil {
			result.Sources = append(result.Sources, source{Identifier: src.Identifier, Attrs: src.Attrs})
		}
	}
	sort.Slice(result.Sources, func(i, j int) bool { return result.Sources[i].Identifier < result.Sources[j].Identifier })
	return result
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: dockerfile-llb DOCKERFILE PLATFORM[,...] KEY=VALUE[;...] [...]")
		os.Exit(2)
	}
	ctx := context.Background()
	dockerfile, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	archs := strings.Split(os.Args[2], ",")
	out := report{Lint: []string{}, Builds: []build{}}

	// The lint results name their source by its LLB definition, as the frontend's own does.
	dockerfileSource := llb.Local("dockerfile")
	sourceMap := llb.NewSourceMap(&dockerfileSource, "Dockerfile", "Dockerfile", dockerfile)
	if sourceMap.Definition, err = dockerfileSource.Marshal(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	lint, err := dockerfile2llb.DockerfileLint(ctx, dockerfile, dockerfile2llb.ConvertOpt{
		Config:       dockerui.Config{BuildArgs: parseArgs(os.Args[3])},
		SourceMap:    sourceMap,
		MetaResolver: offlineImages{archs[0]},
	})
	if err != nil {
		out.Error = err.Error()
	} else {
		for _, warning := range lint.Warnings {
			out.Lint = append(out.Lint, fmt.Sprintf("%s: %s", warning.RuleName, warning.Detail))
		}
		if lint.Error != nil {
			out.Error = lint.Error.Message
		}
	}
	for _, argSet := range os.Args[3:] {
		for _, arch := range archs {
			out.Builds = append(out.Builds, convert(ctx, dockerfile, arch, parseArgs(argSet)))
		}
	}
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetIndent("", "  ")
	if err := encoder.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
