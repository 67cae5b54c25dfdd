"""Celery tasks of judging: thin wrappers around the pump and the reconciler.

Why these settings (see also CELERY_* in settings.py):
- A pump is acknowledged when a worker takes it (acks_late=False), unlike the other tasks. Its work
  lives in the database, not in the message: a pump that dies stops its heartbeat, its leases run
  out, and the reconciler hands the judgments back and sends a new pump. Holding the message
  unacknowledged for a pump's whole life would only add a second copy of the pump after Redis's
  visibility timeout.
- A pump hands over to a fresh one after JUDGING_PUMP_MAX_SECONDS (15 min by default), well under
  the soft and hard time limits (50 and 60 min).
- Prefetch is 1, so a pump holds one worker process and never keeps other tasks waiting behind it.
"""

from celery import shared_task

from judgeapp.judging.pump import pump_run, work_waiting
from judgeapp.judging.services import judging_reconcile, pumps_ensure


@shared_task(acks_late=False)
def judging_pump_task(owner: str) -> dict:
    stats = pump_run(owner=owner)
    # Work that arrived while this pump was leaving (its time was up, or a run started just as it
    # found the queue empty) gets a fresh pump now rather than at the reconciler's next round.
    if work_waiting():
        pumps_ensure()
    return {"claimed": stats.claimed, "stored": stats.stored, "seconds": round(stats.seconds, 1)}


@shared_task
def judging_reconcile_task() -> dict:
    result = judging_reconcile()
    return result.__dict__
