from celery import shared_task

from judgeapp.campaigns.services import locks_expire_all


@shared_task
def campaign_locks_expire_task() -> int:
    """Periodic: items whose lock ran out return to their campaign's pool."""
    return locks_expire_all()
