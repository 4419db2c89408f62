"""Accounts: ``/signup``, ``/login``, ``/logout`` (Django's session login) and ``/wallet``.

Sign-in is behind the same brute-force protection as the API's token endpoint
(``users.views.TokenView``): django-axes counts a failed sign-in against the username,
whichever of the two it came through, and after ``AXES_FAILURE_LIMIT`` failures refuses
both until the cool-off ends. Every form is CSRF-protected (the middleware); a sign-in
rotates the session key and the CSRF token (``django.contrib.auth.login``).
"""

from __future__ import annotations

from collections.abc import Callable

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from project.errors import DomainError
from tournaments.selectors import tournament_names
from users.services import user_register
from wallets.models import Posting
from wallets.selectors import wallet_entries, wallet_get
from web.forms import LoginForm, SignUpForm, add_domain_error

LOGIN_PATH = "/login"
HOME_PATH = "/"
LEDGER_LINES_PER_PAGE = 50

INVALID_CREDENTIALS_WORDS = "The username or password is wrong."
LOCKED_OUT_WORDS = (
    "Too many failed sign-ins for this username. Wait {minutes} minutes, then try again."
)

LEDGER_KIND_LABELS = {
    Posting.Kind.DEPOSIT: "Deposit",
    Posting.Kind.ENTRY_FEE: "Entry fee",
    Posting.Kind.REFUND: "Refund",
    Posting.Kind.PRIZE: "Prize",
}


def safe_next(request: HttpRequest) -> str | None:
    """Where to go after signing in or up: ``next`` (the form's, else the query's) when it
    is a path or URL of this site, over HTTPS when this request came over HTTPS; None for
    anything else (another site, ``javascript:``, ``//evil.example``)."""
    candidate = request.POST.get("next") or request.GET.get("next")
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return None


def see_other(to: str) -> HttpResponse:
    """303 after a successful POST, so that a reload does not post again."""
    response = redirect(to)
    response.status_code = 303
    return response


def login_required_redirect(request: HttpRequest, next_path: str | None = None) -> HttpResponse:
    """To the sign-in page, which comes back to ``next_path`` (else this page) afterwards."""
    return redirect_to_login(next_path or request.get_full_path(), login_url=LOGIN_PATH)


def _lockout_minutes() -> int:
    return max(1, round(float(settings.AXES_COOLOFF_TIME) * 60))


# --- Sign up, sign in, sign out -------------------------------------------------------------


@never_cache
@sensitive_post_parameters("password", "password_again")
@require_http_methods(["GET", "HEAD", "POST"])
def signup_page(request: HttpRequest) -> HttpResponse:
    """``/signup``: a new player account with an empty wallet (``users.services.user_register``),
    signed in at once. The password rules (Django's validators) are the service's; what it
    refuses is shown on the form, which keeps what was typed (but the passwords)."""
    return _account_form_page(
        request, SignUpForm, template="web/account_signup.html", section="signup", act=_sign_up
    )


def _sign_up(request: HttpRequest, form: SignUpForm) -> int | None:
    data = form.cleaned_data
    try:
        user, _token = user_register(
            username=data["username"],
            password=data["password"],
            email=data["email"],
            phone=data["phone"],
        )
    except DomainError as error:
        add_domain_error(form, error)
        return 400
    # ModelBackend, not axes' backend first in the list: nothing was authenticated here.
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return None


@never_cache
@sensitive_post_parameters("password")
@require_http_methods(["GET", "HEAD", "POST"])
def login_page(request: HttpRequest) -> HttpResponse:
    """``/login`` (fields ``username`` and ``password``), then back to ``next``.

    As ``POST /api/auth/token``: the lockout is checked before the password, so the
    failures up to the limit each say "wrong username or password" and only the attempts
    after them say "locked out" (429), with the right password too.
    """
    return _account_form_page(
        request, LoginForm, template="web/account_login.html", section="login", act=_sign_in
    )


def _sign_in(request: HttpRequest, form: LoginForm) -> int | None:
    username, password = form.cleaned_data["username"], form.cleaned_data["password"]
    if not AxesProxyHandler.is_allowed(request, {"username": username}):
        form.add_error(None, LOCKED_OUT_WORDS.format(minutes=_lockout_minutes()))
        return 429
    user = authenticate(request, username=username, password=password)
    # This failure may be the one that locks the username; the lockout applies from the
    # next attempt, so keep axes' middleware from turning this answer into its own.
    request.axes_locked_out = False
    if user is None:
        form.add_error(None, INVALID_CREDENTIALS_WORDS)
        return 400
    login(request, user)
    return None


def _account_form_page(
    request: HttpRequest,
    form_class: type[SignUpForm] | type[LoginForm],
    *,
    template: str,
    section: str,
    act: Callable[[HttpRequest, SignUpForm | LoginForm], int | None],
) -> HttpResponse:
    """The flow sign-up and sign-in share. GET: the empty form, or straight on to ``next``
    for someone signed in already. POST: the form checked, then ``act`` (which signs the
    user in and answers None, or says why not on the form and answers the status to show
    it with), then on to ``next`` (303); ``next`` is kept through every refusal."""
    next_url = safe_next(request)

    def form_page(form: SignUpForm | LoginForm, *, status: int = 200) -> HttpResponse:
        context = {"section": section, "form": form, "next": next_url}
        return render(request, template, context, status=status)

    if request.method != "POST":
        if request.user.is_authenticated:
            return redirect(next_url or HOME_PATH)
        return form_page(form_class())
    form = form_class(request.POST)
    if not form.is_valid():
        return form_page(form, status=400)
    refused_status = act(request, form)
    if refused_status is not None:
        return form_page(form, status=refused_status)
    return see_other(next_url or HOME_PATH)


@require_POST
def logout_submit(request: HttpRequest) -> HttpResponse:
    """``/logout``: POST only (the nav's "Sign out" button, with its CSRF token), so that a
    link or an image elsewhere cannot sign anyone out."""
    logout(request)
    return see_other(HOME_PATH)


# --- Wallet ---------------------------------------------------------------------------------


@never_cache
@require_safe
def wallet_page(request: HttpRequest) -> HttpResponse:
    """``/wallet``: the signed-in player's balance and ledger lines, newest first, 50 a page
    (``?page=``; a page that is not one shows the first or the last). A constant number of
    queries whatever the number of lines: the balance, the count, one page of lines, the
    names of the tournaments they name."""
    if not request.user.is_authenticated:
        return login_required_redirect(request)
    wallet = wallet_get(user_id=request.user.pk)
    paginator = Paginator(wallet_entries(user_id=request.user.pk), LEDGER_LINES_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    lines = list(page)
    names = tournament_names(
        tournament_ids={line.posting.tournament_id for line in lines if line.posting.tournament_id}
    )
    rows = [
        {
            "entry": line,
            "kind": LEDGER_KIND_LABELS.get(line.posting.kind, line.posting.kind),
            "tournament_id": line.posting.tournament_id,
            "tournament_name": names.get(line.posting.tournament_id),
        }
        for line in lines
    ]
    return render(
        request,
        "web/wallet.html",
        {
            "section": "wallet",
            "balance": wallet.balance if wallet else 0,
            "page": page,
            "rows": rows,
            "previous_url": _page_url(request, page.previous_page_number())
            if page.has_previous()
            else None,
            "next_url": _page_url(request, page.next_page_number()) if page.has_next() else None,
        },
    )


def _page_url(request: HttpRequest, number: int) -> str:
    return f"?page={number}" if number > 1 else request.path
