"""Options, ini keys and environment -> one validated Settings object (pure)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_kfs.errors import InputRefused, SettingsError
from pytest_kfs.gcp.keyfile import key_problem
from pytest_kfs.gcp.uri import bucket_problem, is_gcs, parse_gcs_uri
from pytest_kfs.kserve.samples import SAMPLES
from pytest_kfs.kserve.selection import ExistingSelection
from pytest_kfs.kserve.spec import DEFAULT_SAMPLE, SPEC_KEYS, ModelSpec
from pytest_kfs.plugin.options import KEEP_CHOICES, OPTIONS, PREFLIGHT_MODES
from pytest_kfs.untrusted import (
    DEPTH_LIMIT,
    expanded,
    json_depth,
    kind_of,
    load_json,
    load_yaml,
    printable,
    read_limited,
    redacted,
    text_of,
)

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


# The models file and the serving key are read at most this far: a models file is a short list,
# a key file a few kilobytes.
MODELS_FILE_LIMIT = 1024 * 1024
KEY_FILE_LIMIT = 64 * 1024
# A models entry's fields and the type each must have (min_replicas is checked on its own).
_TEXT_KEYS = (
    "name",
    "storage_uri",
    "model_format",
    "service_account",
    "runtime",
    "protocol",
    "sample",
)


def _models_data(path: str, text: str) -> object:
    where = f"--kfs-models={path}"
    try:
        if path.endswith(".toml"):
            import tomllib

            # TOML nests with brackets as JSON does: a conservative bound before it recurses.
            if json_depth(text) > DEPTH_LIMIT:
                raise InputRefused(
                    f"{where}: nested deeper than {DEPTH_LIMIT} levels; expected at most "
                    f"{DEPTH_LIMIT}"
                )
            return tomllib.loads(text)
        documents = load_yaml(text, where)
    except InputRefused as error:
        raise SettingsError(str(error)) from None
    except Exception as error:  # yaml and toml raise their own error types
        first = next(iter(str(error).splitlines()), "") or type(error).__name__
        raise SettingsError(f"{where} cannot be parsed: {first}") from None
    if len(documents) > 1:
        raise SettingsError(f"{where} holds {len(documents)} YAML documents; expected one")
    return documents[0] if documents else None


def parse_models_file(path: str, text: str) -> tuple[ModelSpec, ...]:
    """The models of a --kfs-models file: YAML or TOML, `models: [{name, storage_uri, ...}]`.
    YAML aliases and nesting deeper than DEPTH_LIMIT are refused; each field has its type."""
    data = _models_data(path, text)
    entries = data.get("models") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise SettingsError(f"--kfs-models={path} needs a non-empty list under 'models:'")
    models, names = [], set()
    for index, entry in enumerate(entries, 1):
        where = f"--kfs-models={path}, model {index}"
        if not isinstance(entry, dict):
            raise SettingsError(f"{where}: expected a mapping, got {type(entry).__name__}")
        unknown = sorted(str(key) for key in set(entry) - SPEC_KEYS)
        if unknown:
            raise SettingsError(
                f"{where}: unknown key(s) {', '.join(unknown)}; known: "
                f"{', '.join(sorted(SPEC_KEYS))}"
            )
        for key in _TEXT_KEYS:
            value = entry.get(key)
            if value is not None and not isinstance(value, str):
                raise SettingsError(f"{where}: {key} is {kind_of(value)}; expected a string")
        name = str(entry.get("name") or f"model-{index}")
        if not _DNS_LABEL.match(name) or name in names:
            raise SettingsError(f"{where}: name {name!r} must be a unique Kubernetes name")
        names.add(name)
        try:
            parsed = parse_model(
                entry.get("storage_uri"), entry.get("model_format"), entry.get("service_account")
            )
        except SettingsError as error:
            raise SettingsError(f"{where}: {error}") from None
        if parsed is None:
            raise SettingsError(f"{where}: storage_uri is required")
        sample = entry.get("sample")
        if sample is not None and sample not in SAMPLES:
            raise SettingsError(
                f"{where}: sample {sample!r} is not in the catalogue; known: "
                f"{', '.join(sorted(SAMPLES))}"
            )
        min_replicas = entry.get("min_replicas")
        if min_replicas is not None and (type(min_replicas) is not int or min_replicas < 0):
            raise SettingsError(
                f"{where}: min_replicas {min_replicas!r} is not a whole number "
                "of replicas (0 or more)"
            )
        model = parsed.but(
            name=name,
            runtime=entry.get("runtime"),
            protocol=entry.get("protocol"),
            min_replicas=min_replicas,
            sample=sample,
        )
        try:
            model.resolved()
        except ValueError as error:
            raise SettingsError(f"{where}: {error}") from None
        models.append(model)
    return tuple(models)


STORAGE_SCHEMES = (
    "gs://",
    "s3://",
    "pvc://",
    "http://",
    "https://",
    "hf://",
    "oci://",
    "hdfs://",
    "webhdfs://",
)
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def parse_storage_uri(uri: str) -> str:
    """A storage URI KServe can download; SettingsError says what is wrong with it."""
    if not uri.startswith(STORAGE_SCHEMES):
        scheme = f"the unsupported scheme {uri.split('://')[0]}://" if "://" in uri else "no scheme"
        raise SettingsError(
            f"storage URI {uri!r} has {scheme}; KServe downloads "
            f"{', '.join(s.removesuffix('://') for s in STORAGE_SCHEMES)}"
        )
    bucket, _ = parse_gcs_uri(uri)
    problem = bucket_problem(bucket or "") if is_gcs(uri) else None
    if problem:
        raise SettingsError(f"storage URI {uri!r}: {problem}")
    return uri


# Kubernetes label selectors (apimachinery's labels.Parse): a key is an optional DNS-subdomain
# prefix and '/', then a name of at most 63; a value is empty or such a name.
_LABEL_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL_KEY = re.compile(
    rf"^(?:(?=.{{1,253}}/)[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*/)?"
    rf"{_LABEL_NAME}$"
)
_LABEL_VALUE = re.compile(rf"^(?:{_LABEL_NAME})?$")
_WORD = r"[^\s!=(),]+"
_SET = re.compile(rf"^(?P<key>{_WORD})\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_EQUALITY = re.compile(rf"^(?P<key>{_WORD})\s*(?P<op>==|!=|=)\s*(?P<value>{_WORD})?$")
_EXISTS = re.compile(rf"^(?P<not>!)?\s*(?P<key>{_WORD})$")


def _requirements(selector: str) -> list[str]:
    """The selector's requirements: split at commas outside parentheses, which must pair."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(selector):
        if char in "()":
            depth += 1 if char == "(" else -1
            if depth not in (0, 1):
                raise ValueError(f"unbalanced or nested parentheses at character {index + 1}")
        elif char == "," and depth == 0:
            parts.append(selector[start:index])
            start = index + 1
    if depth:
        raise ValueError("a '(' is not closed")
    return [*parts, selector[start:]]


