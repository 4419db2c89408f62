from project.domain_errors import Conflict, Forbidden, InvalidInput, NotFound


class MatchNotFound(NotFound):
    pass


class MatchNotReady(Conflict):
    code = "match_not_ready"


class MatchClosed(Conflict):
    code = "match_closed"


class AlreadyReported(Conflict):
    code = "already_reported"


class DownstreamPlayed(Conflict):
    code = "downstream_played"


class NotAPlayer(Forbidden):
    code = "not_a_player"


class InvalidResult(InvalidInput):
    code = "invalid_result"


class NotEnoughParticipants(Conflict):
    code = "not_enough_participants"


class ParticipantNotFound(NotFound):
    pass


class NotASide(InvalidInput):
    """The participant named to forfeit does not play in the match."""

    code = "invalid"


class AlreadyDisqualified(Conflict):
    code = "already_disqualified"
