"""The local GCP on loopback: OAuth2 token endpoint, GKE metadata server, GCS JSON API with IAM.

One HTTP server, three faces (paths): `/token`; `/pods/<uid>/...` (the metadata server as seen
from one pod, the way GKE's metadata server tells pods apart by IP); `/storage/v1`,
`/download/storage/v1` (GCS). Every denial is shaped like Google's, naming principal and
permission, so the real google-auth and google-cloud-storage code paths behave as against Google.
"""

from __future__ import annotations

import base64
import json
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlparse

import google_crc32c
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from pytest_kfs.gcp import iam
from pytest_kfs.gcp.iam import Principal, Request
from pytest_kfs.local.gcp.admin import ADMIN_HEADER, GcpAdmin, dispatch
from pytest_kfs.local.gcp.world import Bucket, GcpWorld, StoredObject

_JWT_SKEW_SECONDS = 300
_WI_MISSING_BINDING = (
    "Unable to generate access token; IAM returned 403 Forbidden: Permission "
    "'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).\n"
    "This error could be caused by a missing IAM policy binding on the target IAM service "
    "account.\nFor more information, refer to the Workload Identity documentation:\n"
    "\thttps://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity"
    "#authenticating_to\n\n"
)


class QuietHTTPServer(ThreadingHTTPServer):
    """A threading server that does not print a traceback when a client hangs up."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]

    def serve_in_background(self, name: str) -> QuietHTTPServer:
        """Serve from a daemon thread called `name`; returns self."""
        threading.Thread(target=self.serve_forever, name=name, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.shutdown()
        self.server_close()


@dataclass(frozen=True)
class PodIdentity:
    """What the metadata server knows about a pod: its namespace and service account."""

    namespace: str
    service_account: str
    gsa_annotation: str | None = None


@dataclass
class AccessRecord:
    """One request to the local GCP (for tests and benchmarks; never holds a token)."""

    principal: str
    method: str
    path: str
    status: int


@dataclass
class LocalGcp:
    """The running local GCP: its world, its address, the pods the metadata server serves."""

    world: GcpWorld
    workload_identity_project: str | None = None
    # Namespaces whose pods run on a Workload Identity node pool (others see no metadata
    # server, as off GCP); `metadata_everywhere` puts every namespace on such a pool.
    metadata_namespaces: set[str] = field(default_factory=set)
    metadata_everywhere: bool = False
    pods: dict[str, PodIdentity] = field(default_factory=dict)
    access_log: list[AccessRecord] = field(default_factory=list)
    port: int = 0
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    _server: QuietHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        """Base URL of the storage API (for API_ENDPOINT_OVERRIDE or client_options)."""
        return f"http://127.0.0.1:{self.port}"

    def serves_metadata(self, namespace: str) -> bool:
        """Whether pods of this namespace reach a GKE metadata server."""
        return self.workload_identity_project is not None and (
            self.metadata_everywhere or namespace in self.metadata_namespaces)

    def metadata_host(self, pod_uid: str) -> str:
        """GCE_METADATA_HOST / GCE_METADATA_IP value for one pod."""
        return f"127.0.0.1:{self.port}/pods/{pod_uid}"

    def start(self) -> LocalGcp:
        """Serve on a free loopback port in a daemon thread."""
        handler = type("Handler", (_Handler,), {"gcp": self})
        self._server = QuietHTTPServer(("127.0.0.1", 0), handler)
        self.port = self._server.server_address[1]
        self.world.token_uri = f"http://127.0.0.1:{self.port}/token"
        self._server.serve_in_background("kfs-local-gcp")
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.stop()
            self._server = None


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _gcs_error(code: int, message: str, reason: str, **extra: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message,
                      "errors": [{"message": message, "domain": "global", "reason": reason,
                                  **extra}]}}


def _denied_message(principal: Principal, permission: str, on_object: bool) -> str:
    what = "object" if on_object else "bucket"
    return (f"{principal.display} does not have {permission} access to the Google Cloud "
            f"Storage {what}. Permission '{permission}' denied on resource (or it may not "
            "exist).")


def _object_json(bucket: str, stored: StoredObject, endpoint: str) -> dict[str, Any]:
    crc = base64.b64encode(google_crc32c.value(stored.data).to_bytes(4, "big")).decode()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(stored.generation / 1e6))
    quoted = quote(stored.name, safe="")
    return {
        "kind": "storage#object", "id": f"{bucket}/{stored.name}/{stored.generation}",
        "name": stored.name, "bucket": bucket, "generation": str(stored.generation),
        "metageneration": "1", "contentType": stored.content_type,
        "size": str(len(stored.data)), "md5Hash": stored.md5, "crc32c": crc,
        "storageClass": "STANDARD", "timeCreated": stamp, "updated": stamp,
        "selfLink": f"{endpoint}/storage/v1/b/{bucket}/o/{quoted}",
        "mediaLink": f"{endpoint}/download/storage/v1/b/{bucket}/o/{quoted}"
                     f"?generation={stored.generation}&alt=media",
    }


class _Handler(BaseHTTPRequestHandler):
    gcp: LocalGcp
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return  # requests are recorded in LocalGcp.access_log instead

    # -- plumbing -----------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), headers=headers)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _record(self, principal: str, status: int) -> None:
        path = urlparse(self.path).path
        self.gcp.access_log.append(AccessRecord(principal, self.command, path, status))

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def do_PUT(self) -> None:
        self._route()

    def _route(self) -> None:
        url = urlparse(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        path = url.path
        if path == "/token" and self.command == "POST":
            self._token()
        elif path == "/_kfs/admin" and self.command == "POST":
            self._admin()
        elif path.startswith("/pods/"):
            self._metadata(path, query)
        elif path.startswith("/v1/projects/-/serviceAccounts/") and self.command == "POST":
            self._iam_api(unquote(path.removeprefix("/v1/projects/-/serviceAccounts/")))
        elif path.startswith(("/storage/v1/b/", "/download/storage/v1/b/")):
            self._storage(path, query)
        else:
            self._json(404, _gcs_error(404, "Not Found", "notFound"))
            self._record("-", 404)

    # -- arranging the world from other processes ----------------------------------------------
    def _admin(self) -> None:
        body = self._body()
        if not secrets.compare_digest(self.headers.get(ADMIN_HEADER, ""), self.gcp.admin_token):
            self._json(403, {"error": "admin token required"})
            return
        try:
            result = dispatch(GcpAdmin(self.gcp), json.loads(body))
        except (KeyError, ValueError, TypeError) as error:
            self._json(400, {"error": f"{type(error).__name__}: {error}"})
            return
        self._json(200, result)

    # -- OAuth2 token endpoint -----------------------------------------------------------------
    def _token(self) -> None:
        form = {key: values[-1] for key, values in parse_qs(self._body().decode()).items()}
        status, payload = self._grant(form)
        self._json(status, payload)
        self._record(payload.get("_who", "-") if status == 200 else "-", status)
        payload.pop("_who", None)

    def _grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        def invalid(description: str) -> tuple[int, dict[str, Any]]:
            return 400, {"error": "invalid_grant", "error_description": description}

        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {"error": "unsupported_grant_type",
                         "error_description": "Invalid grant_type"}
        try:
            header_b64, payload_b64, signature_b64 = form["assertion"].split(".")
            header = json.loads(_b64url_decode(header_b64))
            claims = json.loads(_b64url_decode(payload_b64))
        except (KeyError, ValueError):
            return invalid("Invalid JWT: could not parse the assertion.")
        world = self.gcp.world
        with world.lock:
            account = world.service_accounts.get(claims.get("iss", ""))
            if account is None or account.deleted:
                return invalid("Invalid grant: account not found")
            key = account.keys.get(header.get("kid", ""))
            disabled = header.get("kid") in account.disabled_keys
        if key is None or disabled:
            return invalid("Invalid JWT Signature.")
        try:
            key.verify(_b64url_decode(signature_b64), f"{header_b64}.{payload_b64}".encode(),
                       padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return invalid("Invalid JWT Signature.")
        now = time.time()
        if abs(claims.get("iat", 0) - now) > _JWT_SKEW_SECONDS or claims.get("exp", 0) < now:
            return invalid("Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                           "reasonable timeframe. Check your iat and exp values in the JWT "
                           "claim.")
        token = world.issue_token(Principal.service_account(account.email))
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer",
                     "_who": account.email}

    # -- GKE metadata server -------------------------------------------------------------------
    def _metadata(self, path: str, query: dict[str, str]) -> None:
        parts = path.split("/", 3)  # '', 'pods', uid, rest
        identity = self.gcp.pods.get(parts[2]) if len(parts) > 2 else None
        project_id = self.gcp.workload_identity_project
        flavor = {"Metadata-Flavor": "Google"}
        if identity is None or project_id is None:
            self._send(404, b"Not Found", "text/plain", flavor)
            self._record("-", 404)
            return
        rest = "/" + parts[3] if len(parts) > 3 else "/"
        world = self.gcp.world
        project = world.add_project(project_id)
        pool = f"{project_id}.svc.id.goog"
        email = identity.gsa_annotation or pool
        prefix = "/computeMetadata/v1/"
        if rest in ("/", ""):
            self._send(200, b"computeMetadata/\n", "application/text", flavor)
        elif rest == prefix + "project/project-id":
            self._send(200, project_id.encode(), "application/text", flavor)
        elif rest == prefix + "project/numeric-project-id":
            self._send(200, project.number.encode(), "application/text", flavor)
        elif rest.startswith(prefix + "instance/service-accounts/"):
            account_path = rest[len(prefix + "instance/service-accounts/"):]
            name, _, leaf = account_path.partition("/")
            if name not in ("default", email):
                self._send(404, b"Not Found", "text/plain", flavor)
            elif leaf in ("", "?recursive=true") or query.get("recursive") == "true":
                self._json(200, {"email": email, "aliases": ["default"],
                                 "scopes": ["https://www.googleapis.com/auth/cloud-platform"]},
                           flavor)
            elif leaf == "email":
                self._send(200, email.encode(), "application/text", flavor)
            elif leaf == "token":
                self._metadata_token(identity, project_id, project.number, flavor)
                return
            else:
                self._send(404, b"Not Found", "text/plain", flavor)
        else:
            self._send(404, b"Not Found", "text/plain", flavor)
        self._record(f"pod:{identity.namespace}/{identity.service_account}", 200)

    def _metadata_token(self, identity: PodIdentity, project_id: str, number: str,
                        flavor: dict[str, str]) -> None:
        world = self.gcp.world
        who = f"pod:{identity.namespace}/{identity.service_account}"
        if identity.gsa_annotation is None:
            principal = Principal.kubernetes_service_account(
                project_id, number, identity.namespace, identity.service_account)
        else:
            member = f"serviceAccount:{project_id}.svc.id.goog[{identity.namespace}/" \
                     f"{identity.service_account}]"
            with world.lock:
                account = world.service_accounts.get(identity.gsa_annotation)
                may_impersonate = account is not None and not account.deleted and any(
                    "iam.serviceAccounts.getAccessToken" in iam.permissions_of(b.role)
                    and member in b.members for b in account.bindings)
            if not may_impersonate:
                self._send(403, _WI_MISSING_BINDING.encode(), "text/plain", flavor)
                self._record(who, 403)
                return
            principal = Principal.service_account(identity.gsa_annotation)
        token = world.issue_token(principal)
        self._json(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"},
                   flavor)
        self._record(who, 200)

    # -- IAM and IAM Credentials APIs (service-account policies, impersonation) ---------------
    def _iam_api(self, target: str) -> None:
        email, _, method = target.partition(":")
        caller = self._caller()
        self._body()
        world = self.gcp.world
        with world.lock:
            account = world.service_accounts.get(email)
            project = world.projects.get(account.project) if account else None
        if caller is None or caller.anonymous:
            self._json(401, {"error": {"code": 401, "status": "UNAUTHENTICATED", "message":
                             "Request is missing required authentication credential."}})
            self._record("-", 401)
            return
        permission = {"getIamPolicy": "iam.serviceAccounts.getIamPolicy",
                      "generateAccessToken": "iam.serviceAccounts.getAccessToken"}.get(method)
        if permission is None or account is None or account.deleted:
            message = (f"Not found; Gaia id not found for email {email}" if permission
                       else f"unknown method {method}")
            self._json(404, {"error": {"code": 404, "status": "NOT_FOUND", "message": message}})
            self._record(caller.display, 404)
            return
        levels = [(f"service account {email}", account.bindings),
                  (f"project {account.project}", project.bindings if project else [])]
        decision = iam.evaluate(caller, Request(permission, f"projects/-/serviceAccounts/{email}"),
                                levels)
        if not decision.allowed:
            self._json(403, {"error": {"code": 403, "status": "PERMISSION_DENIED", "message":
                             f"Permission '{permission}' denied on resource (or it may not "
                             "exist)."}})
            self._record(caller.display, 403)
            return
        if method == "getIamPolicy":
            self._json(200, {"version": 1, "etag": "BwY=",
                             "bindings": [b.to_json() for b in account.bindings]})
        else:
            token = world.issue_token(Principal.service_account(email))
            expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
            self._json(200, {"accessToken": token, "expireTime": expiry})
        self._record(caller.display, 200)

    # -- GCS JSON API --------------------------------------------------------------------------
    def _caller(self) -> Principal | None:
        header = self.headers.get("Authorization", "")
        if not header:
            return Principal.nobody()
        if not header.startswith("Bearer "):
            return None
        return self.gcp.world.principal_for_token(header.removeprefix("Bearer ").strip())

    def _storage(self, path: str, query: dict[str, str]) -> None:
        caller = self._caller()
        if caller is None:
            self._json(401, _gcs_error(401, "Invalid Credentials", "authError",
                                       locationType="header", location="Authorization"))
            self._record("invalid-token", 401)
            return
        status = self._storage_as(caller, path, query)
        self._record(caller.display, status)

    def _deny(self, caller: Principal, permission: str, on_object: bool) -> int:
        message = _denied_message(caller, permission, on_object)
        status, reason = (401, "required") if caller.anonymous else (403, "forbidden")
        self._json(status, _gcs_error(status, message, reason))
        return status

    def _allowed(self, caller: Principal, bucket: Bucket, request: Request) -> bool:
        return iam.evaluate(caller, request, self.gcp.world.policies_for_bucket(bucket)).allowed

    def _storage_as(self, caller: Principal, path: str, query: dict[str, str]) -> int:
        download = path.startswith("/download/")
        parts = path.split("/")  # '', ['download',] 'storage', 'v1', 'b', bucket, ...
        parts = parts[1:] if not download else parts[2:]
        bucket_name = unquote(parts[3]) if len(parts) > 3 else ""
        rest = parts[4:]
        with self.gcp.world.lock:
            bucket = self.gcp.world.buckets.get(bucket_name)
        if bucket is None:
            self._json(404, _gcs_error(404, "The specified bucket does not exist.", "notFound"))
            return 404
        if rest[:2] == ["iam", "testPermissions"]:
            return self._test_permissions(caller, bucket)
        if bucket.requester_pays and not query.get("userProject"):
            message = "Bucket is a requester pays bucket but no user project provided."
            self._json(400, _gcs_error(400, message, "required"))
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
        self._json(404, _gcs_error(404, "Not Found", "notFound"))
        return 404

    def _bucket_get(self, caller: Principal, bucket: Bucket) -> int:
        request = Request(iam.BUCKET_GET, iam.bucket_resource(bucket.name))
        if not self._allowed(caller, bucket, request):
            return self._deny(caller, iam.BUCKET_GET, on_object=False)
        project = self.gcp.world.add_project(bucket.project)
        self._json(200, {
            "kind": "storage#bucket", "id": bucket.name, "name": bucket.name,
            "projectNumber": project.number, "location": "US", "storageClass": "STANDARD",
            "billing": {"requesterPays": bucket.requester_pays},
            "iamConfiguration": {
                "uniformBucketLevelAccess": {"enabled": bucket.uniform_access},
                "publicAccessPrevention": "inherited"},
            "metageneration": "1", "etag": "CAE="})
        return 200

    def _iam_policy(self, caller: Principal, bucket: Bucket) -> int:
        setting = self.command == "PUT"
        permission = "storage.buckets.setIamPolicy" if setting else "storage.buckets.getIamPolicy"
        if not self._allowed(caller, bucket, Request(permission,
                                                     iam.bucket_resource(bucket.name))):
            return self._deny(caller, permission, on_object=False)
        if setting:
            try:
                self.gcp.world.set_bucket_policy_json(bucket, json.loads(self._body()))
            except (ValueError, KeyError) as error:
                self._json(400, _gcs_error(400, f"Invalid argument: {error}", "invalid"))
                return 400
        self._json(200, self.gcp.world.bucket_policy_json(bucket))
        return 200

    def _test_permissions(self, caller: Principal, bucket: Bucket) -> int:
        asked = parse_qs(urlparse(self.path).query).get("permissions", [])
        rejected = [p for p in asked if p in ("storage.buckets.list", "storage.buckets.create")]
        if rejected:
            message = f"Permission '{rejected[0]}' is not valid for a bucket resource."
            self._json(400, _gcs_error(400, message, "invalid"))
            return 400
        held = [p for p in asked if self._allowed(caller, bucket, Request(
            p, iam.bucket_resource(bucket.name)))]
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
                if delimiter and delimiter in name[len(prefix):]:
                    head = name[len(prefix):].split(delimiter, 1)[0]
                    prefixes.add(prefix + head + delimiter)
                else:
                    items.append(_object_json(bucket.name, bucket.objects[name],
                                              self._base_url()))
        start = int(query.get("pageToken") or 0)
        size = int(query.get("maxResults") or 1000)
        payload: dict[str, Any] = {"kind": "storage#objects"}
        if items[start:start + size]:
            payload["items"] = items[start:start + size]
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
            self._json(404, _gcs_error(404, f"No such object: {bucket.name}/{name}",
                                       "notFound"))
            return 404
        if not media:
            self._json(200, _object_json(bucket.name, stored, self._base_url()))
            return 200
        return self._media(stored)

    def _base_url(self) -> str:
        # Links point back where the client called, as Google's do (a proxy stays in the path).
        host = self.headers.get("Host")
        return f"http://{host}" if host else self.gcp.endpoint

    def _media(self, stored: StoredObject) -> int:
        crc = base64.b64encode(google_crc32c.value(stored.data).to_bytes(4, "big")).decode()
        headers = {"x-goog-generation": str(stored.generation), "x-goog-metageneration": "1",
                   "x-goog-stored-content-length": str(len(stored.data)),
                   "x-goog-hash": f"crc32c={crc},md5={stored.md5}"}
        wanted = self.headers.get("Range", "")
        if wanted.startswith("bytes="):
            first, _, last = wanted.removeprefix("bytes=").partition("-")
            start = int(first or 0)
            end = min(int(last) if last else len(stored.data) - 1, len(stored.data) - 1)
            headers["Content-Range"] = f"bytes {start}-{end}/{len(stored.data)}"
            headers.pop("x-goog-hash")  # hashes describe the whole object, not a range
            self._send(206, stored.data[start:end + 1], stored.content_type, headers)
            return 206
        self._send(200, stored.data, stored.content_type, headers)
        return 200
