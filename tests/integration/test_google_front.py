"""The local GCP under Google's own host names (`local/gcp/front.py`), reached by the real
google-auth and google-cloud-storage code with no endpoint override: only name resolution points
Google's names (and the metadata IP) at a loopback address, as cluster DNS will for pods. The
pod is told apart by its source address, as GKE's metadata server does."""

import os
import random
import socket

import google.auth
import pytest
import requests
from google.auth.transport.requests import AuthorizedSession
from google.cloud import storage

from pytest_kfs.local import pki
from pytest_kfs.local.gcp.admin import GcpAdmin
from pytest_kfs.local.gcp.front import GOOGLE_HOSTS, METADATA_HOST, GoogleFront
from pytest_kfs.local.gcp.server import LocalGcp
from pytest_kfs.local.gcp.state import PodIdentity
from pytest_kfs.local.gcp.world import GcpWorld

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="binds ports 80 and 443 (root)")

PROJECT = "kfs-front"
BUCKET = "kfs-front-models"
GSA = f"reader@{PROJECT}.iam.gserviceaccount.com"
POD = PodIdentity("models", "serving", GSA)


@pytest.fixture
def front(tmp_path, monkeypatch):
    gcp = LocalGcp(GcpWorld()).start()
    admin = GcpAdmin(gcp)
    admin.ensure_bucket(BUCKET, PROJECT)
    admin.put_object(BUCKET, "models/iris/model.joblib", b"model bytes")
    admin.ensure_service_account(GSA)
    admin.grant_bucket(BUCKET, "roles/storage.objectViewer", f"serviceAccount:{GSA}")
    admin.grant_service_account(
        GSA,
        "roles/iam.workloadIdentityUser",
        f"serviceAccount:{PROJECT}.svc.id.goog[{POD.namespace}/{POD.service_account}]",
    )
    admin.enable_workload_identity(PROJECT)
    address = f"127.{random.randint(1, 250)}.{random.randint(1, 250)}.{random.randint(2, 250)}"
    ca = pki.machine_ca(tmp_path / "ca", "pytest-kfs test Google CA")
    # The caller (this process) connects from 127.0.0.1: that address is the pod's.
    served = GoogleFront(gcp, address, ca, {"127.0.0.1": POD}.get).start()
    real = socket.getaddrinfo
    names = {*GOOGLE_HOSTS, METADATA_HOST, "169.254.169.254"}

    def resolve(host, *args, **kwargs):
        return real(address if host in names else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    for variable in ("GOOGLE_APPLICATION_CREDENTIALS", "GCE_METADATA_HOST", "GCE_METADATA_IP"):
        monkeypatch.delenv(variable, raising=False)
    yield gcp, ca
    served.stop()
    gcp.stop()


def test_google_auth_finds_the_metadata_server_and_storage_reads_through_tls(front):
    gcp, ca = front
    credentials, project = google.auth.default()
    assert project == PROJECT
    session = AuthorizedSession(credentials)
    session.verify = str(ca.cert)  # the trust the images built here carry
    session.trust_env = False  # this machine's REQUESTS_CA_BUNDLE would override `verify`
    client = storage.Client(project=project, credentials=credentials, _http=session)
    blobs = list(client.bucket(BUCKET).list_blobs(prefix="models/iris/"))
    assert [blob.name for blob in blobs] == ["models/iris/model.joblib"]
    assert blobs[0].download_as_bytes() == b"model bytes"
    assert credentials.service_account_email == GSA
    principals = {record.principal for record in gcp.access_log}
    assert f"pod:{POD.namespace}/{POD.service_account}" in principals


def test_the_certificate_is_for_googles_names_under_the_machines_ca(front):
    _, ca = front
    answer = requests.get("https://storage.googleapis.com/storage/v1/b/x", verify=str(ca.cert))
    assert answer.status_code in (401, 403, 404)  # reached, TLS verified: an API answer
    with pytest.raises(requests.exceptions.SSLError):
        requests.get("https://storage.googleapis.com/storage/v1/b/x", verify=True)


def test_the_metadata_server_wants_its_header_and_knows_only_pods(front):
    url = f"http://{METADATA_HOST}/computeMetadata/v1/project/project-id"
    assert requests.get(url).status_code == 403  # no Metadata-Flavor: GKE's SSRF guard
    answer = requests.get(url, headers={"Metadata-Flavor": "Google"})
    assert (answer.status_code, answer.text) == (200, PROJECT)
