"""The general shapes of Python and Go errors, whatever program wrote them (pure).

The last exception of a Python traceback, import errors, TLS failures, a missing file, and
what counts as an error line at all (so that no error is passed over in silence). These run
after the rules that know a product's own words (rules.py, signatures.py) and Kubernetes'
(kube_semantics.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pytest_kfs.diagnosis.codes import Code
from pytest_kfs.diagnosis.finding import Finding
from pytest_kfs.untrusted import shown

QUOTE_LIMIT = 300
_TRACEBACK = "Traceback (most recent call last):"
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]{1,500})", line \d+, in (?P<function>\S{1,200})')
# An exception line ends a traceback: `module.Name: text` or a bare `NameError` at column 0.
_EXCEPTION = re.compile(
    r"^(?P<type>[A-Za-z_][\w.]{0,120}(?:Error|Exception|Exit|Interrupt|Failure|Warning))"
    r"(?::\s?(?P<text>.*))?$"
)
_NO_MODULE = re.compile(r"No module named '?(?P<module>[\w.]{1,200})'?")
_CANNOT_IMPORT = re.compile(
    r"cannot import name '(?P<name>[\w.]{1,200})' from '(?P<module>[\w.]{1,200})'"
)
_SHARED_LIBRARY = re.compile(r"(?P<library>lib[\w.+-]{1,100}\.so[\w.]*): cannot open shared object")
_UNPICKLING = ("pickle", "joblib", "load_model", "torch/serialization")
# An exception quoted without its traceback (a wrapper's message, a single pasted line).
_BARE_IMPORT = re.compile(r"\b(?:ModuleNotFoundError|ImportError): (?P<text>.{1,500})")
# Published libraries a model server or a model imports (top-level names): missing, the
# runtime's environment lacks them; a name none of them is the model's own code.
_LIBRARIES = frozenset(
    {
        "accelerate", "azure", "boto3", "botocore", "catboost", "cloudpickle", "cv2",
        "fastapi", "google", "grpc", "huggingface_hub", "jax", "joblib", "keras", "kfserving",
        "kserve", "lightgbm", "mlflow", "mlserver", "numpy", "onnx", "onnxruntime", "pandas",
        "PIL", "prophet", "pyarrow", "ray", "scipy", "sentencepiece", "sklearn",
        "statsmodels", "tensorflow", "tokenizers", "torch", "torchvision", "tornado",
        "transformers", "uvicorn", "vllm", "xgboost", "yaml",
    }
)  # fmt: skip
# The model servers' own packages (TorchServe's is `ts`).
_SERVERS = frozenset({"ts", "kserve", "kfserving", "mlserver"})
# rclone (Seldon's and others' model initializers): a remote with no configuration, a source
# directory that is not there.
_RCLONE_NO_REMOTE = re.compile(
    r'Failed to create file system for "(?P<remote>[^"]{1,500})": didn\'t find section in config'
)
_RCLONE_NO_SOURCE = re.compile(
    r"at (?P<path>/[\w./-]{1,500}): error reading source root directory: directory not found"
)
# A function that builds a storage client, and words that make it S3's.
_CLIENT_BUILD = re.compile(r"^_?(?:create|make|get|new|build)_\w{0,40}client$")
_S3_WORDS = re.compile(r"s3|minio|boto", re.IGNORECASE)
_INVALID_ENDPOINT = re.compile(r"ValueError: Invalid endpoint: ?\S{0,300}$")
_TF_BASE = re.compile(r"model_base_path: (?P<base>/[\w./-]{1,500})")
# The node's NVIDIA driver as a container reaches it through NVML or the CUDA runtime.
_GPU_DRIVER = re.compile(
    r"NVML_SUCCESS == \w+ INTERNAL ASSERT FAILED|Failed to initialize NVML|"
    r"NVML: Driver/library version mismatch|NVML_ERROR_\w+|nvmlInit\w* failed|"
    r"cudaErrorInsufficientDriver|CUDA driver initialization failed|"
    r"forward compatibility was attempted on non supported HW"
)
_TLS = re.compile(
    r"x509: |SSL: |\[SSL|CERTIFICATE_VERIFY_FAILED|certificate verify failed|tls: |"
    r"certificate signed by unknown authority"
)
_MISSING_FILE = re.compile(
    r"(?:[Nn]o such file or directory|FileNotFoundError)\W{0,5}(?:'(?P<quoted>[^']{1,500})'|"
    r"(?P<path>/[\w./-]{1,500}))?"
)
# runc's words when it cannot exec the container's process (containerd's StartError).
_EXEC_FAILED = re.compile(
    r'exec: "(?P<command>[^"\n]{1,300})": (?P<why>permission denied|executable file not '
    r"found in \$PATH|no such file or directory)|(?P<format>exec format error)"
)
_EXEC_WHY = {
    "permission denied": "is not executable in the image (its mode lacks the execute bit)",
    "executable file not found in $PATH": "is not found on the image's PATH",
    "no such file or directory": "is not in the image (or its interpreter, the #! line's, is not)",
}
_GO_MISSING_FILE = re.compile(r"(?:open|stat|lstat) (?P<path>/[\w./-]{1,500}): no such file")
# Where a model is downloaded: KServe's storage initializer, ModelMesh's puller.
_STORAGE_SOURCES = ("storage-initializer", "lastFailureInfo")
_STORAGE_WORDS = re.compile(r"pull model from storage|download(?:ing)? (?:the )?model|storage\.py")
# Words that make a line an error, whatever wrote it: a level, an exception, a Go error.
_ERROR_WORDS = re.compile(
    r"\b(?:ERROR|FATAL|CRITICAL|panic|Traceback|[Ee]rror|[Ee]xception|[Ff]ailed|[Ff]ailure|"
    r"[Dd]enied|[Ff]orbidden|[Rr]efused|[Uu]nable to|[Cc]annot|[Cc]ould not|[Ii]nvalid|"
    r"not found|[Tt]imed? ?out|BackOff|CrashLoopBackOff|OOMKilled|Unschedulable|"
    r"[A-Z]\w*(?:Error|Exception)|ASSERT FAILED)\b"
)
_NOT_ERRORS = re.compile(r'"level":"(?:info|debug)"|\b(?:INFO|DEBUG)\b|^\s*(?:Normal)\s')
# Knative's wrapper around a revision's message: with nothing after it, it says no more.
_EMPTY_REVISION_MESSAGE = re.compile(r'^Revision "[^"]+" failed with message:\s*\W*$')


@dataclass(frozen=True)
class Traceback:
    """A Python traceback in one source: its frames (file, function) and its last line."""

    source: str
    frames: tuple[tuple[str, str], ...]
    exception: str


def tracebacks(lines: list[tuple[str, str]]) -> list[Traceback]:
    """Every Python traceback, each ended by its exception line."""
    found: list[Traceback] = []
    current: tuple[str, list[tuple[str, str]]] | None = None
    for source, line in lines:
        if _TRACEBACK in line:
            current = (source, [])
        elif current is not None and source == current[0]:
            if frame := _FRAME.match(line):
                current[1].append((frame["file"], frame["function"]))
            elif _EXCEPTION.match(line.strip()) and not line.startswith((" ", "\t")):
                found.append(Traceback(source, tuple(current[1]), line.strip()))
                current = None
    return found


def is_error_line(line: str) -> bool:
    """Whether a line reports an error (and is not an info line, or Knative's empty revision
    message)."""
    text = line.strip()
    return bool(
        text
        and _ERROR_WORDS.search(text)
        and not _NOT_ERRORS.search(text)
        and not _EMPTY_REVISION_MESSAGE.match(text)
    )


def looks_like_error_text(text: str) -> bool:
    """A pasted text worth reading as lines: it holds an error line or a traceback."""
    return any(is_error_line(line) for line in text.splitlines())


def _quoted(source: str, line: str) -> str:
    return f'{source}: "{shown(line.strip(), QUOTE_LIMIT)}"'


def _in_storage(source: str, line: str) -> bool:
    return source.startswith(_STORAGE_SOURCES) or bool(_STORAGE_WORDS.search(line))


def _container(source: str) -> str:
    """The container a line's source names; a pasted text names none."""
    return source.removesuffix(" log") if source.endswith(" log") else "the container"


