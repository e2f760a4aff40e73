"""The embedded node: a scheduler + kubelet that runs containers as local processes."""
