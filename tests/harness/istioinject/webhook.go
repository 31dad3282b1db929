package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/cert"

	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pkg/config/constants"
	"istio.io/istio/pkg/kube"
	"istio.io/istio/pkg/kube/inject"
	"istio.io/istio/pkg/kube/multicluster"
)

const (
	loopback     = "127.0.0.1"
	readyTimeout = 30 * time.Second
)

// ready is written to STATE/ready once the API server admits a pod through this webhook.
type ready struct {
	URL string `json:"url"`
	PID int    `json:"pid"`
	// Form is where a pod without a nativeSidecar annotation got istio-proxy: "native"
	// (initContainers, restartPolicy Always) or "regular" (containers): the mesh default as decided.
	Form string `json:"form"`
}

// serveWebhook wires Istio's injector as istiod does (pilot/pkg/bootstrap/sidecarinjector.go
// initSidecarInjector), with the pieces Istio's own webhook tests use where istiod has a
// cluster-wide machinery (pkg/kube/inject/webhook_test.go createWebhook, TestRunAndServe).
func serveWebhook(args []string) error {
	flags, sets := newFlags("webhook")
	kubeconfig := flags.String("kubeconfig", "", "the cluster's kubeconfig")
	dir := flags.String("dir", "", "state folder: the injector's config and values, the ready file")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *kubeconfig == "" || *dir == "" {
		return errors.New("webhook needs --kubeconfig and --dir")
	}
	rendered, err := renderChart(*sets)
	if err != nil {
		return err
	}
	// istiod mounts the ConfigMap's two keys as files and watches them (inject.NewFileWatcher).
	configFile, valuesFile := filepath.Join(*dir, "config"), filepath.Join(*dir, "values")
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	for path, text := range map[string]string{configFile: rendered.rawConfig, valuesFile: rendered.values} {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			return err
		}
	}
	watcher, err := inject.NewFileWatcher(configFile, valuesFile)
	if err != nil {
		return err
	}
	meshConfig, err := rendered.meshConfig()
	if err != nil {
		return err
	}
	env := &model.Environment{Watcher: meshWatcher(meshConfig)}
	// No ProxyConfig resources: Istio's CRDs are not installed, so the store istiod would list
	// them from is empty; the mesh config's defaultConfig applies, as in istiod.
	env.SetPushContext(&model.PushContext{ProxyConfigs: model.GetProxyConfigs(model.NewFakeStore(), meshConfig)})

	client, err := kube.NewClient(kube.BuildClientCmd(*kubeconfig, ""), constants.DefaultClusterName)
	if err != nil {
		return err
	}
	// istiod hands the webhook its multicluster controller; with one cluster that is the
	// registry Istio's tests use, given the real client (ENABLE_NATIVE_SIDECARS=auto reads Nodes).
	clusters := multicluster.NewFakeController()
	mux := http.NewServeMux()
	webhook, err := inject.NewWebhook(inject.WebhookParameters{Watcher: watcher, Env: env, Mux: mux, MultiCluster: clusters})
	if err != nil {
		return err
	}
	stop := make(chan struct{})
	defer close(stop)
	clusters.Add(constants.DefaultClusterName, client, stop)
	client.RunAndWait(stop)
	webhook.Run(stop)

	certPEM, keyPEM, err := cert.GenerateSelfSignedCertKey(loopback, []net.IP{net.ParseIP(loopback)}, nil)
	if err != nil {
		return err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return err
	}
	listener, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
	if err != nil {
		return err
	}
	server := &http.Server{Handler: mux, TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}}, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- server.ServeTLS(listener, "", "") }()
	defer server.Close()

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	base := "https://" + listener.Addr().String()
	if err := register(ctx, client.Kube(), rendered.webhooks, base, certPEM); err != nil {
		return err
	}
	form, err := probe(ctx, client.Kube(), served)
	if err != nil {
		return err
	}
	if err := writeReady(filepath.Join(*dir, "ready"), ready{URL: base, PID: os.Getpid(), Form: form}); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "istioinject webhook: serving %s; a pod without annotation gets a %s sidecar\n", base, form)
	select {
	case <-ctx.Done():
		return nil
	case err := <-served:
		return err
	}
}

// register creates or replaces the chart's MutatingWebhookConfiguration, every webhook of it
// pointed at this server: only clientConfig changes (the chart's service path on our URL, our CA).
func register(ctx context.Context, clientset kubernetes.Interface, rendered map[string]any, base string, caBundle []byte) error {
	var configuration admissionv1.MutatingWebhookConfiguration
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(rendered, &configuration); err != nil {
		return err
	}
	for i := range configuration.Webhooks {
		client := &configuration.Webhooks[i].ClientConfig
		path := ""
		if client.Service != nil && client.Service.Path != nil {
			path = *client.Service.Path
		}
		url := base + path
		*client = admissionv1.WebhookClientConfig{URL: &url, CABundle: caBundle}
	}
	configurations := clientset.AdmissionregistrationV1().MutatingWebhookConfigurations()
	existing, err := configurations.Get(ctx, configuration.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = configurations.Create(ctx, &configuration, metav1.CreateOptions{})
	case err == nil:
		configuration.ResourceVersion = existing.ResourceVersion
		_, err = configurations.Update(ctx, &configuration, metav1.UpdateOptions{})
	}
	return err
}

// probe creates (dry run) a pod that asks for injection in the default namespace until the API
// server has called this webhook, and says which form the sidecar took.
func probe(ctx context.Context, clientset kubernetes.Interface, served <-chan error) (string, error) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "injection-probe-", Labels: map[string]string{"sidecar.istio.io/inject": "true"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}},
	}
	deadline := time.Now().Add(readyTimeout)
	var last error
	for time.Now().Before(deadline) {
		created, err := clientset.CoreV1().Pods(metav1.NamespaceDefault).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil {
			if form := sidecarForm(created); form != "" {
				return form, nil
			}
			err = errors.New("the pod was admitted without istio-proxy")
		}
		last = err
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case err := <-served:
			return "", err
		case <-time.After(200 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("the API server did not inject through this webhook within %s: %w", readyTimeout, last)
}

func sidecarForm(pod *corev1.Pod) string {
	for _, container := range pod.Spec.InitContainers {
		if container.Name == inject.ProxyContainerName {
			return "native"
		}
	}
	for _, container := range pod.Spec.Containers {
		if container.Name == inject.ProxyContainerName {
			return "regular"
		}
	}
	return ""
}

func writeReady(path string, state ready) error {
	data, err := json.Marshal(state)
	if err != nil {
		return err
	}
	partial := path + ".partial"
	if err := os.WriteFile(partial, data, 0o600); err != nil {
		return err
	}
	return os.Rename(partial, path)
}
