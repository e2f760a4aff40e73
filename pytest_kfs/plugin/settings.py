"""Options, ini keys and environment -> one validated Settings object (pure)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_kfs.errors import SettingsError
from pytest_kfs.gcp.keyfile import key_problem
from pytest_kfs.gcp.uri import bucket_problem, is_gcs, parse_gcs_uri
from pytest_kfs.kserve.samples import SAMPLES
from pytest_kfs.kserve.selection import ExistingSelection
from pytest_kfs.kserve.spec import DEFAULT_SAMPLE, SPEC_KEYS, ModelSpec
from pytest_kfs.plugin.options import KEEP_CHOICES, OPTIONS, PREFLIGHT_MODES

if TYPE_CHECKING:  # the targets import this module: at run time they load on first use
    from pytest_kfs.targets import Target

DEFAULT_TIMEOUT_SECONDS = 300.0



DEFAULT_SWEEP_TTL_SECONDS = 3600.0


@dataclass(frozen=True)
class Settings:
    """Everything the plugin was told, validated."""

    target: Target | None
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    scenarios: tuple[str, ...] = ()  # --kfs-scenario: the rehearsals the run arranges
    keep: str = "never"
    model: ModelSpec | None = None
    preflight: str = "off"
    models: tuple[ModelSpec, ...] = ()
    existing: ExistingSelection | None = None  # --kfs-existing; None: deploying tests run
    sweep_ttl_seconds: float | None = DEFAULT_SWEEP_TTL_SECONDS  # None: never sweep
    run_id: str | None = None  # KFS_RUN_ID; None: a random one per run
    # A key file: each test namespace gets a service account with it as KServe's key secret.
    serving_key: Path | None = None
    # (namespace, name): a service account to copy, with its secrets, into each test namespace.
    serving_account: tuple[str, str] | None = None
    ingress: str | None = None  # the cluster's ingress gateway (requests carry the Host)
    namespace: str | None = None  # an existing namespace to deploy into (else one per test)


def parse_models_file(path: str, text: str) -> tuple[ModelSpec, ...]:
    """The models of a --kfs-models file: YAML or TOML, `models: [{name, storage_uri, ...}]`."""
    try:
        if path.endswith(".toml"):
            import tomllib

            data = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as error:  # yaml and toml raise their own error types
        raise SettingsError(f"--kfs-models={path} cannot be parsed: "
                            f"{str(error).splitlines()[0]}") from None
    entries = data.get("models") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise SettingsError(f"--kfs-models={path} needs a non-empty list under 'models:'")
    models, names = [], set()
    for index, entry in enumerate(entries, 1):
        where = f"--kfs-models={path}, model {index}"
        if not isinstance(entry, dict):
            raise SettingsError(f"{where}: expected a mapping, got {type(entry).__name__}")
        unknown = sorted(set(entry) - SPEC_KEYS)
        if unknown:
            raise SettingsError(f"{where}: unknown key(s) {', '.join(unknown)}; known: "
                                f"{', '.join(sorted(SPEC_KEYS))}")
        name = str(entry.get("name") or f"model-{index}")
        if not _DNS_LABEL.match(name) or name in names:
            raise SettingsError(f"{where}: name {name!r} must be a unique Kubernetes name")
        names.add(name)
        try:
            parsed = parse_model(entry.get("storage_uri"), entry.get("model_format"),
                                 entry.get("service_account"))
        except SettingsError as error:
            raise SettingsError(f"{where}: {error}") from None
        if parsed is None:
            raise SettingsError(f"{where}: storage_uri is required")
        sample = entry.get("sample")
        if sample is not None and sample not in SAMPLES:
            raise SettingsError(f"{where}: sample {sample!r} is not in the catalogue; known: "
                                f"{', '.join(sorted(SAMPLES))}")
        min_replicas = entry.get("min_replicas")
        if min_replicas is not None and (type(min_replicas) is not int or min_replicas < 0):
            raise SettingsError(f"{where}: min_replicas {min_replicas!r} is not a whole number "
                                "of replicas (0 or more)")
        model = parsed.but(name=name, runtime=entry.get("runtime"),
                           protocol=entry.get("protocol"), min_replicas=min_replicas,
                           sample=sample)
        try:
            model.resolved()
        except ValueError as error:
            raise SettingsError(f"{where}: {error}") from None
        models.append(model)
    return tuple(models)


STORAGE_SCHEMES = ("gs://", "s3://", "pvc://", "http://", "https://", "hf://", "oci://",
                   "hdfs://", "webhdfs://")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def parse_storage_uri(uri: str) -> str:
    """A storage URI KServe can download; SettingsError says what is wrong with it."""
    if not uri.startswith(STORAGE_SCHEMES):
        scheme = f"the unsupported scheme {uri.split('://')[0]}://" if "://" in uri \
            else "no scheme"
        raise SettingsError(f"storage URI {uri!r} has {scheme}; KServe downloads "
                            f"{', '.join(s.removesuffix('://') for s in STORAGE_SCHEMES)}")
    bucket, _ = parse_gcs_uri(uri)
    problem = bucket_problem(bucket or "") if is_gcs(uri) else None
    if problem:
        raise SettingsError(f"storage URI {uri!r}: {problem}")
    return uri


_SELECTOR = re.compile(r"^[A-Za-z0-9_./!=,() -]+$")


def parse_existing(value: str, selector: str | None = None) -> ExistingSelection:
    """--kfs-existing=all|NS[,NS...]|NS/NAME, and --kfs-existing-selector=LABELS."""
    if selector is not None and (not selector.strip() or not _SELECTOR.match(selector)):
        raise SettingsError(f"--kfs-existing-selector={selector!r} is not a label selector "
                            "(e.g. team=search or 'tier in (gold),!canary')")
    if value == "all":
        return ExistingSelection(selector=selector or None)
    namespace, _, name = value.partition("/")
    parts = (namespace, name) if name else tuple(namespace.split(","))
    for part in parts:
        if not _DNS_LABEL.match(part):
            raise SettingsError(f"--kfs-existing={value}: {part!r} is not a valid Kubernetes "
                                "name; use all, NAMESPACE[,NAMESPACE...] or NAMESPACE/NAME")
    if name:
        if selector:
            raise SettingsError(f"--kfs-existing={value} names one InferenceService; "
                                "--kfs-existing-selector selects among many: use one")
        return ExistingSelection((namespace,), name)
    return ExistingSelection(tuple(dict.fromkeys(parts)), selector=selector or None)


def parse_model(storage_uri: str | None, model_format: str | None,
                service_account: str | None) -> ModelSpec | None:
    """The configured model; SettingsError when the options do not add up."""
    if not storage_uri:
        if model_format or service_account:
            flag = "--kfs-model-format" if model_format else "--kfs-service-account"
            raise SettingsError(f"{flag} needs --kfs-storage-uri to say which model to deploy")
        return None
    if not model_format:
        raise SettingsError("--kfs-storage-uri needs --kfs-model-format (e.g. sklearn, "
                            "xgboost, tensorflow)")
    if service_account and not _DNS_LABEL.match(service_account):
        raise SettingsError(f"--kfs-service-account={service_account!r} is not a valid "
                            "Kubernetes name")
    try:
        uri = parse_storage_uri(storage_uri)
    except SettingsError as error:
        raise SettingsError(f"--kfs-storage-uri: {error}") from None
    return ModelSpec("model", uri, model_format, service_account)


def parse_timeout(value: str | float | None) -> float:
    """Seconds as a positive number; SettingsError otherwise."""
    if value is None or value == "":
        return DEFAULT_TIMEOUT_SECONDS
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"--kfs-timeout={value!r} is not a number of seconds") from None
    if not seconds > 0 or seconds == float("inf"):
        raise SettingsError(f"--kfs-timeout={value} must be a positive number of seconds")
    return seconds


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_RUN_ID = re.compile(r"^[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?$")


def parse_sweep_ttl(value: str | None) -> float | None:
    """`--kfs-sweep-ttl`: a duration (90s, 30m, 2h, 1d, seconds) or off; None means off."""
    if value is None or value == "":
        return DEFAULT_SWEEP_TTL_SECONDS
    if value.strip().lower() in ("off", "never", "no"):
        return None
    match = _DURATION.match(value.strip().lower())
    if not match:
        raise SettingsError(f"--kfs-sweep-ttl={value!r} is not a duration: use e.g. 30m, 2h, "
                            "1d, or off")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds < 60:
        raise SettingsError(f"--kfs-sweep-ttl={value} is under a minute: it would delete the "
                            "namespaces of runs still in progress; use 1m or more, or off")
    return seconds


def parse_run_id(value: str | None) -> str | None:
    """KFS_RUN_ID (e.g. the CI job id): lower-case letters, digits and '-', up to 20."""
    if value is None or value == "":
        return None
    if not _RUN_ID.match(value):
        raise SettingsError(f"KFS_RUN_ID={value!r} must be 1-20 lower-case letters, digits or "
                            "'-' (it goes into namespace names and labels)")
    return value


# name -> environment variable, from the options table.
ENV_VARS = {option.name: option.env_name for option in OPTIONS if option.env}


def parse_serving_key(path: str) -> Path:
    """--kfs-serving-key: a readable Google service-account key file (never echoed)."""
    location = Path(path).expanduser()
    try:
        data = json.loads(location.read_text())
    except OSError as error:
        raise SettingsError(f"--kfs-serving-key={path} cannot be read: {error.strerror}") \
            from None
    except ValueError:
        raise SettingsError(f"--kfs-serving-key={path} is not JSON: a Google service-account "
                            "key file (gcloud iam service-accounts keys create) is") from None
    problem = key_problem(data)
    if problem:
        raise SettingsError(f"--kfs-serving-key={path} is not a service-account key file: "
                            f"{problem}")
    return location


def parse_serving_account(value: str) -> tuple[str, str]:
    """--kfs-serving-account=NAMESPACE/NAME: the service account to copy."""
    namespace, _, name = value.partition("/")
    if not (_DNS_LABEL.match(namespace) and _DNS_LABEL.match(name)):
        raise SettingsError(f"--kfs-serving-account={value!r} is not NAMESPACE/NAME (the "
                            "service account models are served as, copied with its secrets "
                            "into each test namespace)")
    return namespace, name


def parse_ingress(value: str) -> str:
    """--kfs-ingress: http(s)://HOST[:PORT] of the cluster's ingress gateway."""
    if not re.match(r"^https?://[^/\s]+/?$", value):
        raise SettingsError(f"--kfs-ingress={value!r} is not http(s)://HOST[:PORT] (the "
                            "address of the cluster's ingress gateway, e.g. Istio's)")
    return value.rstrip("/")


