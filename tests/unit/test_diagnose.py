"""diagnose.py on plain evidence built from real KServe issue snapshots and log lines."""

import base64
import json

import pytest

from pytest_kfs.diagnosis.evidence import Evidence
from pytest_kfs.diagnosis.kube_semantics import pod_problems
from pytest_kfs.diagnosis.rules import diagnose, parse_gcs_uri
from pytest_kfs.gcp.identity import summarize_secret

from .snapshots import (
    ANONYMOUS,
    BUCKET_MISSING,
    GET_DENIED,
    ISSUE_6079,
    KEY_DISABLED,
    LIST_DENIED,
    PATH_EMPTY,
    WI_BINDING,
    WI_KSA_DENIED,
    failed_to_load,
    isvc,
    ready,
)

POD = "sklearn-iris-predictor-00001-deployment-abc"
KEY = {
    "type": "service_account",
    "client_email": "kserve@ml-prod.iam.gserviceaccount.com",
    "private_key_id": "0123456789abcdef",
    "private_key": "-----BEGIN PRIVATE KEY-----",
}


def _pod(
    init_state=None, last_state=None, main_state=None, conditions=None, name=POD, main_last=None
):
    status = {"phase": "Pending", "conditions": conditions or []}
    if init_state is not None:
        status["initContainerStatuses"] = [
            {
                "name": "storage-initializer",
                "restartCount": 2,
                "state": init_state,
                "lastState": last_state or {},
            }
        ]
    if main_state is not None:
        status["containerStatuses"] = [
            {
                "name": "kserve-container",
                "restartCount": 0,
                "state": main_state,
                "lastState": main_last or {},
            }
        ]
    return {"metadata": {"name": name}, "status": status}


def _evidence(
    log="",
    model_status=None,
    conditions=None,
    sa=None,
    secrets=None,
    pods=None,
    events=None,
    **isvc_args,
):
    model_status = model_status or failed_to_load(log.splitlines()[-1] if log else "")
    evidence = Evidence(isvc=isvc(model_status, conditions or ready("False"), **isvc_args))
    evidence.pods = (
        pods
        if pods is not None
        else [
            _pod(
                {"waiting": {"reason": "CrashLoopBackOff"}},
                {"terminated": {"reason": "Error", "exitCode": 1, "message": log}},
            )
        ]
    )
    if log:
        evidence.logs[f"{POD}/storage-initializer"] = log
    evidence.service_account = sa
    evidence.service_account_name = (sa or {}).get("name", "default")
    evidence.secrets = secrets or {}
    evidence.events = events or []
    return evidence


def _key_identity():
    encoded = base64.b64encode(json.dumps(KEY).encode()).decode()
    secrets = {
        "gcs-key": summarize_secret("gcs-key", {"gcloud-application-credentials.json": encoded})
    }
    return {"name": "kserve-sa", "annotations": {}, "secrets": ["gcs-key"]}, secrets


def test_list_denied_names_principal_permission_bucket_and_the_grant():
    sa, secrets = _key_identity()
    findings = diagnose(_evidence(LIST_DENIED, sa=sa, secrets=secrets, service_account="kserve-sa"))
    top = findings[0]
    assert top.code == "GCS_LIST_DENIED"
    assert top.principal == "kserve@ml-prod.iam.gserviceaccount.com"
    assert top.permission == "storage.objects.list"
    assert top.bucket == "kfserving-examples"
    assert top.fix == (
        "gcloud storage buckets add-iam-policy-binding gs://kfserving-examples "
        "--member=serviceAccount:kserve@ml-prod.iam.gserviceaccount.com "
        "--role=roles/storage.objectViewer"
    )
    assert any("does not have storage.objects.list access" in item for item in top.evidence)
    assert any("secret gcs-key" in item and "kserve@ml-prod" in item for item in top.evidence)


def test_a_crash_a_storage_rule_explains_is_not_also_a_failed_download():
    sa, secrets = _key_identity()
    findings = diagnose(_evidence(LIST_DENIED, sa=sa, secrets=secrets, service_account="kserve-sa"))
    assert "STORAGE_DOWNLOAD_FAILED" not in [f.code for f in findings]


