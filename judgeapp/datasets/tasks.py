from celery import shared_task

from judgeapp.datasets.search import search_index_dataset, search_pending_datasets
from judgeapp.datasets.services import import_job_run


@shared_task(bind=True, acks_late=True)
def import_job_run_task(self, job_id: int) -> None:
    import_job_run(job_id=job_id, redelivered=bool(self.request.delivery_info.get("redelivered")))


@shared_task(acks_late=True)
def search_index_task(dataset_id: int) -> int:
    return search_index_dataset(dataset_id=dataset_id)


@shared_task
def search_index_pending_task() -> None:
    """Periodic catch-up: index whatever an interrupted or worker-less import left unindexed."""
    for dataset_id in search_pending_datasets():
        search_index_task.delay(dataset_id)
