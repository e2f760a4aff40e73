"""Status snapshots and log lines as reported in KServe issues (plain data for unit tests)."""


def isvc(
    model_status=None,
    conditions=None,
    min_replicas=None,
    generation=1,
    observed=1,
    storage_uri="gs://kfserving-examples/models/sklearn/1.0/model",
    service_account=None,
    name="sklearn-iris",
    namespace="models",
):
    """An InferenceService dict as the API returns it."""
    predictor = {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": storage_uri}}
    if min_replicas is not None:
        predictor["minReplicas"] = min_replicas
    if service_account:
        predictor["serviceAccountName"] = service_account
    status = {"observedGeneration": observed}
    if model_status is not None:
        status["modelStatus"] = model_status
    if conditions is not None:
        status["conditions"] = conditions
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": namespace, "generation": generation},
        "spec": {"predictor": predictor},
        "status": status,
    }


def ready(value="True"):
    return [{"type": kind, "status": value} for kind in ("IngressReady", "PredictorReady", "Ready")]


# kserve/kserve#3798 (the seed): GCS bucket not readable by the serving identity.
ISSUE_3798 = {
    "copies": {"failedCopies": 0, "totalCopies": 1},
    "states": {"activeModelState": "Loaded", "targetModelState": "Pending"},
    "transitionStatus": "InProgress",
}

# kserve/kserve#6079 and #3686: healthy Serverless service with minReplicas 0, scaled to zero.
ISSUE_6079 = {
    "states": {"activeModelState": "Loaded", "targetModelState": "Pending"},
    "transitionStatus": "InProgress",
    "copies": {"failedCopies": 0},
}

LOADED = {
    "copies": {"failedCopies": 0, "totalCopies": 1},
    "states": {"activeModelState": "Loaded", "targetModelState": "Loaded"},
    "transitionStatus": "UpToDate",
}


def failed_to_load(message, reason="ModelLoadFailed", active="Pending"):
    return {
        "copies": {"failedCopies": 1, "totalCopies": 0},
        "states": {"activeModelState": active, "targetModelState": "FailedToLoad"},
        "transitionStatus": "BlockedByFailedLoad",
        "lastFailureInfo": {
            "reason": reason,
            "message": message,
            "exitCode": 1,
            "location": "sklearn-iris-predictor-00001-deployment-abc",
        },
    }


# storage-initializer log lines: the wording of GCS and google-auth as quoted in
# shared/reference/gcp-access.md §5 and in kserve/kserve#3115, #1108, #2439.
LIST_DENIED = (
    "2024-07-17 10:00:00.000 1 kserve ERROR [storage.py:_download_gcs():] GCS error for "
    "gs://kfserving-examples/models/sklearn/1.0/model: 403 GET https://storage.googleapis.com/"
    "storage/v1/b/kfserving-examples/o?projection=noAcl&prefix=models%2Fsklearn%2F1.0%2Fmodel"
    "%2F&prettyPrint=false: kserve@ml-prod.iam.gserviceaccount.com does not have "
    "storage.objects.list access to the Google Cloud Storage bucket. Permission "
    "'storage.objects.list' denied on resource (or it may not exist)."
)
GET_DENIED = (
    "google.api_core.exceptions.Forbidden: 403 GET https://storage.googleapis.com/download/"
    "storage/v1/b/kfserving-examples/o/models%2Fsklearn%2F1.0%2Fmodel%2Fmodel.joblib?alt=media:"
    ' {"error": {"code": 403, "message": "kserve@ml-prod.iam.gserviceaccount.com does not'
    " have storage.objects.get access to the Google Cloud Storage object. Permission "
    "'storage.objects.get' denied on resource (or it may not exist).\"}}"
)
WI_KSA_DENIED = (
    "403 GET https://storage.googleapis.com/storage/v1/b/models/o?prefix=iris%2F: "
    "ml-prod.svc.id.goog[models/default] does not have storage.objects.list access to the "
    "Google Cloud Storage bucket. Permission 'storage.objects.list' denied on resource (or it "
    "may not exist)."
)
ANONYMOUS = "google.auth.exceptions.InvalidOperation: Anonymous credentials cannot be refreshed."
BUCKET_MISSING = (
    "google.api_core.exceptions.NotFound: 404 GET https://storage.googleapis.com/"
    "storage/v1/b/kfserving-exampels/o?prefix=models%2F: The specified bucket "
    "does not exist."
)
KEY_DISABLED = (
    "google.auth.exceptions.RefreshError: ('invalid_grant: Invalid JWT Signature.',"
    " {'error': 'invalid_grant', 'error_description': 'Invalid JWT Signature.'})"
)
WI_BINDING = (
    'google.auth.exceptions.RefreshError: ("Failed to retrieve http://metadata.google.internal/'
    "computeMetadata/v1/instance/service-accounts/kserve@ml-prod.iam.gserviceaccount.com/token"
    ' from the Google Compute Engine metadata service. Status: 403 Response:\\nb"Unable to '
    "generate access token; IAM returned 403 Forbidden: Permission "
    "'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)."
)
PATH_EMPTY = (
    "google.api_core.exceptions.NotFound: 404 GET http://storage/download/storage/v1/"
    "b/kfserving-examples/o/models%2Fsklearn%2F9.9%2Fmodel?alt=media: No such object:"
    " kfserving-examples/models/sklearn/9.9/model"
)


# Recorded from KServe v0.20.0's own manager on the embedded cluster (docs/kserve_statuses.py's
# set-up): the predictor Deployment of a healthy model whose storageUri was then updated.
_TEMPLATE = {
    "prometheus.kserve.io/path": "/metrics",
    "prometheus.kserve.io/port": "8080",
    "serving.kserve.io/deploymentMode": "Standard",
}
OLD_URI = "gs://kfserving-examples/models/sklearn/1.0/model"
NEW_URI = OLD_URI + "/"


def deployment(generation, replicas, updated, available, observed, uri):
    """The predictor Deployment (metadata.generation, spec, status) as the API returned it."""
    return {
        "metadata": {"name": "model-predictor", "generation": generation},
        "spec": {
            "replicas": 1,
            "template": {
                "metadata": {
                    "annotations": {
                        **_TEMPLATE,
                        "internal.serving.kserve.io/storage-initializer-sourceuri": uri,
                    }
                }
            },
        },
        "status": {
            "replicas": replicas,
            "updatedReplicas": updated,
            "availableReplicas": available,
            "readyReplicas": available,
            "observedGeneration": observed,
        },
    }


# t=0.02 s after the update: the InferenceService is at generation 2, KServe has not yet
# rewritten the Deployment, and the status still reads Loaded (observedGeneration 1).
ROLLOUT_NOT_STARTED = deployment(1, 1, 1, 1, 1, OLD_URI)
# t=1.01 s: status Loaded / Loaded / UpToDate with observedGeneration 2 == generation 2, while
# only the old pod serves: the race the update tests tripped on.
ROLLOUT_HALFWAY = deployment(2, 2, 1, 1, 2, NEW_URI)
# t=3.65 s: the new pod serves, the old one is gone.
ROLLOUT_DONE = deployment(2, 1, 1, 1, 2, NEW_URI)