def _requirement_problem(requirement: str) -> str | None:
    text = requirement.strip()
    if not text:
        return "an empty requirement (two commas, or one at an end)"
    values: list[str] = []
    if found := _SET.match(text):
        values = [value.strip() for value in found["values"].split(",")]
        if values == [""]:
            return f"{text!r} lists no value"
    elif found := _EQUALITY.match(text):
        values = [found["value"] or ""]
    elif not (found := _EXISTS.match(text)):
        return f"{text!r} is not key=value, key!=value, key in (a,b), key notin (a,b), key or !key"
    if not _LABEL_KEY.match(found["key"]):
        return f"{found['key']!r} is not a label key"
    bad = next((value for value in values if not _LABEL_VALUE.match(value)), None)
    return f"{bad!r} is not a label value" if bad is not None else None


def parse_selector(selector: str) -> str:
    """--kfs-existing-selector: a Kubernetes label selector (=, ==, !=, in, notin, key, !key),
    parsed when the run is configured, not first refused by the cluster."""
    try:
        problem = next(filter(None, map(_requirement_problem, _requirements(selector))), None)
    except ValueError as error:
        problem = str(error)
    if problem:
        raise SettingsError(
            f"--kfs-existing-selector={selector!r} is not a label selector: {problem} "
            "(e.g. team=search or 'tier in (gold),!canary')"
        )
    return selector


def parse_existing(value: str, selector: str | None = None) -> ExistingSelection:
    """--kfs-existing=all|NS[,NS...]|NS/NAME, and --kfs-existing-selector=LABELS."""
    if selector is not None:
        parse_selector(selector)
    if value == "all":
        return ExistingSelection(selector=selector or None)
    namespace, _, name = value.partition("/")
    parts = (namespace, name) if name else tuple(namespace.split(","))
    for part in parts:
        if not _DNS_LABEL.match(part):
            raise SettingsError(
                f"--kfs-existing={value}: {part!r} is not a valid Kubernetes "
                "name; use all, NAMESPACE[,NAMESPACE...] or NAMESPACE/NAME"
            )
    if name:
        if selector:
            raise SettingsError(
                f"--kfs-existing={value} names one InferenceService; "
                "--kfs-existing-selector selects among many: use one"
            )
        return ExistingSelection((namespace,), name)
    return ExistingSelection(tuple(dict.fromkeys(parts)), selector=selector or None)


