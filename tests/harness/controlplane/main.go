// controlplane runs a Kubernetes control plane in one process, for the tests and `./dev cluster`:
// etcd (go.etcd.io/etcd/server/v3/embed), kube-apiserver and kube-controller-manager, each started
// from its own options and Run function in k8s.io/kubernetes (cmd/kube-apiserver/app,
// cmd/kube-controller-manager/app), as their commands start them. No kubelet, no scheduler: pods are
// created and admitted, never run.
//
//	controlplane --dir STATE [--apiserver-flag=--name=value]...
//
// Everything listens on 127.0.0.1 only. STATE receives the certificates, etcd's data and, once the
// API server is ready and the controllers run (the `default` ServiceAccount exists),
// STATE/kubeconfig for an administrator (system:masters). SIGTERM or SIGINT stops it all.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Kubernetes itself refuses loopback addresses only where a pod or node must reach them (the
// `kubernetes` Service's endpoints): no pod runs here, so that reconciler is off.
const loopback = "127.0.0.1"

// How long each stage may take before the start is given up (bounded waits only).
const (
	etcdTimeout      = 60 * time.Second
	apiserverTimeout = 120 * time.Second
	controllersReady = 60 * time.Second
)

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, " ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	dir := flag.String("dir", "", "state folder (created; certificates, etcd data, kubeconfig)")
	var extra stringList
	flag.Var(&extra, "apiserver-flag", "one more kube-apiserver flag, e.g. --apiserver-flag=--feature-gates=X=true (repeatable)")
	flag.Parse()
	if *dir == "" {
		fail(errors.New("--dir is required"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, *dir, extra); err != nil {
		fail(err)
	}
}

func run(ctx context.Context, dir string, extraFlags []string) error {
	files, err := writePKI(filepath.Join(dir, "pki"))
	if err != nil {
		return err
	}
	etcd, err := startEtcd(filepath.Join(dir, "etcd"))
	if err != nil {
		return err
	}
	defer etcd.Close()

	listener, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
	if err != nil {
		return err
	}
	server := "https://" + listener.Addr().String()
	kubeconfig := kubeconfigFor(server, files)
	internal := filepath.Join(dir, "controller-manager.kubeconfig")
	if err := clientcmd.WriteToFile(kubeconfig, internal); err != nil {
		return err
	}

	failed := make(chan error, 2)
	apiserverDone := make(chan struct{})
	go func() {
		defer close(apiserverDone)
		failed <- prefix("kube-apiserver", runAPIServer(ctx, listener, etcd.clientURL, files, extraFlags))
	}()
	client, err := clientFor(internal)
	if err != nil {
		return err
	}
	if err := waitFor(ctx, failed, apiserverTimeout, "kube-apiserver /readyz", func(ctx context.Context) (bool, error) {
		var status int
		client.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).StatusCode(&status)
		return status == 200, nil
	}); err != nil {
		return err
	}
	go func() {
		failed <- prefix("kube-controller-manager", runControllerManager(ctx, internal, files))
	}()
	if err := waitFor(ctx, failed, controllersReady, "the default ServiceAccount (kube-controller-manager)", func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, ignoreNotFound(err)
	}); err != nil {
		return err
	}
	// Written last and renamed into place: whoever sees the file may use the cluster.
	if err := writeAtomically(filepath.Join(dir, "kubeconfig"), kubeconfig); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "controlplane: ready at %s\n", server)
	select {
	case <-ctx.Done():
	case err := <-failed:
		return err
	}
	// Stopping: give the API server a moment to close its watches, then etcd is closed by the defer.
	select {
	case <-apiserverDone:
	case <-time.After(5 * time.Second):
	}
	return nil
}

// waitFor polls check every 100 ms until it holds, a component fails, or timeout passes.
func waitFor(ctx context.Context, failed <-chan error, timeout time.Duration, what string, check func(context.Context) (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		attempt, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := check(attempt)
		cancel()
		if ok {
			return nil
		}
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s", what, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-failed:
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func clientFor(kubeconfig string) (*kubernetes.Clientset, error) {
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(config)
}

func ignoreNotFound(err error) error {
	if err == nil || apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func prefix(component string, err error) error {
	if err == nil {
		return fmt.Errorf("%s stopped", component)
	}
	return fmt.Errorf("%s: %w", component, err)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "controlplane:", err)
	os.Exit(1)
}
