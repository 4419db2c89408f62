"""Pages for people, one module per area of pages (``tournaments``: the list at ``/``).
Each view parses the request, calls one service or selector and renders a template of
``web/templates/web/``."""
