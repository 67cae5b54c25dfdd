from celery import shared_task

from judgeapp.datasets.services import import_job_run


@shared_task(bind=True, acks_late=True)
def import_job_run_task(self, job_id: int) -> None:
    import_job_run(job_id=job_id, redelivered=bool(self.request.delivery_info.get("redelivered")))
