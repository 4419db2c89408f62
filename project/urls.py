from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from consumers import views as live_views
from matches import views as match_views
from project.errors import json_404
from project.health import healthz
from tournaments import views as tournament_views
from users import views as user_views
from wallets import views as wallet_views

# REST paths have no trailing slash (API.md, Conventions).
api = [
    path("auth/register", user_views.RegisterView.as_view()),
    path("auth/token", user_views.TokenView.as_view()),
    path("me", user_views.MeView.as_view()),
    path("wallet", wallet_views.WalletView.as_view()),
    path("wallet/entries", wallet_views.WalletEntriesView.as_view()),
    path("wallets/<int:user_id>/deposits", wallet_views.DepositView.as_view()),
    path("teams", tournament_views.TeamCreateView.as_view()),
    path("teams/<int:team_id>", tournament_views.TeamDetailView.as_view()),
    path("teams/<int:team_id>/invites", tournament_views.TeamInviteView.as_view()),
    path("teams/<int:team_id>/accept", tournament_views.TeamAcceptView.as_view()),
    path("teams/<int:team_id>/members/<int:user_id>", tournament_views.TeamMemberView.as_view()),
    path("tournaments", tournament_views.TournamentListView.as_view()),
    path("tournaments/<int:tournament_id>", match_views.TournamentDetailView.as_view()),
    path("tournaments/<int:tournament_id>/join", tournament_views.TournamentJoinView.as_view()),
    path("tournaments/<int:tournament_id>/leave", tournament_views.TournamentLeaveView.as_view()),
    path(
        "tournaments/<int:tournament_id>/check-in",
        tournament_views.TournamentCheckInView.as_view(),
    ),
    path("tournaments/<int:tournament_id>/cancel", tournament_views.TournamentCancelView.as_view()),
    path("tournaments/<int:tournament_id>/events", tournament_views.TournamentEventsView.as_view()),
    path("tournaments/<int:tournament_id>/start", match_views.TournamentStartView.as_view()),
    path(
        "tournaments/<int:tournament_id>/participants/<int:participant_id>/disqualify",
        match_views.ParticipantDisqualifyView.as_view(),
    ),
    path("tournaments/<int:tournament_id>/bracket", match_views.TournamentBracketView.as_view()),
    path(
        "tournaments/<int:tournament_id>/standings", match_views.TournamentStandingsView.as_view()
    ),
    path("matches/<int:match_id>", match_views.MatchDetailView.as_view()),
    path("matches/<int:match_id>/report", match_views.MatchReportView.as_view()),
    path("matches/<int:match_id>/resolve", match_views.MatchResolveView.as_view()),
    path("matches/<int:match_id>/reset", match_views.MatchResetView.as_view()),
    path("matches/<int:match_id>/forfeit", match_views.MatchForfeitView.as_view()),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # Anything else under /api/ is a JSON 404, also with DEBUG on.
    re_path(r"^.*$", json_404),
]

urlpatterns = [
    path("healthz", healthz),
    path("admin/", admin.site.urls),
    path("api/", include(api)),
    path("tournaments/<int:tournament_id>/live", live_views.tournament_live, name="live"),
    # Pages for people: the tournaments list at /, and those that issue 12 adds after it.
    path("", include("web.urls")),
]

# JSON under /api/ (project.errors.json_404, json_500), a page for people elsewhere.
handler404 = "web.views.errors.page_not_found"
handler500 = "web.views.errors.server_error"
