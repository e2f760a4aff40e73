//go:build tools

// Package tools pins local-path-provisioner, the kind node image's default storage.
package tools

import (
	_ "github.com/rancher/local-path-provisioner"
)
