"""Thin tasks: load by id, call the run. Safe to deliver twice."""

from celery import shared_task


@shared_task(acks_late=True)
def planning_run_task(run_id: int) -> str:
    """Execute one planning run. A redelivered message finds the run no longer queued and
    does nothing (see ``planning_run_execute``)."""
    from planning.mrp.run import planning_run_execute

    return planning_run_execute(run_id=run_id)
