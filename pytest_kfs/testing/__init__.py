"""Tools for tests and benchmarks: a fault-injecting TCP proxy and a fleet writer that leaves
InferenceServices as KServe and the kubelet would. Not used by the plugin itself.
"""
