from celery import shared_task


@shared_task(name="core.ping", acks_late=False, ignore_result=False)
def ping() -> str:
    """Answered by any live worker; the health page waits for it."""
    return "pong"
