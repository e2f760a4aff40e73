//go:build tools

// Package tools pins the command this module builds: KServe's manager.
package tools

import _ "github.com/kserve/kserve/cmd/manager"
