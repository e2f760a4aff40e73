"""The embedded cluster (`--kfs-cluster=local`): reached only through targets/local.py.

Imports only the bottom layers of the package (errors, kserve, kube, gcp); nothing here is
imported when the package is (this file is empty on purpose).
"""
