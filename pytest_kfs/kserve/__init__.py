"""The KServe model, pure: API names, ModelSpec, manifests, samples, status, runtimes.

No I/O and no client imports: everything here takes and returns plain data, so it is tested with
plain dicts, including status snapshots copied from real clusters and KServe issues.
"""
