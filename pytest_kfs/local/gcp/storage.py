"""The GCS JSON API (`/storage/v1`, `/download/storage/v1`) with per-identity IAM: buckets,
their policies, listing, objects and their media. Every denial is shaped like Google's, naming
principal and permission, so google-cloud-storage behaves as against Google."""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlparse

import google_crc32c

from pytest_kfs.gcp import iam
from pytest_kfs.gcp.iam import Principal, Request
from pytest_kfs.local.gcp import roles
from pytest_kfs.local.gcp.handler import GcpHandler
from pytest_kfs.local.gcp.world import Bucket, StoredObject


def gcs_error(code: int, message: str, reason: str, **extra: str) -> dict[str, Any]:
    """An error body as the JSON API writes it."""
    return {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason, **extra}],
        }
    }


def _denied_message(principal: Principal, permission: str, on_object: bool) -> str:
    what = "object" if on_object else "bucket"
    return (
        f"{principal.display} does not have {permission} access to the Google Cloud "
        f"Storage {what}. Permission '{permission}' denied on resource (or it may not "
        "exist)."
    )


def _object_json(bucket: str, stored: StoredObject, endpoint: str) -> dict[str, Any]:
    crc = base64.b64encode(google_crc32c.value(stored.data).to_bytes(4, "big")).decode()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(stored.generation / 1e6))
    quoted = quote(stored.name, safe="")
    return {
        "kind": "storage#object",
        "id": f"{bucket}/{stored.name}/{stored.generation}",
        "name": stored.name,
        "bucket": bucket,
        "generation": str(stored.generation),
        "metageneration": "1",
        "contentType": stored.content_type,
        "size": str(len(stored.data)),
        "md5Hash": stored.md5,
        "crc32c": crc,
        "storageClass": "STANDARD",
        "timeCreated": stamp,
        "updated": stamp,
        "selfLink": f"{endpoint}/storage/v1/b/{bucket}/o/{quoted}",
        "mediaLink": f"{endpoint}/download/storage/v1/b/{bucket}/o/{quoted}"
        f"?generation={stored.generation}&alt=media",
    }


