"""Nothing secret in any message (issue 36 item 4): a URL's user and password, tokens, private
keys, any field of a key file and signed-URL parameters are redacted wherever a URL or a value
from outside is printed. Each secret below carries a mark; no output may hold one."""

from __future__ import annotations

import json

import pytest
import yaml

from pytest_kfs.__main__ import main
from pytest_kfs.diagnosis.codes import Code
from pytest_kfs.diagnosis.finding import Finding
from pytest_kfs.errors import KfsError
from pytest_kfs.gcp.keyfile import key_problem
from pytest_kfs.kserve.status import ModelState, Verdict
from pytest_kfs.kube.cluster import _unreachable, connect_context
from pytest_kfs.plugin.settings import (
    parse_existing,
    parse_ingress,
    parse_model,
    parse_serving_key,
    parse_storage_uri,
    resolve,
    said,
)
from pytest_kfs.reports.terminal import (
    format_block,
    json_report,
    markdown_summary,
    model_record,
    summary_rows,
)
from pytest_kfs.untrusted import REDACTED, capped, markdown, printable, redacted, shown
from pytest_kfs.wait import TimelineEntry, WaitResult

MARK = "SECRET-MARK-1234"

# Every shape of secret, each holding the mark.
SHAPES = {
    "url password": f"https://user:{MARK}@api.example.com:6443/path",
    "url token": f"https://{MARK}@github.com/org/repo.git",
    "url user only": f"s3://{MARK}@minio:9000/bucket",
    "pem key": f"-----BEGIN PRIVATE KEY-----\nMIIE{MARK}abc\n-----END PRIVATE KEY-----\n",
    "rsa pem cut short": f"-----BEGIN RSA PRIVATE KEY-----\\nMIIE{MARK}",
    "json private_key": f'{{"private_key": "-----BEGIN PRIVATE KEY-----\\n{MARK}\\n"}}',
    "json private_key_id": f'{{"type": "service_account", "private_key_id": "{MARK}"}}',
    "client_secret": f'"client_secret": "{MARK}"',
    "bearer": f"Authorization: Bearer {MARK}abcdef",
    "bearer alone": f"sent bearer {MARK}abcdefgh",
    "basic header": f"authorization: Basic {MARK}=",
    "aws env": f"AWS_SECRET_ACCESS_KEY={MARK}",
    "aws yaml": f"aws_secret_access_key: {MARK}",
    "aws camel": f"secretAccessKey: {MARK}",
    "minio password": f"MINIO_ROOT_PASSWORD={MARK}",
    "password yaml": f"password: '{MARK} with spaces'",
    "access_token query": f"https://h/x?access_token={MARK}&b=1",
    "azure sas": f"https://acct.blob.core.windows.net/c/m?sv=2020&sig={MARK}%3D&se=2",
    "goog signature": f"https://storage.googleapis.com/b/o?X-Goog-Signature={MARK}",
    "amz signature": f"https://b.s3.amazonaws.com/o?X-Amz-Signature={MARK}&X-Amz-Date=1",
    "amz session": f"X-Amz-Security-Token={MARK}",
    "jwt": f"token eyJhbGciOiJSUzI1NiJ9.eyJzdWIi{MARK}.c2lnbmF0dXJl",
    "google access token": f"ya29.{MARK}",
}


def secret(text: str) -> bool:
    return MARK in text or MARK.lower() in text.lower()


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_redacted_removes_every_shape_and_is_idempotent(shape):
    text = f"before {SHAPES[shape]} after"
    out = redacted(text)
    assert not secret(out), out
    assert REDACTED in out and out.startswith("before ")
    assert redacted(out) == out
    # Every layer that prints applies it, a cut included.
    for layer in (capped, shown, printable, markdown):
        assert not secret(layer(text)), layer
    assert not secret(capped(text, len("before ") + 20))


@pytest.mark.parametrize(
    "plain",
    [
        "gs://kfserving-examples/models/sklearn/1.0/model",
        "s3://bucket/model",
        "https://oauth2.googleapis.com/token",
        "token_uri: https://oauth2.googleapis.com/token",
        "app=x,key=y,tier in (a, b)",
        "a bearer token was rejected",
        "kubectl -n ns create secret generic gcs --from-file=key.json",
        "user@example.com lacks storage.objects.get on gs://b",
        "serviceAccount:sa@project.iam.gserviceaccount.com",
    ],
)
def test_redacted_leaves_plain_text_alone(plain):
    assert redacted(plain) == plain


