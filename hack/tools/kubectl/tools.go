//go:build tools

// Package tools pins kubectl, at the version of kube-apiserver, for the runbook tests; build.sh builds it.
package tools

import _ "k8s.io/kubernetes/cmd/kubectl"
