"""The IAM and IAM Credentials APIs on service accounts: their policies, and impersonation."""

from __future__ import annotations

import time

from pytest_kfs.gcp import iam
from pytest_kfs.gcp.iam import Principal, Request
from pytest_kfs.local.gcp import roles
from pytest_kfs.local.gcp.handler import GcpHandler


class IamApi(GcpHandler):
    """`POST /v1/projects/-/serviceAccounts/<email>:getIamPolicy|generateAccessToken`."""

    def _iam_api(self, target: str) -> None:
        email, _, method = target.partition(":")
        caller = self._caller()
        self._body()
        world = self.gcp.world
        with world.lock:
            account = world.service_accounts.get(email)
            project = world.projects.get(account.project) if account else None
        if caller is None or caller.anonymous:
            self._json(
                401,
                {
                    "error": {
                        "code": 401,
                        "status": "UNAUTHENTICATED",
                        "message": "Request is missing required authentication credential.",
                    }
                },
            )
            self._record("-", 401)
            return
        permission = {
            "getIamPolicy": "iam.serviceAccounts.getIamPolicy",
            "generateAccessToken": "iam.serviceAccounts.getAccessToken",
        }.get(method)
        if permission is None or account is None or account.deleted:
            message = (
                f"Not found; Gaia id not found for email {email}"
                if permission
                else f"unknown method {method}"
            )
            self._json(404, {"error": {"code": 404, "status": "NOT_FOUND", "message": message}})
            self._record(caller.display, 404)
            return
        levels = [
            (f"service account {email}", account.bindings),
            (f"project {account.project}", project.bindings if project else []),
        ]
        decision = iam.evaluate(
            caller,
            Request(permission, f"projects/-/serviceAccounts/{email}"),
            levels,
            roles.permissions_of,
        )
        if not decision.allowed:
            self._json(
                403,
                {
                    "error": {
                        "code": 403,
                        "status": "PERMISSION_DENIED",
                        "message": f"Permission '{permission}' denied on resource (or it may not "
                        "exist).",
                    }
                },
            )
            self._record(caller.display, 403)
            return
        if method == "getIamPolicy":
            self._json(
                200,
                {"version": 1, "etag": "BwY=", "bindings": [b.to_json() for b in account.bindings]},
            )
        else:
            token = world.issue_token(Principal.service_account(email))
            expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
            self._json(200, {"accessToken": token, "expireTime": expiry})
        self._record(caller.display, 200)