def test_redaction_is_linear_on_a_long_hostile_line():
    # Starts of every pattern without their ends: each search stays near its literal.
    hostile = ("://" + "a" * 50 + " -----BEGIN eyJ password=" + "x" * 30 + " ") * 20000
    assert len(redacted(hostile)) <= len(hostile)


def test_cannot_reach_the_api_server_hides_the_password_in_its_url():
    server = SHAPES["url password"]
    error = OSError(f"Max retries exceeded with url: {server}/version (Caused by ...)")
    message = str(_unreachable(server, error))
    assert "cannot reach the API server https://REDACTED@api.example.com:6443" in message
    assert not secret(message)


def test_a_kubeconfig_whose_server_has_a_password_is_unreachable_without_it(tmp_path):
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "c", "cluster": {"server": f"https://admin:{MARK}@127.0.0.1:1"}}
                ],
                "users": [{"name": "u", "user": {"token": MARK}}],
                "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "ctx",
            }
        )
    )
    with pytest.raises(KfsError) as caught:
        connect_context("ctx", kubeconfig)
    assert "the API server https://REDACTED@127.0.0.1:1" in str(caught.value)
    assert not secret(said(caught.value))
    with pytest.raises(KfsError) as missing:
        connect_context("other", kubeconfig)
    assert not secret(said(missing.value))


def test_a_kubeconfig_that_is_not_yaml_does_not_quote_its_token(tmp_path):
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(f"users:\n- name: u\n  user: {{token: {MARK}\n")
    with pytest.raises(KfsError) as caught:
        connect_context("ctx", kubeconfig)
    assert not secret(said(caught.value))


@pytest.mark.parametrize(
    "info",
    [
        {"type": MARK},
        {"type": f"service_{MARK}"},
        {"type": ["service_account", MARK]},
        {"type": "service_account", "private_key": MARK, "client_email": MARK, "token_uri": MARK},
        {"type": "service_account", "private_key": 7, "client_email": MARK, "token_uri": "x"},
        {
            "type": "service_account",
            "private_key": SHAPES["pem key"],
            "client_email": MARK,
            "token_uri": "https://oauth2.googleapis.com/token",
        },
        [MARK],
        MARK,
    ],
)
def test_a_key_file_check_never_shows_a_value_of_the_file(tmp_path, info):
    problem = key_problem(info)
    assert problem and not secret(problem)
    key = tmp_path / "key.json"
    key.write_text(json.dumps(info))
    with pytest.raises(KfsError) as caught:
        parse_serving_key(str(key))
    assert not secret(str(caught.value))


def test_a_known_credential_type_is_named_in_our_words():
    assert key_problem({"type": "authorized_user"}) == (
        "its type is 'authorized_user', not service_account"
    )


def test_a_key_file_that_is_not_json_is_not_quoted(tmp_path):
    key = tmp_path / "key.json"
    key.write_text(f'{{"private_key": "{MARK}", oops')
    with pytest.raises(KfsError) as caught:
        parse_serving_key(str(key))
    assert not secret(str(caught.value))


@pytest.mark.parametrize(
    "call",
    [
        lambda: parse_storage_uri(SHAPES["url password"]),
        lambda: parse_storage_uri(f"ftp://user:{MARK}@host/model"),
        lambda: parse_model(SHAPES["azure sas"] + " x", "sklearn", None),
        lambda: parse_ingress(SHAPES["url password"] + "/ x"),
        lambda: parse_existing(f"password={MARK}"),
        lambda: resolve({"storage_uri": f"https://u:{MARK}@h/m"}, {}, {}),
        lambda: resolve({"cluster": f"https://u:{MARK}@h"}, {}, {}),
        lambda: resolve({"gcs_endpoint": f"https://u:{MARK}@h", "cluster": "in-cluster"}, {}, {}),
    ],
)
def test_an_option_error_as_the_plugin_says_it_holds_no_secret(call):
    try:
        call()
    except KfsError as error:
        assert not secret(said(error))


