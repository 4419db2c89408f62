from django.urls import path

from web.views import accounts, manage, teams, tournaments
from web.views import matches as match_pages

app_name = "web"

# The paths issue 12 fixes, so that links, bookmarks and tests agree.
urlpatterns = [
    path("", tournaments.tournament_list_page, name="tournament_list"),
    # The organizer's pages (web/views/manage.py).
    path("tournaments/new", manage.tournament_new_page, name="tournament_new"),
    path(
        "tournaments/<int:tournament_id>/manage",
        manage.tournament_manage_page,
        name="tournament_manage",
    ),
    path(
        "tournaments/<int:tournament_id>/manage/start",
        manage.tournament_start_submit,
        name="tournament_manage_start",
    ),
    path(
        "tournaments/<int:tournament_id>/manage/cancel",
        manage.tournament_cancel_page,
        name="tournament_manage_cancel",
    ),
    path(
        "tournaments/<int:tournament_id>/manage/matches/<int:match_id>/resolve",
        manage.match_resolve_submit,
        name="manage_match_resolve",
    ),
    path(
        "tournaments/<int:tournament_id>/manage/matches/<int:match_id>/reset",
        manage.match_reset_submit,
        name="manage_match_reset",
    ),
    path(
        "tournaments/<int:tournament_id>/manage/participants/<int:participant_id>/disqualify",
        manage.participant_disqualify_submit,
        name="manage_participant_disqualify",
    ),
    path("tournaments", tournaments.tournament_list_page, name="tournaments"),
    path(
        "tournaments/<int:tournament_id>",
        tournaments.tournament_detail_page,
        name="tournament_detail",
    ),
    path(
        "tournaments/<int:tournament_id>/join",
        tournaments.tournament_join_submit,
        name="tournament_join",
    ),
    path(
        "tournaments/<int:tournament_id>/leave",
        tournaments.tournament_leave_submit,
        name="tournament_leave",
    ),
    path(
        "tournaments/<int:tournament_id>/check-in",
        tournaments.tournament_check_in_submit,
        name="tournament_check_in",
    ),
    path("signup", accounts.signup_page, name="signup"),
    path("login", accounts.login_page, name="login"),
    path("logout", accounts.logout_submit, name="logout"),
    path("wallet", accounts.wallet_page, name="wallet"),
    path("teams", teams.teams_page, name="teams"),
    path("teams/new", teams.team_new_page, name="team_new"),
    path("teams/<int:team_id>", teams.team_detail_page, name="team_detail"),
    path("teams/<int:team_id>/invite", teams.team_invite_submit, name="team_invite"),
    path("teams/<int:team_id>/accept", teams.team_accept_submit, name="team_accept"),
    path("teams/<int:team_id>/leave", teams.team_leave_submit, name="team_leave"),
    path(
        "teams/<int:team_id>/members/<int:user_id>/remove",
        teams.team_member_remove_submit,
        name="team_member_remove",
    ),
    path("me/matches", match_pages.my_matches_page, name="my_matches"),
    path("matches/<int:match_id>", match_pages.match_room_page, name="match_room"),
    path("matches/<int:match_id>/report", match_pages.match_report_submit, name="match_report"),
    path("matches/<int:match_id>/resolve", match_pages.match_resolve_submit, name="match_resolve"),
    path("matches/<int:match_id>/reset", match_pages.match_reset_submit, name="match_reset"),
    path("matches/<int:match_id>/forfeit", match_pages.match_forfeit_submit, name="match_forfeit"),
]
