"""Every setting the plugin reads, in one table (pure).

The command-line options, the ini keys, the environment variables, their help texts and the
README's table of options are all made from `OPTIONS`: a new setting is one entry here (and
its parsing in config.py). For each value the command line wins, then the environment, then
the ini file.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Option:
    """One setting: `name` gives --kfs-<name>, ini kfs_<name> and env KFS_<NAME>."""

    name: str
    help: str
    metavar: str | None = None
    cli: bool = True
    ini: bool = True
    env: bool = True
    flag: bool = False  # a switch: no value
    choices: tuple[str, ...] = ()

    @property
    def flag_name(self) -> str:
        """`--kfs-serving-account`."""
        return "--kfs-" + self.name.replace("_", "-")

    @property
    def dest(self) -> str:
        """Where pytest keeps the command-line value: `kfs_serving_account`."""
        return f"kfs_{self.name}"

    @property
    def ini_name(self) -> str:
        """`kfs_serving_account`."""
        return f"kfs_{self.name}"

    @property
    def env_name(self) -> str:
        """`KFS_SERVING_ACCOUNT`."""
        return f"KFS_{self.name.upper()}"

    def help_text(self) -> str:
        """The help pytest prints: what it does, then where else it can be set."""
        elsewhere = [f"Env {self.env_name}"] if self.env else []
        elsewhere += [f"ini {self.ini_name}"] if self.ini else []
        return self.help + (f" {', '.join(elsewhere)}." if elsewhere else "")


KEEP_CHOICES = ("never", "on-failure", "always")
PREFLIGHT_MODES = ("on", "report", "off")

OPTIONS: tuple[Option, ...] = (
    Option(
        "cluster",
        "cluster to run against: `local` (embedded, started for the run), a "
        "kubeconfig context name, `in-cluster`, `kind` or `kind:<name>`.",
        "TARGET",
    ),
    Option(
        "kubeconfig",
        "kubeconfig file holding the context (default: `KUBECONFIG` or `~/.kube/config`).",
        "PATH",
    ),
    Option(
        "kind_create",
        "create the kind cluster with the kind CLI when it does not exist.",
        flag=True,
        ini=False,
        env=False,
    ),
    Option(
        "kind_install",
        "install KServe (the release `--kfs-kserve-version` names; default the newest the "
        "embedded cluster runs) into a kind cluster that lacks it; one `--kfs-kind-create` "
        "makes gets it anyway.",
        flag=True,
        ini=False,
        env=False,
    ),
    Option(
        "kind_image",
        "the node image of a kind cluster `--kfs-kind-create` makes (default: the one "
        "`python -m pytest_kfs.kindnode image` built, when podman holds it, else kind's own).",
        "IMAGE",
    ),
    Option("timeout", "overall deadline for a model to become Loaded (default 300).", "SECONDS"),
    Option(
        "storage_uri",
        "the model `kfs_model` deploys, e.g. `gs://bucket/path` (needs `--kfs-model-format`).",
        "URI",
    ),
    Option("model_format", "the format of `--kfs-storage-uri`: sklearn, xgboost, ...", "FORMAT"),
    Option("service_account", "the Kubernetes service account the model is served as.", "NAME"),
    Option(
        "namespace",
        "deploy into this existing namespace instead of a fresh one per "
        "test (live clusters); the run deletes only the objects it created there.",
        "NAME",
    ),
    Option(
        "keep",
        "keep test namespaces: `never` (default), `on-failure`, `always`.",
        "WHEN",
        choices=KEEP_CHOICES,
    ),
    Option(
        "sweep_ttl",
        "at start, delete pytest-kfs namespaces of earlier runs older than "
        "this (default `1h`; `30m`, `2h`, `1d`; `off`). Only namespaces with pytest-kfs's "
        "label.",
        "DURATION",
    ),
    Option(
        "run_id",
        "name the run (e.g. the CI job id: lower-case, digits, `-`, up to 20); it "
        "labels the run's namespaces.",
        cli=False,
        ini=False,
    ),
    # The names live in the scenario catalogue alone (a wrong one is answered with the list).
    Option(
        "scenario",
        "with `local`: rehearse failure scenarios, `all` or names separated by "
        "commas (an unknown name lists the known ones); the suites check one model per "
        "scenario.",
        "NAME[,NAME]",
    ),
    Option(
        "kserve_version",
        "the KServe release whose own manager runs with `local`, or that a kind cluster "
        "gets installed (`v0.20.0`, default, or `v0.13.1`).",
        "VERSION",
    ),
    Option(
        "serving_key",
        "a Google service-account key file: each test namespace gets a "
        "service account with it as KServe's key secret, and models are served as it (live "
        "clusters).",
        "FILE",
    ),
    Option(
        "serving_account",
        "a service account copied, with the secrets it lists and its "
        "annotations (e.g. Workload Identity's), into each test namespace; models are served "
        "as it (live clusters).",
        "NS/NAME",
    ),
    Option(
        "ingress",
        "`http(s)://HOST[:PORT]` of the cluster's ingress gateway: requests go "
        "there with the model's `status.url` host as `Host` header (else through the API "
        "server's service proxy when that host does not resolve).",
        "URL",
    ),
    Option(
        "existing",
        "verify running InferenceServices read-only (`all`, `NS[,NS...]` or "
        "`NS/NAME`); deploying tests skip. Each kind is read once for the whole run.",
        "WHERE",
    ),
    Option(
        "existing_selector",
        "with `--kfs-existing`: only InferenceServices with these "
        "labels (`team=search`, as `kubectl get -l` takes them).",
        "LABELS",
    ),
    Option(
        "preflight",
        "predict each model's outcome before deploying; a predicted failure "
        "fails at once. In the ini file or the environment: `on`, `report` (predict, deploy "
        "anyway, compare) or `off` (the default).",
        flag=True,
        choices=PREFLIGHT_MODES,
    ),
    Option(
        "preflight_report",
        "predict each model's outcome, then deploy anyway and report "
        "both (`--kfs-preflight`'s `report` mode).",
        flag=True,
        ini=False,
        env=False,
    ),
    Option(
        "models",
        "YAML/TOML list of models for the suites: `models: [{name, storage_uri, "
        "model_format, service_account, runtime, protocol, min_replicas, sample}]` (`sample`: "
        "the catalogue sample the model is a copy of, so its answer is checked).",
        "FILE",
    ),
    Option(
        "report",
        "write a JSON report (schema `pytest-kfs/report`, version 1).",
        "PATH",
        ini=False,
        env=False,
    ),
    Option(
        "html",
        "write an HTML report with a state timeline per model.",
        "PATH",
        ini=False,
        env=False,
    ),
    Option(
        "gcs_endpoint",
        "a private Google Cloud Storage endpoint for the bucket checks.",
        cli=False,
        ini=False,
    ),
    Option("iam_endpoint", "a private IAM endpoint for the IAM checks.", cli=False, ini=False),
    Option(
        "iam_credentials_endpoint",
        "a private IAM Credentials endpoint for the impersonation checks.",
        cli=False,
        ini=False,
    ),
)

BY_NAME = {option.name: option for option in OPTIONS}
# The settings resolve() reads from the command line, the environment and the ini file.
RESOLVED = tuple(
    option
    for option in OPTIONS
    if option.name
    not in ("report", "html", "run_id", "gcs_endpoint", "iam_endpoint", "iam_credentials_endpoint")
)


def markdown_table() -> str:
    """The README's table of options."""
    rows = ["| option | ini key | environment | meaning |", "|---|---|---|---|"]
    for option in OPTIONS:
        if option.flag:
            flag = f"`{option.flag_name}`"
        else:
            flag = f"`{option.flag_name}={option.metavar}`" if option.cli else ""
        rows.append(
            f"| {flag if option.cli else ''} | "
            f"{f'`{option.ini_name}`' if option.ini else ''} | "
            f"{f'`{option.env_name}`' if option.env else ''} | {option.help} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
