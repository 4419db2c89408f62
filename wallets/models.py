"""A double-entry ledger.

Money lives in accounts (a player's wallet, a tournament's prize-pool escrow, and one
external account that deposits come from). It only ever moves as a *posting*: a set of
entries whose amounts sum to zero. An account's balance is a cached sum of its entries,
kept in step in the same transaction.

Invariants (each proved in tests/wallets/test_ledger.py):
* the entries of every posting sum to zero, so the sum over all accounts is always zero
  and the sum over wallets and escrows changes only by deposits;
* every account's balance equals the sum of its entries;
* no wallet or escrow goes below zero (a CHECK constraint, whatever the code does);
* one business event is posted at most once (a unique (kind, reference)).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Account(models.Model):
    class Kind(models.TextChoices):
        WALLET = "wallet"
        ESCROW = "escrow"
        EXTERNAL = "external"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="wallet",
    )
    label = models.CharField(max_length=120, blank=True)
    balance = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # The external account is where deposits come from: its balance is minus the
            # total ever deposited. Every other account holds real money.
            models.CheckConstraint(
                condition=Q(kind="external") | Q(balance__gte=0),
                name="account_balance_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(kind="wallet", user__isnull=False)
                | ~Q(kind="wallet") & Q(user__isnull=True),
                name="account_wallet_has_user",
            ),
            models.UniqueConstraint(
                fields=["kind"], condition=Q(kind="external"), name="account_one_external"
            ),
        ]

    def __str__(self) -> str:
        return self.label or f"{self.kind} #{self.pk}"


class Posting(models.Model):
    class Kind(models.TextChoices):
        DEPOSIT = "deposit"
        ENTRY_FEE = "entry_fee"
        REFUND = "refund"
        PRIZE = "prize"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    # The business event this posting records, e.g. "participant:42". Unique per kind, so
    # the database refuses to charge, refund or pay the same event twice.
    reference = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 - NULL (deposits) is outside the unique key
    # The tournament the money moved for. A plain id, not a foreign key: the ledger knows
    # nothing of tournaments (they depend on it, not the other way round).
    tournament_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "reference"], name="posting_once_per_business_event"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.reference or self.pk}"


class Entry(models.Model):
    posting = models.ForeignKey(Posting, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    amount = models.BigIntegerField()  # signed, in minor units: + credits, - debits
    balance_after = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "entries"
        indexes = [models.Index(fields=["account", "-id"], name="entry_account_newest")]

    def __str__(self) -> str:
        return f"{self.amount:+d} on {self.account_id}"
