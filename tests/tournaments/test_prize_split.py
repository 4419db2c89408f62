"""The prize split is one rule, kept by the service, the admin and the database: a split
that does not sum to 100 used to reach the database through the admin, and the result that
completed the tournament then failed inside ``prize_shares``, so it could never end."""

import pytest
from django.db import IntegrityError, transaction

from project.errors import InvalidInput
from tournaments.models import Tournament
from tournaments.services import tournament_create

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("split", [[60, 30], [], [110, -10], [50.5, 49.5], ["100"]])
def test_the_service_refuses_a_split_that_is_not_whole_percentages_summing_to_100(make_user, split):
    with pytest.raises(InvalidInput) as refused:
        tournament_create(
            organizer=make_user(), name="Cup", format="swiss", max_participants=8,
            prize_split=split,
        )  # fmt: skip
    assert "prize_split" in refused.value.fields
    assert not Tournament.objects.exists()


@pytest.mark.parametrize("split", [[60, 30], [], [110, -10], [50.5, 49.5], ["100"], {"1": 100}])
def test_the_database_refuses_a_split_that_is_not_valid(make_user, split):
    tournament = tournament_create(
        organizer=make_user(), name="Cup", format="swiss", max_participants=8
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Tournament.objects.filter(pk=tournament.pk).update(prize_split=split)
    tournament.refresh_from_db()
    assert tournament.prize_split == [100]


def test_the_admin_refuses_a_split_that_does_not_sum_to_100(client, admin_user, make_user):
    tournament = tournament_create(
        organizer=make_user(), name="Cup", format="swiss", max_participants=8
    )
    client.force_login(admin_user)
    url = f"/admin/tournaments/tournament/{tournament.pk}/change/"
    form = {
        "name": "Cup", "game": "", "format": "swiss", "max_participants": 8,
        "prize_split": "[60, 30]", "swiss_rounds": "", "organizer": tournament.organizer_id,
        "best_of": 1, "best_of_final": "", "starts_at_0": "", "starts_at_1": "",
        "check_in_opens_minutes": 0,
    }  # fmt: skip

    response = client.post(url, form)

    assert response.status_code == 200  # the form again, with its error
    assert "The percentages must sum to 100." in response.content.decode()
    tournament.refresh_from_db()
    assert tournament.prize_split == [100]
    form["prize_split"] = "[70, 30]"
    assert client.post(url, form).status_code == 302
    tournament.refresh_from_db()
    assert tournament.prize_split == [70, 30]


def test_the_admin_refuses_check_in_without_a_start_time(client, admin_user, make_user):
    tournament = tournament_create(
        organizer=make_user(), name="Cup", format="swiss", max_participants=8
    )
    client.force_login(admin_user)
    form = {
        "name": "Cup", "game": "", "format": "swiss", "max_participants": 8,
        "prize_split": "[100]", "swiss_rounds": "", "organizer": tournament.organizer_id,
        "best_of": 1, "best_of_final": "", "starts_at_0": "", "starts_at_1": "",
        "check_in_opens_minutes": 30,
    }  # fmt: skip

    response = client.post(f"/admin/tournaments/tournament/{tournament.pk}/change/", form)

    assert response.status_code == 200  # the form again, with its error
    assert "Check-in needs a start time." in response.content.decode()
    tournament.refresh_from_db()
    assert tournament.check_in_opens_minutes == 0