def container_start(lines: list[tuple[str, str]]) -> list[Finding]:
    """The runtime could not exec the container's command (runc: `exec: "X": permission
    denied`, not found, or `exec format error`): the image, not the model, is at fault."""
    for source, line in lines:
        if not (found := _EXEC_FAILED.search(line)):
            continue
        if found["format"]:
            why = "is built for another CPU architecture than the node's (exec format error)"
            command = "the image's command"
        else:
            why = _EXEC_WHY[found["why"]]
            command = f"the command {shown(found['command'], 300)}"
        return [
            Finding(
                Code.CONTAINER_START_FAILED,
                f"the container runtime cannot start the container: {command} {why}",
                (_quoted(source, line),),
                "kubectl get pod <pod> -o jsonpath='{.spec.initContainers[*].image} "
                "{.spec.containers[*].image}' # then that image's ENTRYPOINT: rebuild it with "
                "the file present and executable (`RUN chmod +x`), for the node's platform, or "
                "set a command the image has",
            )
        ]
    return []


def import_missing(lines: list[tuple[str, str]]) -> list[Finding]:
    """A module the program imports is missing. A published library's top-level name: the
    runtime's environment lacks it. A submodule of one, met while unpickling: the model was
    saved with another version of the library. Any other name, met while loading the model
    (or quoted without a traceback): the model's own code, not packaged with it."""
    for trace in reversed(tracebacks(lines)):
        missing = (
            _NO_MODULE.search(trace.exception)
            or _CANNOT_IMPORT.search(trace.exception)
            or _SHARED_LIBRARY.search(trace.exception)
        )
        if not missing or not trace.exception.startswith(
            ("ModuleNotFoundError", "ImportError", "OSError")
        ):
            continue
        unpickling = any(
            word in f"{file} {function}" for file, function in trace.frames for word in _UNPICKLING
        )
        named = missing.re is _NO_MODULE
        return [_import_finding(trace.source, trace.exception, missing.group(1), named, unpickling)]
    for source, line in lines:
        bare = _BARE_IMPORT.search(line)
        if bare and (found := _NO_MODULE.search(bare["text"])):
            return [_import_finding(source, line, found["module"], True, None)]
        if (found := _NO_MODULE.match(line.strip())) and line.strip()[:1] == "N":
            return [_import_finding(source, line, found["module"], True, None)]
    return []