def test_evidence_never_carries_key_material():
    sa, secrets = _key_identity()
    text = repr(diagnose(_evidence(LIST_DENIED, sa=sa, secrets=secrets)))
    assert "BEGIN PRIVATE KEY" not in text
    assert 'private_key"' not in text


def test_get_denied_is_list_but_not_read():
    top = diagnose(_evidence(GET_DENIED))[0]
    assert (top.code, top.permission) == ("GCS_GET_DENIED", "storage.objects.get")
    assert "legacyBucketReader" in top.cause


def test_a_denied_pool_principal_means_the_ksa_is_not_linked_not_a_bucket_grant():
    top = diagnose(_evidence(WI_KSA_DENIED, storage_uri="gs://models/iris"))[0]
    assert top.code == "WORKLOAD_IDENTITY_NOT_LINKED"
    assert top.principal == "ml-prod.svc.id.goog[models/default]"
    assert top.fix.startswith(
        "kubectl -n models annotate serviceaccount default iam.gke.io/gcp-service-account=<gsa>"
    )
    assert "--member='serviceAccount:ml-prod.svc.id.goog[models/default]'" in top.fix


def test_anonymous_fallback_points_at_missing_credentials():
    sa = {"name": "default", "annotations": {}, "secrets": ["unrelated"]}
    secrets = {"unrelated": summarize_secret("unrelated", {"token": "eA=="})}
    top = diagnose(_evidence(ANONYMOUS, sa=sa, secrets=secrets))[0]
    assert top.code == "GCS_ANONYMOUS_FALLBACK"
    assert "none with key gcloud-application-credentials.json" in " ".join(top.evidence)
    assert "create secret generic" in top.fix


def test_bucket_missing():
    top = diagnose(_evidence(BUCKET_MISSING, storage_uri="gs://kfserving-exampels/models"))[0]
    assert top.code == "GCS_BUCKET_MISSING"
    assert "gs://kfserving-exampels" in top.cause


def test_empty_path():
    top = diagnose(
        _evidence(PATH_EMPTY, storage_uri="gs://kfserving-examples/models/sklearn/9.9/model")
    )[0]
    assert top.code == "GCS_PATH_EMPTY"


def test_disabled_key_says_rotate_it():
    sa, secrets = _key_identity()
    top = diagnose(_evidence(KEY_DISABLED, sa=sa, secrets=secrets))[0]
    assert top.code == "GCS_KEY_INVALID"
    assert "keys create key.json --iam-account=kserve@ml-prod.iam.gserviceaccount.com" in top.fix


def test_workload_identity_binding_missing():
    sa = {
        "name": "kserve-sa",
        "secrets": [],
        "annotations": {"iam.gke.io/gcp-service-account": "kserve@ml-prod.iam.gserviceaccount.com"},
    }
    top = diagnose(_evidence(WI_BINDING, sa=sa, namespace="models"))[0]
    assert top.code == "WORKLOAD_IDENTITY_BINDING_MISSING"
    assert top.fix == (
        "gcloud iam service-accounts add-iam-policy-binding kserve@ml-prod.iam.gserviceaccount"
        ".com --role=roles/iam.workloadIdentityUser "
        "--member='serviceAccount:ml-prod.svc.id.goog[models/kserve-sa]'"
    )


def test_missing_runtime():
    status = failed_to_load("Waiting for runtime to become available", "RuntimeNotRecognized")
    status["transitionStatus"] = "InvalidSpec"
    evidence = _evidence(model_status=status, pods=[])
    evidence.runtimes = ["kserve-sklearnserver"]
    top = diagnose(evidence)[0]
    assert top.code == "RUNTIME_MISSING"
    assert "installed runtimes: kserve-sklearnserver" in top.evidence


def test_scale_to_zero_is_informational_and_alone():
    # kserve/kserve#6079: must NOT read as a permission problem.
    findings = diagnose(
        _evidence(model_status=ISSUE_6079, conditions=ready(), pods=[], min_replicas=0)
    )
    assert [f.code for f in findings] == ["SCALED_TO_ZERO"]
    assert not findings[0].failure


