# One image for web, worker and beat; docker-compose.yml picks the command (bin/web, bin/worker, bin/beat).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    JUDGEAPP_VAR_DIR=/app/var

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
RUN DEBUG=0 SECRET_KEY=only-for-collectstatic python manage.py collectstatic --noinput \
 && useradd --create-home --uid 1000 judgeapp \
 && mkdir -p var && chown judgeapp var

USER judgeapp
EXPOSE 8000
CMD ["bin/web"]