def _import_finding(
    source: str, line: str, module: str, named: bool, unpickling: bool | None
) -> Finding:
    """`unpickling` None: no traceback says where the import happened."""
    what = shown(module, 200)
    top = module.split(".")[0]
    library = top in _LIBRARIES
    if named and top in _SERVERS and "." in module:
        # The model server's own package lacks a part its configuration or handler names:
        # the image's version of the server is not the one they were written for.
        unpickling = False
    if (not named and unpickling) or (
        named and library and "." in module and unpickling is not False
    ):
        return Finding(
            Code.MODEL_LOAD_FAILED,
            f"unpickling the model needs {what}, which the runtime's framework does not "
            "have: the model was saved with another version of the framework",
            (_quoted(source, line),),
            "save the model with the runtime's framework version (or pick a runtime "
            "version that matches), then redeploy",
        )
    if named and not library and unpickling is not False:
        return Finding(
            Code.MODEL_LOAD_FAILED,
            f"loading the model imports {what}, which is no published library: the model's "
            "own code (a class or function it was saved with), not packaged with the model",
            (_quoted(source, line),),
            f"package the module {what} with the model (MLflow: code_paths= when logging it; "
            "a custom image: install it), then redeploy; the model's files: kubectl exec "
            "<pod> -c kserve-container -- ls -R /mnt/models",
        )
    container = _container(source)
    return Finding(
        Code.IMAGE_DEPENDENCY_MISSING,
        f"{container} cannot start: its code imports {what}, which its image does not "
        "contain (a broken or mismatched runtime image, or a model environment without it)",
        (_quoted(source, line),),
        f"use a runtime image that contains {what} (another tag), build one with it, or list "
        "it in the model's requirements where the runtime installs them (MLflow's "
        "requirements.txt/conda.yaml); the runtimes' images: kubectl get "
        "clusterservingruntimes,servingruntimes -A -o "
        "custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[0].image",
    )


def gpu_driver(lines: list[tuple[str, str]]) -> list[Finding]:
    """The container cannot use the node's NVIDIA driver: NVML (the driver's management
    library, mounted from the node) or the CUDA runtime fails to start against it."""
    for source, line in lines:
        if found := _GPU_DRIVER.search(line):
            return [
                Finding(
                    Code.GPU_DRIVER_MISMATCH,
                    f"{_container(source)} cannot use the node's NVIDIA driver ("
                    f"{shown(found.group(0), 100)}): the driver and the libraries the container "
                    "was given do not match (a driver upgraded without a reboot, a CUDA newer "
                    "than the driver, or the NVIDIA container runtime not mounting its NVML)",
                    (_quoted(source, line),),
                    "see which node and driver it ran on: kubectl get pods -o wide, then "
                    "nvidia-smi on that node (or in the nvidia-device-plugin pod); pin the "
                    "predictor to nodes whose driver matches the image's CUDA (nodeSelector), "
                    "or use an image built for that driver",
                )
            ]
    return []


