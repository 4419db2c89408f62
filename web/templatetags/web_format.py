from django import template

from web.presentation import FORMAT_LABELS, STATUS_LABELS, money_text

register = template.Library()


@register.filter
def money(amount: int) -> str:
    return money_text(amount)


@register.filter
def entry_fee(amount: int) -> str:
    return "Free" if amount == 0 else money_text(amount)


@register.filter
def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


@register.filter
def format_label(format: str) -> str:
    return FORMAT_LABELS.get(format, format)
