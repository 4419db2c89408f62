from django.urls import path

from web.views import tournaments

app_name = "web"

# The paths issue 12 fixes, so that links, bookmarks and tests agree.
urlpatterns = [
    path("", tournaments.tournament_list_page, name="tournament_list"),
]