def parse_model(
    storage_uri: str | None, model_format: str | None, service_account: str | None
) -> ModelSpec | None:
    """The configured model; SettingsError when the options do not add up."""
    if not storage_uri:
        if model_format or service_account:
            flag = "--kfs-model-format" if model_format else "--kfs-service-account"
            raise SettingsError(f"{flag} needs --kfs-storage-uri to say which model to deploy")
        return None
    if not model_format:
        raise SettingsError(
            "--kfs-storage-uri needs --kfs-model-format (e.g. sklearn, xgboost, tensorflow)"
        )
    if service_account and not _DNS_LABEL.match(service_account):
        raise SettingsError(
            f"--kfs-service-account={service_account!r} is not a valid Kubernetes name"
        )
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
        raise SettingsError(
            f"--kfs-sweep-ttl={value!r} is not a duration: use e.g. 30m, 2h, 1d, or off"
        )
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds < 60:
        raise SettingsError(
            f"--kfs-sweep-ttl={value} is under a minute: it would delete the "
            "namespaces of runs still in progress; use 1m or more, or off"
        )
    return seconds


def parse_run_id(value: str | None) -> str | None:
    """KFS_RUN_ID (e.g. the CI job id): lower-case letters, digits and '-', up to 20."""
    if value is None or value == "":
        return None
    if not _RUN_ID.match(value):
        raise SettingsError(
            f"KFS_RUN_ID={value!r} must be 1-20 lower-case letters, digits or "
            "'-' (it goes into namespace names and labels)"
        )
    return value


# name -> environment variable, from the options table.
ENV_VARS = {option.name: option.env_name for option in OPTIONS if option.env}


def parse_serving_key(path: str) -> Path:
    """--kfs-serving-key: a readable Google service-account key file (never echoed)."""
    where = f"--kfs-serving-key={path}"
    location = expanded(path, where)
    try:
        data = load_json(text_of(read_limited(location, KEY_FILE_LIMIT, where), where), where)
    except OSError as error:
        raise SettingsError(f"{where} cannot be read: {error.strerror or error}") from None
    except InputRefused as error:
        raise SettingsError(str(error)) from None
    except ValueError:
        raise SettingsError(
            f"--kfs-serving-key={path} is not JSON: a Google service-account "
            "key file (gcloud iam service-accounts keys create) is"
        ) from None
    problem = key_problem(data)
    if problem:
        raise SettingsError(
            f"--kfs-serving-key={path} is not a service-account key file: {problem}"
        )
    return location


def parse_serving_account(value: str) -> tuple[str, str]:
    """--kfs-serving-account=NAMESPACE/NAME: the service account to copy."""
    namespace, _, name = value.partition("/")
    if not (_DNS_LABEL.match(namespace) and _DNS_LABEL.match(name)):
        raise SettingsError(
            f"--kfs-serving-account={value!r} is not NAMESPACE/NAME (the "
            "service account models are served as, copied with its secrets "
            "into each test namespace)"
        )
    return namespace, name


def parse_ingress(value: str) -> str:
    """--kfs-ingress: http(s)://HOST[:PORT] of the cluster's ingress gateway."""
    if not re.match(r"^https?://[^/\s]+/?$", value):
        raise SettingsError(
            f"--kfs-ingress={value!r} is not http(s)://HOST[:PORT] (the "
            "address of the cluster's ingress gateway, e.g. Istio's)"
        )
    return value.rstrip("/")


def parse_keep(value: str) -> str:
    """--kfs-keep: never, on-failure or always."""
    if value not in KEEP_CHOICES:
        raise SettingsError(f"--kfs-keep={value} is not one of {', '.join(KEEP_CHOICES)}")
    return value


def parse_namespace(value: str) -> str:
    """--kfs-namespace: the name of a namespace to deploy into."""
    if not (_DNS_LABEL.match(value) and len(value) <= 63):
        raise SettingsError(
            f"--kfs-namespace={value!r} is not a namespace name "
            "(lower-case letters, digits and '-', at most 63)"
        )
    return value


