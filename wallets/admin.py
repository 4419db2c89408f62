from django.contrib import admin

from wallets.models import Account, Entry, Posting


class ReadOnlyAdmin(admin.ModelAdmin):
    """The ledger is written only by services; the admin may look, never touch."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EntryInline(admin.TabularInline):
    model = Entry
    fields = ("account", "amount", "balance_after", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "label", "user", "balance", "created_at")
    list_filter = ("kind",)
    search_fields = ("label", "user__username")
    list_select_related = ("user",)


@admin.register(Posting)
class PostingAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "reference", "tournament_id", "created_at")
    list_filter = ("kind",)
    search_fields = ("reference",)
    inlines = [EntryInline]


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "posting", "account", "amount", "balance_after", "created_at")
    list_select_related = ("posting", "account")
    search_fields = ("account__label",)