def _result(text: str) -> WaitResult:
    state = ModelState.from_isvc(
        {
            "metadata": {"name": "m", "namespace": "ns", "generation": 1},
            "status": {"observedGeneration": 1, "modelStatus": {"lastFailureInfo": {}}},
        }
    )
    return WaitResult(
        verdict=Verdict.FAILED,
        state=state,
        timeline=[TimelineEntry(1.0, "event", text, state)],
        elapsed=3.0,
        reason=text,
    )


def _finding() -> Finding:
    return Finding(
        code=next(iter(Code)),
        cause=f"the storage initializer could not download {SHAPES['url password']}",
        evidence=tuple(SHAPES.values()),
        fix=f"kubectl -n ns get secret s  # {SHAPES['aws env']}",
    )


def test_the_terminal_block_and_the_reports_of_a_finding_hold_no_secret():
    result = _result(SHAPES["url token"] + " " + SHAPES["bearer"])
    block = format_block("ns", "m", result, [_finding()], 60)
    assert "REDACTED" in block and not secret(block)
    record = model_record("t.py::t", "ns", "m", SHAPES["azure sas"], result, [_finding()])
    for text in (
        json.dumps(record),
        json.dumps(json_report([record], "run", {})),
        markdown_summary([record]),
        "\n".join(summary_rows([record])),
    ):
        assert not secret(text), [line for line in text.splitlines() if secret(line)][:3]


def test_merge_of_a_report_with_secrets_prints_none(tmp_path, capsys):
    result = _result(SHAPES["goog signature"])
    record = model_record("t.py::t", "ns", "m", "gs://b/m", result, [_finding()])
    report = json_report([record], "run", {"server": SHAPES["url password"], "context": "c"})
    # An older pytest-kfs, or a hand-edited report, wrote the secrets in raw.
    report["models"][0]["findings"][0]["evidence"] = list(SHAPES.values())
    report["models"][0]["storage_uri"] = SHAPES["url password"]
    source = tmp_path / "run.json"
    source.write_text(json.dumps(report))
    out, html, md = tmp_path / "all.json", tmp_path / "all.html", tmp_path / "all.md"
    code = main(
        ["merge", str(source), "--out", str(out), "--html", str(html), "--markdown", str(md)]
    )
    printed = capsys.readouterr()
    assert code in (0, 1), printed.err  # 1: a model failed
    for text in (printed.out, printed.err, out.read_text(), html.read_text(), md.read_text()):
        assert not secret(text), [line for line in text.splitlines() if secret(line)][:3]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema": "pytest-kfs/report", "version": SHAPES["url password"]}))
    main(["merge", str(bad), "--out", str(tmp_path / "x.json")])
    assert not secret(capsys.readouterr().err)


def test_diagnose_prints_no_secret_from_the_pasted_files(tmp_path, capsys):
    uri = SHAPES["url password"]
    isvc = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "m", "namespace": "ns", "generation": 1},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": uri}}},
        "status": {
            "observedGeneration": 1,
            "modelStatus": {
                "transitionStatus": "BlockedByFailedLoad",
                "states": {"activeModelState": "", "targetModelState": "FailedToLoad"},
                "lastFailureInfo": {
                    "reason": "ModelLoadFailed",
                    "message": f"failed to download {uri}: 403 Forbidden "
                    f"{SHAPES['amz signature']} {SHAPES['bearer']}",
                },
            },
        },
    }
    pasted = tmp_path / "isvc.yaml"
    pasted.write_text(yaml.safe_dump(isvc))
    log = tmp_path / "init.log"
    log.write_text("\n".join(f"ERROR {value}" for value in SHAPES.values()))
    main(["diagnose", str(pasted), "--log", f"storage-initializer={log}"])
    printed = capsys.readouterr()
    assert printed.out and not secret(printed.out + printed.err)
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(f"{{a: [{SHAPES['url password']}")
    main(["diagnose", str(hostile)])
    assert not secret(capsys.readouterr().err)


def test_capped_redacts_a_bounded_prefix_of_a_huge_text(monkeypatch):
    from pytest_kfs import untrusted

    seen: list[int] = []
    real = untrusted.redacted

    def counting(text: str) -> str:
        seen.append(len(text))
        return real(text)

    monkeypatch.setattr(untrusted, "redacted", counting)
    out = untrusted.capped(SHAPES["url password"] + "a" * 4_000_000)
    assert not secret(out) and out.endswith("more characters)")
    assert seen and max(seen) <= untrusted.TEXT_LIMIT + 4096
