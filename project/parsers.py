"""Request body parsers (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"])."""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, with too deeply nested input answered as malformed JSON.

    ``json.load`` raises ``RecursionError`` (not the ``ValueError`` DRF converts) for input
    such as ``[[[[...]]]]`` nested beyond the interpreter's recursion limit; left alone it
    would be a 500. No valid request body of this API nests more than a few levels.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the document is nested too deeply.") from exc
