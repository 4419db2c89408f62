from django.apps import AppConfig


class WebConfig(AppConfig):
    """The pages people use in a browser (server-rendered); the live page is in consumers."""

    name = "web"
