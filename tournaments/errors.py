from project.domain_errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound


class TournamentNotFound(NotFound):
    pass


class TeamNotFound(NotFound):
    pass


class RegistrationClosed(Conflict):
    code = "registration_closed"


class TournamentFull(Conflict):
    code = "tournament_full"


class AlreadyRegistered(Conflict):
    code = "already_registered"


class NotRegistered(Conflict):
    code = "not_registered"


class InvalidRoster(InvalidInput):
    code = "invalid_roster"


class NotCaptain(Forbidden):
    code = "not_captain"


class NotOrganizer(Forbidden):
    code = "not_organizer"


class NotInvited(Forbidden):
    code = "not_invited"


class AlreadyMember(Conflict):
    code = "already_member"


class InvalidTransition(Conflict):
    code = "invalid_status"


class EventsPruned(DomainError):
    """``since`` is older than the oldest event kept (tournaments.events, retention)."""

    status = 410
    code = "events_pruned"


class CheckInClosed(Conflict):
    code = "check_in_closed"