def s3_client_unbuilt(lines: list[tuple[str, str]]) -> list[Finding]:
    """The download fails while building its S3 client, before any request: the endpoint or
    keys the service account's secret should give the downloading container are not there."""
    for trace in reversed(tracebacks(lines)):
        functions = [function for _, function in trace.frames]
        files = " ".join(file for file, _ in trace.frames)
        builds = any(_CLIENT_BUILD.match(function) for function in functions)
        if builds and _S3_WORDS.search(f"{files} {' '.join(functions)}"):
            return [_s3_unconfigured(trace.source, trace.exception)]
    for source, line in lines:
        if _INVALID_ENDPOINT.search(line) and _in_storage(source, line):
            return [_s3_unconfigured(source, line)]
    return []


def _s3_unconfigured(source: str, line: str) -> Finding:
    return Finding(
        Code.S3_CREDENTIALS_INVALID,
        "the storage client cannot be built: the S3 endpoint or keys it reads from its "
        "environment (AWS_ENDPOINT_URL or S3_ENDPOINT, AWS_ACCESS_KEY_ID, "
        "AWS_SECRET_ACCESS_KEY) are empty or missing in the container that downloads the model",
        (_quoted(source, line),),
        "kubectl get pod <pod> -o jsonpath='{.spec.initContainers[0].env}' # the S3 "
        "variables must be there: put the secret (with its serving.kserve.io/s3-endpoint "
        "annotation) on the InferenceService's service account",
    )


def tf_serving_layout(lines: list[tuple[str, str]]) -> list[Finding]:
    """TensorFlow Serving loads numbered version directories under its model_base_path
    (BASE/1/saved_model.pb); a SavedModel placed at BASE itself is no version, so it serves
    nothing (it waits, logging no error)."""
    bases = {found["base"].rstrip("/") for _, line in lines if (found := _TF_BASE.search(line))}
    for source, line in lines:
        for base in bases:
            if re.search(re.escape(base) + r"/saved_model\.pb(?:txt)?\b", line):
                return [
                    Finding(
                        Code.MODEL_NOT_FOUND,
                        "TensorFlow Serving looks for version directories under "
                        f"{shown(base, 200)} (e.g. {shown(base, 200)}/1/saved_model.pb), but "
                        "the SavedModel sits at "
                        "its top: there is no version to load",
                        (_quoted(source, line),),
                        "move the SavedModel into a numbered directory in storage (PATH/1/"
                        "saved_model.pb and PATH/1/variables/), keep storageUri at PATH, and "
                        "redeploy",
                    )
                ]
    return []


def tls_failure(lines: list[tuple[str, str]]) -> list[Finding]:
    """TLS verification fails on the way to the model's storage (webhooks' TLS has its own
    rule, signatures.py)."""
    for source, line in lines:
        if _TLS.search(line) and _in_storage(source, line) and "webhook" not in line:
            return [
                Finding(
                    Code.STORAGE_UNREACHABLE,
                    "the storage endpoint's TLS certificate is not trusted by the storage client "
                    "(a private CA, a self-signed certificate or an intercepting proxy)",
                    (_quoted(source, line),),
                    "give the initializer the CA (the serving.kserve.io/s3-cabundle annotation, "
                    "or the CA bundle ConfigMap in inferenceservice-config), or for a test "
                    'endpoint serving.kserve.io/s3-verifyssl: "0"; openssl s_client -connect '
                    "<host>:443 -showcerts shows the chain",
                )
            ]
    return []


def missing_file(lines: list[tuple[str, str]]) -> list[Finding]:
    """A file the program opens is not there: in the model server, the model's layout lacks
    it; during the download, the source path does."""
    for source, line in lines:
        found = _MISSING_FILE.search(line) or _GO_MISSING_FILE.search(line)
        if not found:
            continue
        path = shown(found.groupdict().get("quoted") or found["path"] or "a file", 300)
        if _in_storage(source, line):
            return [
                Finding(
                    Code.STORAGE_DOWNLOAD_FAILED,
                    f"the download stops on a missing file or directory: {path}",
                    (_quoted(source, line),),
                    "list the storage path and fix storageUri (kubectl logs -l "
                    "serving.kserve.io/inferenceservice=<name> -c storage-initializer)",
                )
            ]
        return [
            Finding(
                Code.MODEL_NOT_FOUND,
                f"{_container(source)} looks for {path}, which is not there: the model's files "
                "are not in the layout the runtime expects",
                (_quoted(source, line),),
                "list what the storage path holds and compare it with the runtime's layout "
                "(kubectl exec <pod> -c kserve-container -- ls -R /mnt/models)",
            )
        ]
    return []


