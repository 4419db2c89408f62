from django.db.models import QuerySet

from wallets.models import Account, Entry


def wallet_get(*, user_id: int) -> Account | None:
    return Account.objects.filter(user_id=user_id).first()


def wallet_entries(*, user_id: int) -> QuerySet[Entry]:
    """The user's ledger lines, newest first."""
    return Entry.objects.filter(account__user_id=user_id).select_related("posting").order_by("-id")


def posting_lines(*, kind: str, references: list[str]) -> dict[str, dict[int, int]]:
    """The lines (account id -> amount) of the postings of one kind, by reference."""
    lines: dict[str, dict[int, int]] = {}
    rows = Entry.objects.filter(posting__kind=kind, posting__reference__in=references).values_list(
        "posting__reference", "account_id", "amount"
    )
    for reference, account_id, amount in rows:
        lines.setdefault(reference, {})[account_id] = amount
    return lines


def wallet_balances(*, user_ids: list[int]) -> dict[int, int]:
    """The wallet balance of each of ``user_ids`` (one query; 0 for a user without a
    wallet). A plain read for showing, never for deciding: a service that moves money
    checks balances on rows it holds locked."""
    balances = dict(Account.objects.filter(user_id__in=user_ids).values_list("user_id", "balance"))
    return {user_id: balances.get(user_id, 0) for user_id in user_ids}