@pytest.mark.parametrize(
    ("pod", "code"),
    [
        (
            _pod(
                conditions=[
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": "0/3 nodes are available: 3 Insufficient memory.",
                    }
                ]
            ),
            "POD_UNSCHEDULABLE",
        ),
        (
            _pod(
                main_state={
                    "waiting": {
                        "reason": "ImagePullBackOff",
                        "message": 'Back-off pulling image "kserve/nope:v1"',
                    }
                }
            ),
            "IMAGE_PULL_FAILED",
        ),
        (_pod(main_state={"terminated": {"reason": "OOMKilled", "exitCode": 137}}), "OOM_KILLED"),
        (
            _pod(
                main_state={"waiting": {"reason": "CrashLoopBackOff"}},
                main_last={"terminated": {"reason": "Completed", "exitCode": 0}},
            ),
            "CONTAINER_EXITED",
        ),
    ],
)
def test_pod_level_causes(pod, code):
    status = {
        "states": {"activeModelState": "Pending", "targetModelState": "Pending"},
        "transitionStatus": "InProgress",
    }
    assert diagnose(_evidence(model_status=status, pods=[pod]))[0].code == code
    assert pod_problems([pod])[0].code == code


def test_missing_service_account_from_events():
    status = {
        "states": {"activeModelState": "Pending", "targetModelState": "Pending"},
        "transitionStatus": "InProgress",
    }
    events = [
        {
            "reason": "FailedCreate",
            "type": "Warning",
            "message": 'Error creating: pods "x" is forbidden: error looking up service account '
            'models/reader: serviceaccount "reader" not found',
        }
    ]
    evidence = _evidence(model_status=status, pods=[], events=events, service_account="reader")
    evidence.service_account_name = "reader"
    top = diagnose(evidence)[0]
    assert top.code == "SERVICE_ACCOUNT_MISSING"
    assert top.fix == "kubectl -n models create serviceaccount reader"


def test_nothing_known_still_says_what_is_seen():
    status = {
        "states": {"activeModelState": "Pending", "targetModelState": "Loading"},
        "transitionStatus": "InProgress",
    }
    findings = diagnose(_evidence(model_status=status, pods=[]))
    assert findings[0].code == "NOT_LOADED_YET"
    assert "Target Loading" in findings[0].cause


@pytest.mark.parametrize(
    ("uri", "expected"),
    [("gs://b/p/q/", ("b", "p/q")), ("gs://b", ("b", "")), ("s3://b/p", (None, ""))],
)
def test_parse_gcs_uri(uri, expected):
    assert parse_gcs_uri(uri) == expected


def test_secret_summary_keeps_identity_drops_values():
    encoded = base64.b64encode(json.dumps(KEY).encode()).decode()
    summary = summarize_secret("k", {"gcloud-application-credentials.json": encoded})
    assert summary.client_email == KEY["client_email"]
    assert "BEGIN PRIVATE KEY" not in repr(summary)
    broken = summarize_secret("k", {"gcloud-application-credentials.json": "!!"})
    assert broken.unparseable_key


def test_a_hostile_log_line_costs_bounded_work():
    # kserve logs are other people's text: a megabyte line without spaces, or one repeating the
    # phrase the denial rule looks for, must cost work bounded by the line's length plus a
    # constant, not its square (the whole-line regex took 36 s on 40,000 characters).
    from pytest_kfs.diagnosis import rules as diagnose

    searched = []

    class Counting:
        def __init__(self, pattern):
            self.pattern = pattern

        def search(self, window):
            searched.append(len(window))
            return self.pattern.search(window)

    anchored = diagnose._DENIED
    original = anchored.pattern
    anchored.pattern = Counting(original)
    try:
        assert anchored.search("x" * 1_000_000) is None
        assert searched == []  # no anchor: one linear find, no regex at all
        hostile = ("a" * 300 + " does not have storage.") * 40_000
        assert anchored.search(hostile) is None
        assert len(searched) == anchored.tries
        assert sum(searched) <= anchored.tries * (anchored.before + anchored.after)
        real = (
            "ERROR gcs-permission-denied@kfs-demo.iam.gserviceaccount.com does not have "
            "storage.objects.list access to the Google Cloud Storage bucket."
        )
        assert (
            anchored.search("x" * 1_000_000 + " " + real).group("who")
            == "gcs-permission-denied@kfs-demo.iam.gserviceaccount.com"
        )
    finally:
        anchored.pattern = original


