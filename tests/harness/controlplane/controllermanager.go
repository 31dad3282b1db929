package main

import (
	"context"

	"github.com/spf13/pflag"
	"k8s.io/apiserver/pkg/util/compatibility"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	basecompatibility "k8s.io/component-base/compatibility"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app/options"
)

// runControllerManager runs kube-controller-manager's default controllers (namespace lifecycle,
// service accounts and their tokens, Deployment/ReplicaSet, StatefulSet, DaemonSet, Job, CronJob,
// the garbage collector ...) as its command does (cmd/kube-controller-manager/app
// NewControllerManagerCommand), without leader election or a serving port. It gets a registry of
// its own for its version flags, as Kubernetes' own in-process test server does
// (cmd/kube-controller-manager/app/testing/testserver.go): the API server's already holds the
// feature gates both read.
func runControllerManager(ctx context.Context, kubeconfig string, files pki) error {
	s, err := options.NewKubeControllerManagerOptions()
	if err != nil {
		return err
	}
	registry := basecompatibility.NewComponentGlobalsRegistry()
	version := compatibility.DefaultBuildEffectiveVersion()
	if err := registry.Register(basecompatibility.DefaultKubeComponent, version, utilfeature.DefaultMutableFeatureGate.DeepCopy()); err != nil {
		return err
	}
	s.ComponentGlobalsRegistry = registry

	all, disabled, aliases := app.KnownControllers(), app.ControllersDisabledByDefault(), app.ControllerAliases()
	named := s.Flags(all, disabled, aliases)
	flags := pflag.NewFlagSet("kube-controller-manager", pflag.ContinueOnError)
	for _, set := range named.FlagSets {
		flags.AddFlagSet(set)
	}
	if err := flags.Parse([]string{
		"--kubeconfig=" + kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
		"--service-account-private-key-file=" + files.serviceKey,
		"--root-ca-file=" + files.caCert,
		"--use-service-account-credentials=false",
	}); err != nil {
		return err
	}
	s.ParsedFlags = &named
	if err := registry.Set(); err != nil {
		return err
	}
	config, err := s.Config(ctx, all, disabled, aliases)
	if err != nil {
		return err
	}
	return app.Run(ctx, config.Complete())
}
