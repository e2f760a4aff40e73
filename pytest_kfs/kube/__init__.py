"""The Kubernetes cluster: connecting, namespaces the run owns, permissions, the kind CLI.

I/O against the API server (and the `kind` binary); no pytest, no diagnosis.
"""