class StorageApi(GcpHandler):
    """Buckets and objects, each request decided by IAM for the bearer token's principal."""

    def _storage(self, path: str, query: dict[str, str]) -> None:
        caller = self._caller()
        if caller is None:
            self._json(
                401,
                gcs_error(
                    401,
                    "Invalid Credentials",
                    "authError",
                    locationType="header",
                    location="Authorization",
                ),
            )
            self._record("invalid-token", 401)
            return
        status = self._storage_as(caller, path, query)
        self._record(caller.display, status)

    def _deny(self, caller: Principal, permission: str, on_object: bool) -> int:
        message = _denied_message(caller, permission, on_object)
        status, reason = (401, "required") if caller.anonymous else (403, "forbidden")
        self._json(status, gcs_error(status, message, reason))
        return status

    def _allowed(self, caller: Principal, bucket: Bucket, request: Request) -> bool:
        return iam.evaluate(
            caller, request, self.gcp.world.policies_for_bucket(bucket), roles.permissions_of
        ).allowed

    def _storage_as(self, caller: Principal, path: str, query: dict[str, str]) -> int:
        download = path.startswith("/download/")
        parts = path.split("/")  # '', ['download',] 'storage', 'v1', 'b', bucket, ...
        parts = parts[1:] if not download else parts[2:]
        bucket_name = unquote(parts[3]) if len(parts) > 3 else ""
        rest = parts[4:]
        with self.gcp.world.lock:
            bucket = self.gcp.world.buckets.get(bucket_name)
        if bucket is None:
            self._json(404, gcs_error(404, "The specified bucket does not exist.", "notFound"))
            return 404
        if rest[:2] == ["iam", "testPermissions"]:
            return self._test_permissions(caller, bucket)
        if bucket.requester_pays and not query.get("userProject"):
            message = "Bucket is a requester pays bucket but no user project provided."
            self._json(400, gcs_error(400, message, "required"))
            return 400
        if not rest:
            return self._bucket_get(caller, bucket)
        if rest == ["iam"]:
            return self._iam_policy(caller, bucket)
        if rest == ["o"]:
            return self._list(caller, bucket, query)
        if rest[0] == "o" and len(rest) >= 2:
            name = unquote("/".join(rest[1:]))
            return self._object(caller, bucket, name, download or query.get("alt") == "media")
        self._json(404, gcs_error(404, "Not Found", "notFound"))
        return 404

    def _bucket_get(self, caller: Principal, bucket: Bucket) -> int:
        request = Request(iam.BUCKET_GET, iam.bucket_resource(bucket.name))
        if not self._allowed(caller, bucket, request):
            return self._deny(caller, iam.BUCKET_GET, on_object=False)
        project = self.gcp.world.add_project(bucket.project)
        self._json(
            200,
            {
                "kind": "storage#bucket",
                "id": bucket.name,
                "name": bucket.name,
                "projectNumber": project.number,
                "location": "US",
                "storageClass": "STANDARD",
                "billing": {"requesterPays": bucket.requester_pays},
                "iamConfiguration": {
                    "uniformBucketLevelAccess": {"enabled": bucket.uniform_access},
                    "publicAccessPrevention": "inherited",
                },
                "metageneration": "1",
                "etag": "CAE=",
            },
        )
        return 200

    def _iam_policy(self, caller: Principal, bucket: Bucket) -> int:
        setting = self.command == "PUT"
        permission = "storage.buckets.setIamPolicy" if setting else "storage.buckets.getIamPolicy"
        if not self._allowed(caller, bucket, Request(permission, iam.bucket_resource(bucket.name))):
            return self._deny(caller, permission, on_object=False)
        if setting:
            try:
                self.gcp.world.set_bucket_policy_json(bucket, json.loads(self._body()))
            except (ValueError, KeyError) as error:
                self._json(400, gcs_error(400, f"Invalid argument: {error}", "invalid"))
                return 400
        self._json(200, self.gcp.world.bucket_policy_json(bucket))
        return 200

    def _test_permissions(self, caller: Principal, bucket: Bucket) -> int:
        asked = parse_qs(urlparse(self.path).query).get("permissions", [])
        rejected = [p for p in asked if p in ("storage.buckets.list", "storage.buckets.create")]
        if rejected:
            message = f"Permission '{rejected[0]}' is not valid for a bucket resource."
            self._json(400, gcs_error(400, message, "invalid"))
            return 400
        held = [
            p
            for p in asked
            if self._allowed(caller, bucket, Request(p, iam.bucket_resource(bucket.name)))
        ]
        payload: dict[str, Any] = {"kind": "storage#testIamPermissionsResponse"}
        if held:
            payload["permissions"] = held  # Google omits the key when nothing is held
        self._json(200, payload)
        return 200

    def _list(self, caller: Principal, bucket: Bucket, query: dict[str, str]) -> int:
        prefix = query.get("prefix", "")
        request = Request(iam.LIST, iam.bucket_resource(bucket.name), list_prefix=prefix)
        if not self._allowed(caller, bucket, request):
            return self._deny(caller, iam.LIST, on_object=False)
        delimiter = query.get("delimiter")
        with self.gcp.world.lock:
            names = sorted(name for name in bucket.objects if name.startswith(prefix))
            items, prefixes = [], set()
            for name in names:
                if delimiter and delimiter in name[len(prefix) :]:
                    head = name[len(prefix) :].split(delimiter, 1)[0]
                    prefixes.add(prefix + head + delimiter)
                else:
                    items.append(_object_json(bucket.name, bucket.objects[name], self._base_url()))
        start = int(query.get("pageToken") or 0)
        size = int(query.get("maxResults") or 1000)
        payload: dict[str, Any] = {"kind": "storage#objects"}
        if items[start : start + size]:
            payload["items"] = items[start : start + size]
        if prefixes:
            payload["prefixes"] = sorted(prefixes)
        if start + size < len(items):
            payload["nextPageToken"] = str(start + size)
        self._json(200, payload)
        return 200

    def _object(self, caller: Principal, bucket: Bucket, name: str, media: bool) -> int:
        request = Request(iam.GET, iam.object_resource(bucket.name, name))
        if not self._allowed(caller, bucket, request):
            return self._deny(caller, iam.GET, on_object=True)
        with self.gcp.world.lock:
            stored = bucket.objects.get(name)
        if stored is None:
            self._json(404, gcs_error(404, f"No such object: {bucket.name}/{name}", "notFound"))
            return 404
        if not media:
            self._json(200, _object_json(bucket.name, stored, self._base_url()))
            return 200
        return self._media(stored)

    def _base_url(self) -> str:
        # Links point back where the client called, as Google's do (a proxy stays in the path).
        host = self.headers.get("Host")
        return f"{self.scheme}://{host}" if host else self.gcp.endpoint

    def _media(self, stored: StoredObject) -> int:
        crc = base64.b64encode(google_crc32c.value(stored.data).to_bytes(4, "big")).decode()
        headers = {
            "x-goog-generation": str(stored.generation),
            "x-goog-metageneration": "1",
            "x-goog-stored-content-length": str(len(stored.data)),
            "x-goog-hash": f"crc32c={crc},md5={stored.md5}",
        }
        wanted = self.headers.get("Range", "")
        if wanted.startswith("bytes="):
            first, _, last = wanted.removeprefix("bytes=").partition("-")
            start = int(first or 0)
            end = min(int(last) if last else len(stored.data) - 1, len(stored.data) - 1)
            headers["Content-Range"] = f"bytes {start}-{end}/{len(stored.data)}"
            headers.pop("x-goog-hash")  # hashes describe the whole object, not a range
            self._send(206, stored.data[start : end + 1], stored.content_type, headers)
            return 206
        self._send(200, stored.data, stored.content_type, headers)
        return 200
