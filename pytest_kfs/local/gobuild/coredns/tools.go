//go:build tools

// Package tools pins CoreDNS, the kind node image's registry.k8s.io/coredns/coredns.
package tools

import (
	_ "github.com/coredns/coredns"
)
