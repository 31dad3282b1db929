package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap/zapcore"
)

type etcdServer struct {
	*embed.Etcd
	clientURL string
}

// startEtcd starts a one-member etcd as k8s.io/apiserver's own test server does
// (pkg/storage/etcd3/testserver/test_server.go NewTestConfig): no fsync, since its data lives as
// long as the process; free ports, on loopback only; errors-only logging.
func startEtcd(dir string) (*etcdServer, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port can be taken between probe and bind
		if err := os.RemoveAll(dir); err != nil { // a failed attempt may have left a member behind
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		ports, err := freePorts(2)
		if err != nil {
			return nil, err
		}
		clientURL := url.URL{Scheme: "http", Host: net.JoinHostPort(loopback, fmt.Sprint(ports[0]))}
		peerURL := url.URL{Scheme: "http", Host: net.JoinHostPort(loopback, fmt.Sprint(ports[1]))}
		cfg := embed.NewConfig()
		cfg.Dir = dir
		cfg.UnsafeNoFsync = true
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{clientURL}, []url.URL{clientURL}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peerURL}, []url.URL{peerURL}
		cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
		cfg.LogLevel = zapcore.ErrorLevel.String()
		etcd, err := embed.StartEtcd(cfg)
		if err != nil {
			lastErr = err
			continue
		}
		select {
		case <-etcd.Server.ReadyNotify():
			return &etcdServer{Etcd: etcd, clientURL: clientURL.String()}, nil
		case err := <-etcd.Err():
			etcd.Close()
			return nil, fmt.Errorf("etcd: %w", err)
		case <-time.After(etcdTimeout):
			etcd.Close()
			return nil, fmt.Errorf("etcd not ready after %s", etcdTimeout)
		}
	}
	return nil, fmt.Errorf("etcd: %w", lastErr)
}

func freePorts(count int) ([]int, error) {
	ports := make([]int, 0, count)
	for range count {
		listener, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
		if err != nil {
			return nil, err
		}
		defer listener.Close()
		ports = append(ports, listener.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
