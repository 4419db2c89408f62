from django.contrib import admin

from matches.models import Match, MatchReport, PrizeAward
from wallets.admin import ReadOnlyAdmin


class MatchReportInline(admin.TabularInline):
    model = MatchReport
    fields = ("participant", "reported_by", "winner", "scores", "at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Match)
class MatchAdmin(ReadOnlyAdmin):
    """Read-only: a result moves money and the bracket, so it changes only through the
    services (the organizer's resolve and reset), which keep the event log and ledger."""

    list_display = ("id", "tournament", "bracket", "round", "position", "status", "winner")
    list_filter = ("status", "bracket")
    search_fields = ("tournament__name",)
    list_select_related = ("tournament", "winner")
    raw_id_fields = ("tournament", "participant_a", "participant_b", "winner")
    inlines = [MatchReportInline]


@admin.register(PrizeAward)
class PrizeAwardAdmin(ReadOnlyAdmin):
    """Prizes decided at completion and paid by the payout chunks (read-only, like the
    ledger that records the payments)."""

    list_display = ("participant", "tournament", "amount", "paid")
    list_filter = ("paid",)
    list_select_related = ("participant", "tournament")
