from django.urls import path

from web import views

app_name = "web"

urlpatterns = [
    path("", views.tournament_list_page, name="tournament_list"),
]
