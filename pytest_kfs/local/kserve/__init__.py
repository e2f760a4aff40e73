"""KServe itself, from a pinned release: its own manager, CRDs, ConfigMap and runtimes."""
