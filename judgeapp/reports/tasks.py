from celery import shared_task

from judgeapp.reports.services import report_compute


@shared_task(bind=True, acks_late=True)
def report_compute_task(self, report_id: int) -> None:
    # A redelivered message means the worker computing it died: take the report up again.
    redelivered = bool(self.request.delivery_info.get("redelivered"))
    report_compute(report_id=report_id, redelivered=redelivered)
