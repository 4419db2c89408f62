from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from users.models import User


@admin.register(User)
class AtomUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Notifications", {"fields": ("phone",)}))
    list_display = ("username", "email", "phone", "is_staff")
