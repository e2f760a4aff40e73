"""When a crash settles the wait: KServe writes FailedToLoad on any crash of the
storage-initializer (v0.20.0 PropagateModelStatus, pkg/apis/serving/v1beta1/
inference_service_status.go), a passing one too. The wait settles on a lasting cause at once,
on any cause once a restart did not cure it, and never on a crash the pod has got over."""

from pytest_kfs.diagnosis.rules import lasting_storage_failure
from pytest_kfs.kserve.status import ModelState
from pytest_kfs.wait import _failure_settled

# The shape requests gives a refused connection (google-auth's token fetch uses requests).
PASSING = (
    "google.auth.exceptions.TransportError: HTTPSConnectionPool(host='oauth2.googleapis"
    ".com', port=443): Max retries exceeded with url: /token (Caused by NewConnectionError"
    "('<urllib3.connection.HTTPSConnection object at 0x7f3c>: Failed to establish a new "
    "connection: [Errno 111] Connection refused'))"
)
# kserve/kserve#3798: the serving identity may not list the bucket.
LASTING = (
    "google.api_core.exceptions.Forbidden: 403 GET https://storage.googleapis.com/storage"
    "/v1/b/models/o?projection=noAcl&prefix=sklearn%2F&prettyPrint=false: "
    "kserve@proj.iam.gserviceaccount.com does not have storage.objects.list access to "
    "the Google Cloud Storage bucket. Permission 'storage.objects.list' denied on "
    "resource (or it may not exist)."
)


def failed_to_load(message: str) -> ModelState:
    return ModelState.from_isvc(
        {
            "metadata": {"namespace": "ns", "name": "m", "generation": 1},
            "status": {
                "observedGeneration": 1,
                "modelStatus": {
                    "states": {"targetModelState": "FailedToLoad"},
                    "transitionStatus": "BlockedByFailedLoad",
                    "lastFailureInfo": {
                        "reason": "ModelLoadFailed",
                        "message": message,
                        "exitCode": 1,
                    },
                },
            },
        }
    )


def pod_with_initializer(state: dict, last_state: dict | None = None, restarts: int = 0) -> dict:
    return {
        "metadata": {"name": "m-predictor-7d9f-abcde", "uid": "u1"},
        "status": {
            "phase": "Pending",
            "initContainerStatuses": [
                {
                    "name": "storage-initializer",
                    "state": state,
                    "lastState": last_state or {},
                    "restartCount": restarts,
                }
            ],
        },
    }


def crashed(message: str) -> dict:
    return {"terminated": {"reason": "Error", "exitCode": 1, "message": message}}


def test_the_messages_are_what_the_tests_take_them_for():
    assert not lasting_storage_failure(PASSING)
    assert lasting_storage_failure(LASTING)


def test_a_first_crash_for_a_passing_cause_does_not_settle():
    assert not _failure_settled(failed_to_load(PASSING), [pod_with_initializer(crashed(PASSING))])


def test_a_crash_the_pod_got_over_does_not_settle():
    running = {"running": {"startedAt": "2026-12-03T12:00:00Z"}}
    completed = {"terminated": {"reason": "Completed", "exitCode": 0}}
    state = failed_to_load(PASSING)
    assert not _failure_settled(state, [pod_with_initializer(running, crashed(PASSING), 1)])
    assert not _failure_settled(state, [pod_with_initializer(completed, crashed(PASSING), 1)])


def test_a_second_crash_settles_whatever_the_cause():
    state = failed_to_load(PASSING)
    assert _failure_settled(state, [pod_with_initializer(crashed(PASSING), crashed(PASSING), 1)])
    backoff = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s"}}
    assert _failure_settled(state, [pod_with_initializer(backoff, crashed(PASSING), 2)])


def test_a_lasting_cause_settles_at_the_first_crash():
    assert _failure_settled(failed_to_load(LASTING), [pod_with_initializer(crashed(LASTING))])


def test_without_pods_in_view_the_status_is_the_last_word():
    assert _failure_settled(failed_to_load(PASSING), [])
