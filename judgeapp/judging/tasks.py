"""Celery tasks of judging: thin wrappers around the pump and the reconciler.

Why these settings (see also CELERY_* in settings.py):
- The pump is acknowledged late and rejected back to the queue if its worker dies, so a killed
  worker's pump is sent again; a second pump is harmless (the cap and the leases live in the
  database), a lost one is re-sent by the reconciler.
- A pump hands over to a fresh one after JUDGING_PUMP_MAX_SECONDS (15 min by default), well under
  the soft and hard time limits (50 and 60 min), which themselves sit under Redis's visibility
  timeout (2 h): Redis never re-delivers a pump that is still running.
- Prefetch is 1, so a pump holds one worker process and never keeps other tasks waiting behind it.
"""

from celery import shared_task

from judgeapp.judging.pump import pump_run, work_waiting
from judgeapp.judging.services import judging_reconcile, pumps_ensure


@shared_task(acks_late=True, reject_on_worker_lost=True)
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