def test_a_lasting_storage_failure_settles_a_wait_and_a_network_blip_does_not():
    from pytest_kfs.diagnosis.rules import lasting_storage_failure

    assert lasting_storage_failure(LIST_DENIED)
    assert lasting_storage_failure(BUCKET_MISSING)
    # kserve/kserve#4210 (tests/corpus/storage-gcs-dns-temporary-failure-openshift.yaml)
    assert not lasting_storage_failure(
        "socket.gaierror: [Errno -3] Temporary failure in name resolution"
    )
    assert not lasting_storage_failure("")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        # A missing module, told by its name: a published library, the model's own code.
        ("ModuleNotFoundError: No module named 'xgboost'", "IMAGE_DEPENDENCY_MISSING"),
        ("RuntimeError: ModuleNotFoundError: No module named 'my_features'", "MODEL_LOAD_FAILED"),
        # The node's driver as NVML or CUDA meets it.
        ("Failed to initialize NVML: Driver/library version mismatch", "GPU_DRIVER_MISMATCH"),
        ("RuntimeError: cudaErrorInsufficientDriver", "GPU_DRIVER_MISMATCH"),
        # The API server's words, in either case; any CRD's conversion webhook.
        ('no matches for kind "Foo" in version "example.com/v2"', "CRD_VERSION_MISSING"),
        (
            "conversion webhook for example.com/v1, Kind=Foo failed: Post "
            '"https://foo.svc:443/convert": dial tcp 10.0.0.1:443: connect: connection refused',
            "WEBHOOK_UNAVAILABLE",
        ),
        # The registry API's TLS, containerd's pull; a webhook Service's certificate.
        (
            "error resolving image references: Get https://r.example.com/v2/: x509: "
            "certificate signed by unknown authority",
            "IMAGE_PULL_FAILED",
        ),
        (
            'Get "https://r.example.com/v2/team/app/manifests/1.0": tls: failed to verify '
            "certificate",
            "IMAGE_PULL_FAILED",
        ),
        ('failed to pull and unpack image "r.example.com/team/app:1.0":', "IMAGE_PULL_FAILED"),
        (
            "x509: certificate is not valid for any names, but wanted to match "
            "my-webhook.my-system.svc",
            "WEBHOOK_UNAVAILABLE",
        ),
        # Knative's ingress controller cannot write the route; a container that completes.
        (
            "Warning CreationFailed Failed to create VirtualService ns/m-predictor-mesh: "
            "Timeout: request did not complete within requested timeout 30s",
            "INGRESS_NOT_CONFIGURED",
        ),
        (
            "pod[m-abc] failed\n  container state: Terminated, reason: Completed, message , "
            "exit-code: 0",
            "CONTAINER_EXITED",
        ),
        # An answer quoted without curl -v's transcript: Express's page, FastAPI's body.
        ("HTTP/1.1 404 Not Found\nCannot GET /v2/models/m/infer", "HEALTHY_REQUEST_MISROUTED"),
        (
            'curl -H "Host: m.ns.example.com" http://1.2.3.4/predict -d @x.json\n'
            '{"detail":"Not Found"}',
            "HEALTHY_REQUEST_MISROUTED",
        ),
    ],
)
def test_general_shapes_name_their_cause(text: str, code: str):
    from pytest_kfs.diagnosis.pasted import Pasted, diagnose_pasted

    result = diagnose_pasted(Pasted(texts={"kubectl": text}))
    assert str(result.findings[0].code) == code, result.findings[0]


