"""The local GCP: token endpoint (oauth), metadata server (metadata), GCS with per-identity IAM
(storage, iam_api) behind one HTTP server (server: LocalGcp), over one state (state, world) that
the admin API arranges; the IAM it enforces is its own table (roles).
"""
