"""One task per event: it finds every recipient and sends all the event's messages over one
email connection and one SMS connection (not one task per recipient).

Delivery is at least once: tasks are acknowledged late, so a worker that dies after sending
but before acknowledging sends that event's messages again when the task is redelivered,
and a failed connection is retried (the whole batch). Tasks take ids and read the current
state, so a redelivered task never sends something that is no longer true.
"""

from smtplib import SMTPException

from celery import shared_task

from project.celery import DATABASE_ERRORS

# Connection-level failures of a mail server, an SMS provider or the database (the task
# reads its recipients): worth another try.
RETRY = {
    "autoretry_for": (SMTPException, OSError, *DATABASE_ERRORS),
    "retry_backoff": 10,
    "max_retries": 3,
    "acks_late": True,
}

# The services are imported inside the tasks: services enqueue these tasks.


@shared_task(**RETRY)
def team_joined_send(participant_id: int) -> None:
    from notifications.services import team_joined_send

    team_joined_send(participant_id=participant_id)


@shared_task(**RETRY)
def match_ready_send(match_ids: list[int]) -> None:
    from notifications.services import match_ready_send

    match_ready_send(match_ids=match_ids)


@shared_task(**RETRY)
def match_result_confirmed_send(match_id: int) -> None:
    from notifications.services import match_result_confirmed_send

    match_result_confirmed_send(match_id=match_id)


@shared_task(**RETRY)
def match_result_disputed_send(match_id: int) -> None:
    from notifications.services import match_result_disputed_send

    match_result_disputed_send(match_id=match_id)
