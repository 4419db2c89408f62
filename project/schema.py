"""OpenAPI schema additions that drf-spectacular cannot infer from the views.

Every error answer has one shape (``project.errors``): ``{code, detail, fields?}``. Rather
than list each status on each operation, every operation gets it as its ``default``
response (OpenAPI: "any status not listed"), next to the success it documents.
"""

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every 4xx/5xx answer: a machine code (API.md lists them), a sentence "
    "for people and, for invalid input, the offending fields.",
    "properties": {
        "code": {"type": "string", "example": "tournament_full"},
        "detail": {"type": "string"},
        "fields": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["code", "detail"],
}


def error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: the Error component as every default response."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"$ref": "#/components/schemas/Error"}
    for path in result.get("paths", {}).values():
        for operation in path.values():
            operation.setdefault("responses", {}).setdefault(
                "default",
                {
                    "description": "An error: see `code`.",
                    "content": {"application/json": {"schema": reference}},
                },
            )
    return result