def read_models_file(path: str) -> tuple[ModelSpec, ...]:
    """The models of the --kfs-models file at `path`."""
    where = f"--kfs-models={path}"
    try:
        data = read_limited(expanded(path, where), MODELS_FILE_LIMIT, where)
        text = text_of(data, where)
    except OSError as error:
        raise SettingsError(f"{where} cannot be read: {error.strerror or error}") from None
    except InputRefused as error:
        raise SettingsError(str(error)) from None
    return parse_models_file(path, text)


class Sources:
    """The command line, the environment and the ini file, and the settings resolved so far."""

    def __init__(
        self, cli: Mapping[str, object], ini: Mapping[str, str], environ: Mapping[str, str]
    ) -> None:
        self.cli, self.ini, self.environ = cli, ini, environ
        self.resolved: dict[str, Any] = {}

    def text(self, name: str) -> str | None:
        """An option's value: the command line wins, then the environment, then the ini."""
        for source in (self.cli.get(name), self.environ.get(ENV_VARS[name]), self.ini.get(name)):
            if source not in (None, ""):
                return str(source)
        return None

    def flag(self, name: str) -> bool:
        """A command-line switch."""
        return bool(self.cli.get(name))

    def __getitem__(self, name: str) -> Any:
        return self.resolved[name]


Parser = Callable[[Sources], object]


def _option(name: str, parse: Callable[[str], object] = str, unset: object = None) -> Parser:
    """The parser of option `name`'s value; `unset` when no source gives one."""

    def parser(sources: Sources) -> object:
        text = sources.text(name)
        return unset if text is None else parse(text)

    return parser


def _cluster(sources: Sources) -> str | None:
    if sources.cli.get("cluster") == "":
        # An explicit empty value is a mistake (an unset CI variable), not "use the ini".
        from pytest_kfs.targets import parse_target

        parse_target("")  # raises, saying what --kfs-cluster takes
    return sources.text("cluster")


def _model(sources: Sources) -> ModelSpec | None:
    return parse_model(
        sources.text("storage_uri"), sources.text("model_format"), sources.text("service_account")
    )


def _preflight(sources: Sources) -> str:
    # The switches on the command line; a mode in the environment or the ini file.
    mode = (
        "report"
        if sources.flag("preflight_report")
        else "on"
        if sources.flag("preflight")
        else (sources.environ.get(ENV_VARS["preflight"]) or sources.ini.get("preflight") or "off")
    )
    if mode not in PREFLIGHT_MODES:
        raise SettingsError(
            f"KFS_PREFLIGHT / kfs_preflight={mode!r} is not one of {', '.join(PREFLIGHT_MODES)}"
        )
    return mode


def _existing(sources: Sources) -> ExistingSelection | None:
    where = sources.text("existing")
    return parse_existing(where, sources["existing_selector"]) if where else None


def _target(sources: Sources) -> Target | None:
    from pytest_kfs.targets import TargetOptions, parse_target

    if sources["cluster"] is None:
        return None
    target = parse_target(
        sources["cluster"],
        TargetOptions(
            kubeconfig=sources["kubeconfig"],
            kind_create=sources["kind_create"],
            kind_image=sources["kind_image"],
            keep=sources["keep"],
            kind_install=sources["kind_install"],
        ),
    )
    kserve_version = sources.text("kserve_version")
    return target.with_kserve_version(kserve_version) if kserve_version else target


def _scenarios(sources: Sources) -> tuple[str, ...]:
    scenario, target = sources["scenario"], sources["target"]
    rehearsal = target.rehearsal() if scenario and target is not None else None
    return rehearsal.scenarios(scenario) if rehearsal is not None else ()


# Each setting's parser, once: Settings' fields, and the options the rules and later parsers
# read as they are. They run in this order, so the first bad value is the one reported.
PARSERS: dict[str, Parser] = {
    "cluster": _cluster,
    "kubeconfig": _option("kubeconfig"),
    "kind_create": lambda sources: sources.flag("kind_create"),
    "kind_install": lambda sources: sources.flag("kind_install"),
    "timeout_seconds": _option("timeout", parse_timeout, DEFAULT_TIMEOUT_SECONDS),
    "scenario": _option("scenario"),
    "keep": _option("keep", parse_keep, "never"),
    "kind_image": _option("kind_image"),
    "model": _model,
    "preflight": _preflight,
    "models": _option("models", read_models_file, ()),
    "existing_selector": _option("existing_selector", parse_selector),
    "existing": _existing,
    "sweep_ttl_seconds": _option("sweep_ttl", parse_sweep_ttl, DEFAULT_SWEEP_TTL_SECONDS),
    "run_id": lambda sources: parse_run_id(sources.environ.get("KFS_RUN_ID")),
    "serving_key": _option("serving_key", parse_serving_key),
    "serving_account": _option("serving_account", parse_serving_account),
    "ingress": _option("ingress", parse_ingress),
    "namespace": _option("namespace", parse_namespace),
    "target": _target,
    "scenarios": _scenarios,
}


