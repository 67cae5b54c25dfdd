#!/usr/bin/env bash
# Set everything up and run JudgeApp on its embedded default: web server and Celery worker together.
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
python manage.py migrate --noinput
python manage.py collectstatic --noinput -v0
python manage.py seed_demo --url "http://$HOST:$PORT/"

# On Ctrl-C (or when either process exits) stop both and wait for them to finish.
stop() { trap - EXIT INT TERM; kill -TERM $(jobs -p) 2>/dev/null; wait; }
trap stop EXIT INT TERM
# One worker also runs beat (the periodic tasks) since it is alone on the embedded broker.
bin/worker --beat --schedule "${JUDGEAPP_VAR_DIR:-var}/celerybeat-schedule" &
BIND="$HOST:$PORT" bin/web &
wait -n
