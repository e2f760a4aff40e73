"""Why a model is not Loaded: the codes catalogue, known error signatures and rules (pure),
the evidence they read (collected from a cluster, or pasted by a user), preflight and the
read-only fleet (I/O through kube and gcp).
"""
