"""The OpenAPI document, told truthfully: every problem an operation can answer.

FastAPI documents a 422 `HTTPValidationError` that this API never sends and
none of the other problems it does send. `describe(app)` post-processes the
generated document once, by rules, so a route added later gets the same
without any work of its own:

- every operation: 422 (an invalid request; a NUL byte anywhere, even in the
  query string of `/health`);
- every authenticated operation: 401 (not logged in) and 403 (the role may not);
- every operation with a path parameter: 404;
- every authenticated operation with a request body: 404 (it names a holder,
  a commodity, an entry that may not exist), 409 and 413; every operation with
  a request body: 413;
- whatever a route declares itself in `responses=` (the login's 429);

each as `application/problem+json` with the `Problem` schema. Request bodies
that a route reads itself (`openapi_extra`) get their schemas added.
"""

from __future__ import annotations

from typing import Any

from fastapi import Body, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from api.problems import MEDIA_TYPE, Problem

REF = "#/components/schemas/{model}"

DESCRIPTIONS = {
    400: "Bad request",
    401: "Not logged in, or the token has expired or is not valid",
    403: "The caller's role may not do this",
    404: "No such resource, or one the request names (or one a service point may not see)",
    409: "Conflicts with the books: not enough on an account, a serial held elsewhere, "
    "already reversed, already exists",
    413: "The request body is larger than the limit (AFTERSALES_MAX_BODY_BYTES)",
    422: "The request is not valid: the problem names the field",
    429: "Too many attempts: retry after the Retry-After seconds",
}

_BODY_METHODS = {"post", "put", "patch"}


def problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {MEDIA_TYPE: {"schema": {"$ref": REF.format(model="Problem")}}},
    }


_SCHEMAS_PATH = "/__schemas__/{}"


def _schema_routes(models: tuple[type, ...]) -> list[APIRoute]:
    """Throwaway routes taking each model as a body, so that FastAPI itself
    generates the models' schemas exactly as it would for a declared body;
    their paths are dropped from the document again."""
    routes = []
    for i, model in enumerate(models):

        def endpoint(body: Any = Body()) -> None:  # pragma: no cover - never served
            return None

        endpoint.__annotations__["body"] = model
        routes.append(APIRoute(_SCHEMAS_PATH.format(i), endpoint, methods=["POST"]))
    return routes


def statuses_of(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    found = {422}
    authenticated = bool(operation.get("security"))
    has_body = "requestBody" in operation or method in _BODY_METHODS
    if authenticated:
        found |= {401, 403}
    if "{" in path:
        found.add(404)
    if has_body:
        found.add(413)
        if authenticated:
            found |= {404, 409}  # a body names things that may not exist
    return found


def truthful(document: dict[str, Any]) -> dict[str, Any]:
    """The document with problem responses by rule (see the module's doc)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for path in [p for p in document.get("paths", {}) if p.startswith(_SCHEMAS_PATH[:-2])]:
        del document["paths"][path]
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete", "head", "options"}:
                continue
            responses = operation.setdefault("responses", {})
            for status in statuses_of(path, method, operation):
                responses.setdefault(str(status), {"description": DESCRIPTIONS[status]})
            for status, response in responses.items():
                if status.startswith("4"):
                    description = response.get("description")
                    if not description or description == "Validation Error":
                        description = DESCRIPTIONS.get(int(status), "Client error")
                    responses[status] = {**response, **problem_response(description)}
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def describe(app: FastAPI, extra_schemas: tuple[type, ...] = ()) -> None:
    """Make `app.openapi()` return the truthful document, built once;
    `extra_schemas` are models that routes read themselves (`openapi_extra`)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=[*app.routes, *_schema_routes((Problem, *extra_schemas))],
                tags=app.openapi_tags,
                servers=app.servers,
            )
            app.openapi_schema = truthful(document)
        return app.openapi_schema

    app.openapi = openapi  # the documented way to customise FastAPI's document
