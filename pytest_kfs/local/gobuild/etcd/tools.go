//go:build tools

// Package tools pins etcd's server, the kind node image's registry.k8s.io/etcd.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
