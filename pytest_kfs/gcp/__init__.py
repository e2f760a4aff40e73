"""Google Cloud for KServe models: gs:// URIs, key files, IAM (pure); the serving identity,
bucket access through Google's own clients, and the in-cluster probe (I/O).
"""