def resolve(cli: Mapping[str, object], ini: Mapping[str, str],
            environ: Mapping[str, str]) -> Settings:
    """Build Settings; for each value the command line wins, then the environment, then ini."""

    def pick(name: str) -> str | None:
        for source in (cli.get(name), environ.get(ENV_VARS[name]), ini.get(name)):
            if source not in (None, ""):
                return str(source)
        return None

    from pytest_kfs.targets import TargetOptions, parse_target

    if cli.get("cluster") == "":
        # An explicit empty value is a mistake (an unset CI variable), not "use the ini".
        parse_target("")

    cluster, kubeconfig = pick("cluster"), pick("kubeconfig")
    kind_create = bool(cli.get("kind_create"))
    timeout = parse_timeout(pick("timeout"))
    scenario = pick("scenario")
    keep = pick("keep") or "never"
    if keep not in KEEP_CHOICES:
        raise SettingsError(f"--kfs-keep={keep} is not one of {', '.join(KEEP_CHOICES)}")
    model = parse_model(pick("storage_uri"), pick("model_format"), pick("service_account"))
    preflight = ("report" if cli.get("preflight_report") else "on" if cli.get("preflight")
                 else (environ.get(ENV_VARS["preflight"]) or ini.get("preflight") or "off"))
    if preflight not in PREFLIGHT_MODES:
        raise SettingsError(f"KFS_PREFLIGHT / kfs_preflight={preflight!r} is not one of "
                            f"{', '.join(PREFLIGHT_MODES)}")
    models_path = pick("models")
    models: tuple[ModelSpec, ...] = ()
    if models_path:
        try:
            text = Path(models_path).expanduser().read_text()
        except OSError as error:
            raise SettingsError(f"--kfs-models={models_path} cannot be read: "
                                f"{error.strerror}") from None
        models = parse_models_file(models_path, text)
        if model is not None:
            raise SettingsError("--kfs-models and --kfs-storage-uri both name the models; "
                                "use one")
    existing_value = pick("existing")
    selector = pick("existing_selector")
    if selector is not None and not existing_value:
        raise SettingsError("--kfs-existing-selector needs --kfs-existing to say where to look "
                            "(all, or namespaces)")
    existing = parse_existing(existing_value, selector) if existing_value else None
    sweep_ttl = parse_sweep_ttl(pick("sweep_ttl"))
    run_id = parse_run_id(environ.get("KFS_RUN_ID"))
    key_path, ingress_value = pick("serving_key"), pick("ingress")
    serving_key = parse_serving_key(key_path) if key_path else None
    account_value = pick("serving_account")
    serving_account = parse_serving_account(account_value) if account_value else None
    if serving_key and serving_account:
        raise SettingsError("--kfs-serving-key and --kfs-serving-account both give the serving "
                            "identity; use one")
    ingress = parse_ingress(ingress_value) if ingress_value else None
    namespace = pick("namespace")
    if namespace is not None and not (_DNS_LABEL.match(namespace) and len(namespace) <= 63):
        raise SettingsError(f"--kfs-namespace={namespace!r} is not a namespace name "
                            "(lower-case letters, digits and '-', at most 63)")
    if cluster is None:
        if kind_create or kubeconfig or scenario:
            flag = ("--kfs-kind-create" if kind_create else
                    "--kfs-kubeconfig" if kubeconfig else "--kfs-scenario")
            raise SettingsError(f"{flag} needs --kfs-cluster to say which cluster to use")
        if existing:
            raise SettingsError("--kfs-existing needs --kfs-cluster to say which cluster to "
                                "verify")
        return Settings(target=None, timeout_seconds=timeout, keep=keep, model=model,
                        preflight=preflight, models=models, sweep_ttl_seconds=sweep_ttl,
                        run_id=run_id, serving_key=serving_key,
                        serving_account=serving_account, ingress=ingress, namespace=namespace)
    target = parse_target(cluster, TargetOptions(kubeconfig, kind_create))
    kserve_version = pick("kserve_version")
    if kserve_version:
        target = target.with_kserve_version(kserve_version)
    if scenario and namespace:
        raise SettingsError(f"--kfs-scenario arranges fresh namespaces of its own; "
                            f"--kfs-namespace={namespace} deploys into yours: use one")
    scenarios: tuple[str, ...] = ()
    if scenario:
        rehearsal = target.rehearsal()
        if rehearsal is None:
            raise SettingsError(
                f"--kfs-scenario={scenario} rehearses a failure in the embedded cluster; it "
                f"needs --kfs-cluster=local, not --kfs-cluster={cluster}")
        scenarios = rehearsal.scenarios(scenario)
    return Settings(target=target, timeout_seconds=timeout, scenarios=scenarios, keep=keep,
                    model=model, preflight=preflight, existing=existing, models=models,
                    sweep_ttl_seconds=sweep_ttl, run_id=run_id, serving_key=serving_key,
                    serving_account=serving_account, ingress=ingress, namespace=namespace)


def configured_models(settings: Settings) -> list[ModelSpec]:
    """--kfs-models, else --kfs-storage-uri, else the target's rehearsal models (the embedded
    cluster's --kfs-scenario, by default its healthy one), else the sklearn-iris sample."""
    if settings.models:
        return list(settings.models)
    if settings.model is not None:
        return [settings.model]
    rehearsal = settings.target.rehearsal() if settings.target is not None else None
    if rehearsal is not None:
        return rehearsal.default_models(settings.scenarios)
    return [ModelSpec(sample=DEFAULT_SAMPLE).resolved()]
