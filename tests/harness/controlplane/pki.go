package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// The administrator's identity: a static bearer token (kube-apiserver --token-auth-file) in
// system:masters, which RBAC lets do everything, as kubeadm's admin.conf does with a certificate.
const (
	adminUser  = "sidecar-policy-admin"
	adminGroup = "system:masters"
)

type pki struct {
	servingCert string // the API server's certificate, then the CA that signed it
	servingKey  string
	caCert      string // that CA alone: what clients trust
	serviceKey  string // signs and verifies ServiceAccount tokens
	tokenFile   string
	token       string
	caBundle    []byte
}

func writePKI(dir string) (pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return pki{}, err
	}
	files := pki{
		servingCert: filepath.Join(dir, "apiserver.crt"),
		servingKey:  filepath.Join(dir, "apiserver.key"),
		caCert:      filepath.Join(dir, "ca.crt"),
		serviceKey:  filepath.Join(dir, "service-account.key"),
		tokenFile:   filepath.Join(dir, "tokens.csv"),
	}
	certPEM, keyPEM, err := cert.GenerateSelfSignedCertKey(loopback, []net.IP{net.ParseIP(loopback)}, []string{"localhost"})
	if err != nil {
		return pki{}, err
	}
	chain, err := cert.ParseCertsPEM(certPEM)
	if err != nil || len(chain) != 2 {
		return pki{}, fmt.Errorf("a self-signed certificate and its CA expected: %v", err)
	}
	caPEM, err := cert.EncodeCertificates(chain[1])
	if err != nil {
		return pki{}, err
	}
	serviceKey, err := keyutil.MakeEllipticPrivateKeyPEM()
	if err != nil {
		return pki{}, err
	}
	secret := make([]byte, 24)
	if _, err := rand.Read(secret); err != nil {
		return pki{}, err
	}
	files.token, files.caBundle = hex.EncodeToString(secret), caPEM
	tokens := fmt.Sprintf("%s,%s,%s,%q\n", files.token, adminUser, adminUser, adminGroup)
	for path, data := range map[string][]byte{
		files.servingCert: certPEM, files.servingKey: keyPEM, files.caCert: caPEM, files.serviceKey: serviceKey,
		files.tokenFile: []byte(tokens),
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return pki{}, err
		}
	}
	return files, nil
}

func kubeconfigFor(server string, files pki) clientcmdapi.Config {
	const name = "sidecar-policy"
	config := clientcmdapi.NewConfig()
	config.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: files.caBundle}
	config.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: files.token}
	config.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: "default"}
	config.CurrentContext = name
	return *config
}

func writeAtomically(path string, config clientcmdapi.Config) error {
	partial := path + ".partial"
	if err := clientcmd.WriteToFile(config, partial); err != nil {
		return err
	}
	return os.Rename(partial, path)
}
