"""The GKE metadata server as one pod sees it (`/pods/<uid>/...`), the way GKE's tells pods
apart by IP: project, service account, and tokens through Workload Identity."""

from __future__ import annotations

from pytest_kfs.gcp.iam import Principal
from pytest_kfs.local.gcp import roles
from pytest_kfs.local.gcp.handler import GcpHandler
from pytest_kfs.local.gcp.state import PodIdentity

_WI_MISSING_BINDING = (
    "Unable to generate access token; IAM returned 403 Forbidden: Permission "
    "'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).\n"
    "This error could be caused by a missing IAM policy binding on the target IAM service "
    "account.\nFor more information, refer to the Workload Identity documentation:\n"
    "\thttps://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity"
    "#authenticating_to\n\n"
)


class MetadataServer(GcpHandler):
    """`/pods/<uid>/computeMetadata/v1/...`; a pod the node did not register gets 404."""

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
            account_path = rest[len(prefix + "instance/service-accounts/") :]
            name, _, leaf = account_path.partition("/")
            if name not in ("default", email):
                self._send(404, b"Not Found", "text/plain", flavor)
            elif leaf in ("", "?recursive=true") or query.get("recursive") == "true":
                self._json(
                    200,
                    {
                        "email": email,
                        "aliases": ["default"],
                        "scopes": ["https://www.googleapis.com/auth/cloud-platform"],
                    },
                    flavor,
                )
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

    def _metadata_token(
        self, identity: PodIdentity, project_id: str, number: str, flavor: dict[str, str]
    ) -> None:
        world = self.gcp.world
        who = f"pod:{identity.namespace}/{identity.service_account}"
        if identity.gsa_annotation is None:
            principal = Principal.kubernetes_service_account(
                project_id, number, identity.namespace, identity.service_account
            )
        else:
            member = (
                f"serviceAccount:{project_id}.svc.id.goog[{identity.namespace}/"
                f"{identity.service_account}]"
            )
            with world.lock:
                account = world.service_accounts.get(identity.gsa_annotation)
                may_impersonate = (
                    account is not None
                    and not account.deleted
                    and any(
                        "iam.serviceAccounts.getAccessToken" in roles.permissions_of(b.role)
                        and member in b.members
                        for b in account.bindings
                    )
                )
            if not may_impersonate:
                self._send(403, _WI_MISSING_BINDING.encode(), "text/plain", flavor)
                self._record(who, 403)
                return
            principal = Principal.service_account(identity.gsa_annotation)
        token = world.issue_token(principal)
        self._json(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}, flavor)
        self._record(who, 200)
