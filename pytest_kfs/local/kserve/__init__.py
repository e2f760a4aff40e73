"""The embedded KServe: controller, webhook and a one-node kubelet."""
