"""Administer the embedded S3 endpoint; run with the S3 venv's Python (it has boto3).

Reads {"endpoint", "key": {"id", "secret"} | null, "actions": [...]} on stdin and prints one
result per action as JSON. Not imported by the plugin: botocore lives in that venv only.
"""

import json
import sys

import boto3
from botocore.exceptions import ClientError


def _client(service, endpoint, key):
    credentials = (
        {"aws_access_key_id": key["id"], "aws_secret_access_key": key["secret"]}
        if key
        else {"aws_access_key_id": "bootstrap", "aws_secret_access_key": "bootstrap"}
    )
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", **credentials)


def _read_policy(buckets):
    # On AWS, s3:ListBucket allows HeadBucket; moto checks s3:HeadBucket as an action of its
    # own, so it is granted too: a reader reads here as it does on AWS.
    resources = [f"arn:aws:s3:::{b}" for b in buckets] + [f"arn:aws:s3:::{b}/*" for b in buckets]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:ListBucket", "s3:HeadBucket", "s3:GetObject"],
                    "Resource": resources,
                }
            ],
        }
    )


def _user(iam, name, policy):
    iam.create_user(UserName=name)
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="access", PolicyDocument=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}


def main():
    request = json.load(sys.stdin)
    endpoint, key = request["endpoint"], request["key"]
    s3, iam = _client("s3", endpoint, key), _client("iam", endpoint, key)
    results = []
    for action in request["actions"]:
        op = action["op"]
        if op == "bootstrap":
            everything = json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                }
            )
            results.append(_user(iam, "kfs-admin", everything))
        elif op == "bucket":
            try:
                s3.create_bucket(Bucket=action["name"])
            except ClientError as error:
                if error.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
                    raise
            results.append(None)
        elif op == "put":
            s3.put_object(
                Bucket=action["bucket"], Key=action["key"], Body=bytes.fromhex(action["data"])
            )
            results.append(None)
        elif op == "user":
            results.append(
                _user(iam, action["name"], _read_policy(action["read"]) if action["read"] else None)
            )
        else:
            raise SystemExit(f"unknown action {op!r}")
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
