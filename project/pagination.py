from rest_framework.pagination import CursorPagination
from rest_framework.response import Response


class NewestFirstPagination(CursorPagination):
    """``{"results": [...], "next": url-or-null}``, newest first, ``?limit=`` up to 200.

    A cursor (not an offset) so that rows added while a client pages do not shift pages.
    """

    ordering = "-id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

    def get_paginated_response(self, data):
        return Response({"results": data, "next": self.get_next_link()})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "nullable": True, "format": "uri"},
            },
        }