@dataclass(frozen=True)
class Rule:
    """Settings that do not go together: when `broken(*the settings it reads)`, the message
    (formatted with them) is the error. Checked as soon as the last of them is resolved."""

    reads: tuple[str, ...]
    broken: Callable[..., object]
    message: str

    def problem(self, resolved: Mapping[str, Any]) -> str | None:
        """The message when the rule is broken, else None."""
        values = {name: resolved[name] for name in self.reads}
        return self.message.format(**values) if self.broken(*values.values()) else None


def _without(given: object, target: Target | None) -> bool:
    return bool(given) and target is None


RULES: tuple[Rule, ...] = (
    Rule(
        ("models", "model"),
        lambda models, model: models and model is not None,
        "--kfs-models and --kfs-storage-uri both name the models; use one",
    ),
    Rule(
        ("existing_selector", "existing"),
        lambda selector, existing: selector is not None and existing is None,
        "--kfs-existing-selector needs --kfs-existing to say where to look (all, or namespaces)",
    ),
    Rule(
        ("serving_key", "serving_account"),
        lambda key, account: key and account,
        "--kfs-serving-key and --kfs-serving-account both give the serving identity; use one",
    ),
    Rule(
        ("kind_create", "target"),
        _without,
        "--kfs-kind-create needs --kfs-cluster to say which cluster to use",
    ),
    Rule(
        ("kind_install", "target"),
        _without,
        "--kfs-kind-install needs --kfs-cluster=kind:<name> to say which cluster to install into",
    ),
    Rule(
        ("kind_image", "target"),
        _without,
        "--kfs-kind-image needs --kfs-cluster=kind:<name> to say which cluster to create",
    ),
    Rule(
        ("kubeconfig", "target"),
        _without,
        "--kfs-kubeconfig needs --kfs-cluster to say which cluster to use",
    ),
    Rule(
        ("scenario", "target"),
        _without,
        "--kfs-scenario needs --kfs-cluster to say which cluster to use",
    ),
    Rule(
        ("existing", "target"),
        _without,
        "--kfs-existing needs --kfs-cluster to say which cluster to verify",
    ),
    Rule(
        ("scenario", "namespace", "target"),
        lambda scenario, namespace, target: scenario and namespace and target is not None,
        "--kfs-scenario arranges fresh namespaces of its own; --kfs-namespace={namespace} "
        "deploys into yours: use one",
    ),
    Rule(
        ("scenario", "cluster", "target"),
        lambda scenario, _cluster, target: (
            scenario and target is not None and target.rehearsal() is None
        ),
        "--kfs-scenario={scenario} rehearses a failure in the embedded cluster; it needs "
        "--kfs-cluster=local, not --kfs-cluster={cluster}",
    ),
)
# Setting -> the rules checked once it is resolved (the last of what they read).
DUE: dict[str, tuple[Rule, ...]] = {
    name: tuple(rule for rule in RULES if max(rule.reads, key=list(PARSERS).index) == name)
    for name in PARSERS
}


def resolve(
    cli: Mapping[str, object], ini: Mapping[str, str], environ: Mapping[str, str]
) -> Settings:
    """Build Settings; for each value the command line wins, then the environment, then ini."""
    sources = Sources(cli, ini, environ)
    for name, parse in PARSERS.items():
        try:
            sources.resolved[name] = parse(sources)
        except SettingsError as error:
            # One line whatever the value held (a newline, an escape, a secret).
            raise SettingsError(printable(str(error))) from None
        for rule in DUE[name]:
            problem = rule.problem(sources.resolved)
            if problem:
                raise SettingsError(printable(problem))
    return Settings(**{field.name: sources[field.name] for field in fields(Settings)})


def said(error: BaseException, what: str = "") -> str:
    """What the plugin says of one of its errors: `pytest-kfs: ` and the message, with any
    secret in it (a URL's password, a token, a key) redacted."""
    return f"pytest-kfs: {what}{redacted(str(error))}"


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
