"""Pages for people, one module per area: ``tournaments`` (list, detail, join, leave),
``accounts`` (sign up, sign in, wallet), ``teams``, ``matches`` (my matches, match room),
``manage`` (the organizer's console). Each view parses the request, calls one service or
selector and renders a template of ``web/templates/web/``."""