@pytest.mark.parametrize(
    "text",
    [
        # A model's v2 protocol path is not the registry's API.
        'Post "https://m.example.com/v2/models/m/infer": x509: certificate signed by unknown '
        "authority",
        # A storage endpoint's certificate names no webhook.
        "x509: certificate is not valid for any names, but wanted to match minio.ns.svc",
        # The storage initializer completes: that is its job, nothing failed.
        "storage-initializer: Terminated, reason: Completed, exit-code: 0",
    ],
)
def test_look_alikes_are_not_those_shapes(text: str):
    from pytest_kfs.diagnosis.pasted import Pasted, diagnose_pasted

    result = diagnose_pasted(Pasted(texts={"kubectl": text}))
    got = str(result.findings[0].code) if result.findings else "-"
    assert got not in ("IMAGE_PULL_FAILED", "WEBHOOK_UNAVAILABLE", "CONTAINER_EXITED"), got


def test_a_ready_isvc_row_with_its_pod_in_an_init_crash_loop_is_not_healthy():
    from pytest_kfs.diagnosis.pasted import Pasted, diagnose_pasted

    text = (
        "NAME   URL                          READY   AGE\n"
        "m      http://m.ns.example.com      True    5m\n"
        "NAME                         READY   STATUS                  RESTARTS   AGE\n"
        "m-predictor-00001-abc-def    0/2     Init:CrashLoopBackOff   9          5m\n"
    )
    result = diagnose_pasted(Pasted(texts={"kubectl": text}))
    assert result.verdict == "failed"
    assert str(result.findings[0].code) == "STORAGE_DOWNLOAD_FAILED"


def test_a_request_for_a_model_the_server_never_registered():
    from pytest_kfs.diagnosis.pasted import Pasted, diagnose_pasted

    log = "2023-04-04 15:10:45.771 1 root INFO [register_model():187] Registering model: a-b\n"
    wrong = Pasted(texts={"kubectl": "curl http://localhost:8080/v1/models/x:predict"})
    wrong.logs["kserve-container"] = log
    finding = diagnose_pasted(wrong).findings[0]
    assert str(finding.code) == "HEALTHY_REQUEST_MISROUTED"
    assert "a-b" in finding.cause
    right = Pasted(texts={"kubectl": "curl http://localhost:8080/v1/models/a-b:predict"})
    right.logs["kserve-container"] = log
    found = diagnose_pasted(right).findings
    assert not found or str(found[0].code) != "HEALTHY_REQUEST_MISROUTED"


def test_a_ready_isvc_row_among_a_transcript_is_loaded():
    from pytest_kfs.diagnosis.pasted import Pasted, diagnose_pasted

    text = (
        "$ kubectl get isvc m\n"
        "NAME   URL                          READY   AGE\n"
        "m      http://m.ns.example.com      True    5m\n"
        "$ curl -v http://m.ns.example.com/v1/models/m:predict -d @x.json\n"
        "HTTP/1.1 404 Not Found\n"
        "Cannot POST /v1/models/m:predict\n"
    )
    result = diagnose_pasted(Pasted(texts={"kubectl": text}))
    assert result.verdict == "loaded"
    assert str(result.findings[0].code) == "HEALTHY_REQUEST_MISROUTED"


def test_a_savedmodel_at_the_base_path_is_no_version():
    from pytest_kfs.diagnosis.pasted import Pasted, diagnose_pasted

    logs = {
        "kserve-container": "server.cc:82] Building single TensorFlow model file config: "
        "model_name: m model_base_path: /models/m\n",
        "storage-initializer": "Downloaded gs://b/m/saved_model.pb to /models/m/saved_model.pb",
    }
    finding = diagnose_pasted(Pasted(logs=logs)).findings[0]
    assert str(finding.code) == "MODEL_NOT_FOUND", finding
    assert "/models/m/1/saved_model.pb" in finding.cause


def test_an_s3_client_that_cannot_be_built_lacks_its_settings():
    from pytest_kfs.diagnosis.pasted import Pasted, diagnose_pasted

    log = (
        "Traceback (most recent call last):\n"
        '  File "/app/kserve_storage.py", line 80, in _download_s3\n'
        '  File "/app/kserve_storage.py", line 120, in get_S3_client\n'
        '  File "/usr/lib/python3/site-packages/boto3/session.py", line 299, in client\n'
        "ValueError: Invalid endpoint: \n"
    )
    finding = diagnose_pasted(Pasted(logs={"storage-initializer": log})).findings[0]
    assert str(finding.code) == "S3_CREDENTIALS_INVALID", finding
