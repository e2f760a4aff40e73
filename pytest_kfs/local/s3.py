"""An S3 endpoint that checks every request's credentials, for S3 rehearsals.

It is moto's server (from PyPI, in a venv of its own: botocore pins python-dateutil below what
the kubernetes client needs) with IAM enforcement on: unknown keys get InvalidAccessKeyId,
keys without a policy get AccessDenied, as on AWS. The first requests, before any user exists,
create an administrator (moto lets that many through unauthenticated); everything after is
signed with its key.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_kfs.errors import KfsError
from pytest_kfs.local import processes
from pytest_kfs.local.assets import s3_python

# create_user, put_user_policy, create_access_key: the administrator, before auth is on.
_BOOTSTRAP_REQUESTS = 3
_ADMIN_SCRIPT = Path(__file__).with_name("s3admin.py")


class S3Unavailable(KfsError, RuntimeError):
    """The S3 endpoint could not start; the message says why and what to run."""


@dataclass(frozen=True)
class S3Key:
    """An access key pair (the secret never appears in a repr)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)


@dataclass
class S3Server:
    """A running S3 endpoint: `endpoint` is host:port on loopback (plain HTTP)."""

    process: subprocess.Popen[bytes]
    endpoint: str
    log: Path
    python: str
    admin_key: S3Key | None = None

    def run(self, actions: list[dict[str, Any]]) -> list[Any]:
        """Administrative actions (buckets, objects, users and their keys), in order."""
        request = {
            "endpoint": f"http://{self.endpoint}",
            "actions": actions,
            "key": self.admin_key
            and {"id": self.admin_key.access_key_id, "secret": self.admin_key.secret_access_key},
        }
        done = subprocess.run(
            [self.python, str(_ADMIN_SCRIPT)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise S3Unavailable(f"S3 administration failed: {done.stderr.strip()[-600:]}")
        results: list[Any] = json.loads(done.stdout)
        return results

    def ensure_bucket(self, name: str) -> None:
        """Create the bucket (idempotent)."""
        self.run([{"op": "bucket", "name": name}])

    def put_object(self, bucket: str, key: str, data: bytes) -> None:
        """Write an object."""
        self.run([{"op": "put", "bucket": bucket, "key": key, "data": data.hex()}])

    def create_user(self, name: str, readable: tuple[str, ...] = ()) -> S3Key:
        """An IAM user allowed to list and read `readable` buckets (none: no permission)."""
        result = self.run([{"op": "user", "name": name, "read": list(readable)}])[0]
        return S3Key(result["id"], result["secret"])

    def stop(self) -> None:
        """Stop the server."""
        processes.stop(self.process)


def _answers(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{endpoint}/moto-api/", timeout=1):
            return True
    except OSError:
        return False


def start(workdir: Path, timeout: float = 60.0) -> S3Server:
    """Start the S3 endpoint with IAM enforced and an administrator key."""
    python = s3_python()
    if python is None:
        raise S3Unavailable(
            "the S3 endpoint (moto) is not installed; run `python -m pytest_kfs.local build`"
        )
    port = processes.free_port()
    log = workdir / "s3.log"
    process = processes.spawn(
        [python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        log,
        env={
            "PATH": "/usr/bin:/bin",
            "INITIAL_NO_AUTH_ACTION_COUNT": str(_BOOTSTRAP_REQUESTS),
            "AWS_DEFAULT_REGION": "us-east-1",
        },
    )
    server = S3Server(process, f"127.0.0.1:{port}", log, python)
    deadline = time.monotonic() + timeout
    while not _answers(server.endpoint):
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise S3Unavailable(f"moto's server did not start:\n{processes.tail(log)}")
        time.sleep(0.1)
    admin = server.run([{"op": "bootstrap"}])[0]
    server.admin_key = S3Key(admin["id"], admin["secret"])
    return server
