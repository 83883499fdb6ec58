//go:build tools

// Package tools pins the Kubernetes components built from one k8s.io/kubernetes version:
// kube-apiserver for envtest, and the node's kubelet, kube-controller-manager,
// kube-scheduler and kube-proxy for the e2e cluster; kubectl for the runbook tests; build.sh builds them.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
