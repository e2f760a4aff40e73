"""The kind node: the container engine kind runs on (podman with runc) and a kind node image
built from source, for where `kindest/node` cannot be pulled (issue 37).

Sits between the embedded cluster and the targets: it builds from the embedded cluster's pinned
Kubernetes and build cache (`pytest_kfs.local.assets`, `progress`), and the kind target
(targets/kind.py) reaches it, lazily, to set up the engine and to find the image. Nothing here
is imported when the package is (this file is empty on purpose).
"""
