from django.contrib import admin

from tournaments.models import (
    Participant,
    ParticipantMember,
    Team,
    TeamInvite,
    TeamMember,
    Tournament,
    TournamentEvent,
)
from wallets.admin import ReadOnlyAdmin


class TeamMemberInline(admin.TabularInline):
    model = TeamMember
    extra = 0
    raw_id_fields = ("user",)


class TeamInviteInline(admin.TabularInline):
    model = TeamInvite
    extra = 0
    raw_id_fields = ("user",)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "captain", "created_at")
    search_fields = ("name", "captain__username")
    raw_id_fields = ("captain",)
    inlines = [TeamMemberInline, TeamInviteInline]


class ParticipantMemberInline(admin.TabularInline):
    model = ParticipantMember
    fields = ("user", "active")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Tournament)
class TournamentAdmin(admin.ModelAdmin):
    """Money and counters change only through the services (join, leave, cancel)."""

    list_display = (
        "id",
        "name",
        "format",
        "status",
        "participant_count",
        "prize_pool",
        "refunds_pending",
        "payouts_pending",
        "organizer",
        "created_at",
    )
    list_filter = ("status", "format")
    search_fields = ("name", "game")
    raw_id_fields = ("organizer",)
    readonly_fields = (
        "status",
        "participant_count",
        "waitlist_count",
        "prize_pool",
        "refunds_pending",
        "payouts_pending",
        "version",
        "escrow",
        "entry_fee",
        "team_size",
        "started_at",
        "completed_at",
    )


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "tournament", "seed", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "tournament__name")
    list_select_related = ("tournament",)
    # Status, check-in and waitlist place change only through the services (money moves
    # with them).
    readonly_fields = ("tournament", "team", "captain", "status", "checked_in", "waitlist_position")
    inlines = [ParticipantMemberInline]


@admin.register(TournamentEvent)
class TournamentEventAdmin(ReadOnlyAdmin):
    list_display = ("tournament", "version", "name", "created_at")
    list_filter = ("name",)