def storage_download(lines: list[tuple[str, str]]) -> list[Finding]:
    """An error while pulling the model that no storage rule names (KServe's initializer,
    ModelMesh's puller): the download failed, as its own words say."""
    for source, line in lines:
        if _STORAGE_WORDS.search(line) and is_error_line(line):
            return [
                Finding(
                    Code.STORAGE_DOWNLOAD_FAILED,
                    "pulling the model from storage fails",
                    (_quoted(source, line),),
                    "check that the storage path holds the model and that the puller reads "
                    "the path as written (bucket and prefix, no leading slash): kubectl logs "
                    "<pod> -c <puller or storage-initializer>",
                )
            ]
    return []


def first_error(lines: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The error line to quote when no rule explains any: a traceback's last exception, else
    the first error line."""
    found = tracebacks(lines)
    if found:
        return found[-1].source, found[-1].exception
    return next(((source, line) for source, line in lines if is_error_line(line)), None)


def rclone(lines: list[tuple[str, str]]) -> list[Finding]:
    """rclone copies the model: a remote its configuration (the secret's RCLONE_CONFIG_*
    variables) does not define, or a source directory that is not there."""
    for source, line in lines:
        if found := _RCLONE_NO_REMOTE.search(line):
            remote = found["remote"]
            if remote.lower().startswith(("s3:", "s3://", "minio")):
                return [
                    Finding(
                        Code.S3_CREDENTIALS_INVALID,
                        "rclone has no configuration for the s3 remote of "
                        f"{shown(remote, 300)}: the secret's RCLONE_CONFIG_S3_* variables "
                        "(type, endpoint, keys) never reached the container that downloads",
                        (_quoted(source, line),),
                        "kubectl describe pod <pod> # the initializer must show 'Environment "
                        "Variables from' the rclone secret; reference the secret from the "
                        "deployment (e.g. envSecretRefName) and check its RCLONE_CONFIG_S3_* keys",
                    )
                ]
            return [
                Finding(
                    Code.STORAGE_DOWNLOAD_FAILED,
                    f"rclone has no configuration for the remote of {shown(remote, 300)}: the "
                    "secret with its RCLONE_CONFIG_* variables is not given to the downloader",
                    (_quoted(source, line),),
                    "kubectl describe pod <pod> # reference the rclone secret from the "
                    "deployment and check its RCLONE_CONFIG_<REMOTE>_* keys",
                )
            ]
        if found := _RCLONE_NO_SOURCE.search(line):
            return [
                Finding(
                    Code.STORAGE_DOWNLOAD_FAILED,
                    "the download stops on a missing source directory: "
                    f"{shown(found['path'], 300)} is not there (on a volume: the claim holds "
                    "no such path)",
                    (_quoted(source, line),),
                    "list what the volume or bucket holds and fix the model's URI (for "
                    "pvc://CLAIM/PATH, PATH is relative to the claim's root)",
                )
            ]
    return []


def cut_traceback(lines: list[tuple[str, str]]) -> list[Finding]:
    """A traceback in the container that downloads the model, cut before its exception line:
    the download fails, in the last frame shown; what it raised is not in the text."""
    current: tuple[str, str] | None = None
    for source, line in lines:
        if _TRACEBACK in line:
            current = (source, "")
        elif current is not None and source == current[0]:
            if _FRAME.match(line):
                current = (source, line)
            elif _EXCEPTION.match(line.strip()) and not line.startswith((" ", "\t")):
                current = None
    if current is None or not current[1] or not _in_storage(current[0], current[1]):
        return []
    source, frame = current
    return [
        Finding(
            Code.STORAGE_DOWNLOAD_FAILED,
            "the model's download fails with a Python exception; the traceback is cut before "
            f"its exception line, so only where is shown: {shown(frame.strip(), 300)}",
            (_quoted(source, frame),),
            "kubectl logs <pod> -c storage-initializer # its last line names the exception",
        )
    ]
