package main

import (
	"context"
	"net"
	"strings"

	"github.com/spf13/pflag"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/rest"
	basecompatibility "k8s.io/component-base/compatibility"
	logsapi "k8s.io/component-base/logs/api/v1"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
	"k8s.io/kubernetes/cmd/kube-apiserver/app/options"
)

// MutatingAdmissionPolicy is GA and served as admissionregistration.k8s.io/v1 by default in 1.37
// (pkg/features/kube_features.go; pkg/controlplane/instance.go); v1beta1 and v1alpha1 still carry
// it and are served too, so a generated policy can be proven for each version a cluster may serve.
var runtimeConfig = []string{
	"admissionregistration.k8s.io/v1beta1=true",
	"admissionregistration.k8s.io/v1alpha1=true",
}

// runAPIServer runs kube-apiserver as its command does (cmd/kube-apiserver/app/server.go
// NewAPIServerCommand: parse flags, set the component globals, apply logging, complete, validate,
// Run), serving on the given loopback listener.
func runAPIServer(ctx context.Context, listener net.Listener, etcdURL string, files pki, extraFlags []string) error {
	s := options.NewServerRunOptions()
	flags := pflag.NewFlagSet("kube-apiserver", pflag.ContinueOnError)
	for _, set := range s.Flags().FlagSets {
		flags.AddFlagSet(set)
	}
	args := append([]string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=" + loopback,
		"--advertise-address=" + loopback,
		"--tls-cert-file=" + files.servingCert,
		"--tls-private-key-file=" + files.servingKey,
		"--token-auth-file=" + files.tokenFile,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + files.serviceKey,
		"--service-account-signing-key-file=" + files.serviceKey,
		"--service-cluster-ip-range=10.96.0.0/16", // addresses handed to Services, never bound
		"--endpoint-reconciler-type=none",
		"--runtime-config=" + strings.Join(runtimeConfig, ","),
		"--profiling=false",
	}, extraFlags...)
	if err := flags.Parse(args); err != nil {
		return err
	}
	s.SecureServing.Listener = listener
	s.SecureServing.BindPort = listener.Addr().(*net.TCPAddr).Port

	registry := s.GenericServerRunOptions.ComponentGlobalsRegistry
	if err := registry.Set(); err != nil {
		return err
	}
	rest.SetDefaultWarningHandler(rest.NoWarnings{})
	if err := logsapi.ValidateAndApply(s.Logs, registry.FeatureGateFor(basecompatibility.DefaultKubeComponent)); err != nil {
		return err
	}
	completed, err := s.Complete(ctx)
	if err != nil {
		return err
	}
	if errs := completed.Validate(); len(errs) != 0 {
		return utilerrors.NewAggregate(errs)
	}
	return app.Run(ctx, completed)
}
