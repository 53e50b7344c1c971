"""Errors as RFC 9457 problem details.

Domain errors carry a stable `code`; the problem `type` is `/problems/<code>`,
the status comes from the table below, and the error's `where` (account,
posting, field, serial…) is added as extension members.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ledger import errors

STATUS = {
    errors.NotFound: 404,
    errors.Forbidden: 403,
    errors.Duplicate: 409,
    errors.InsufficientBalance: 409,
    errors.SerialNotAtSource: 409,
    errors.AlreadyReversed: 409,
    errors.BackDatedTake: 409,
    errors.IdempotencyKeyTaken: 409,
    errors.OutOfBounds: 422,
    errors.IdempotencyConflict: 422,
    errors.UnknownAccount: 422,
    errors.InvalidEntry: 422,
    errors.SelfLockout: 409,
    errors.TooManyAttempts: 429,
}

MEDIA_TYPE = "application/problem+json"


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": f"/problems/{code}", "title": title, "status": status, "detail": detail}
    body.update(jsonable_encoder(extra))
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


def _status_of(exc: errors.LedgerError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.LedgerError)
    async def _ledger_error(request: Request, exc: errors.LedgerError):
        response = problem(_status_of(exc), exc.code, exc.title, exc.detail, **exc.where)
        if isinstance(exc, errors.TooManyAttempts):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError):
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        first = problems[0] if problems else {"field": "", "message": "invalid"}
        return problem(
            422,
            "invalid-request",
            "The request is not valid",
            f"{first['field']}: {first['message']}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
            field=first["field"],
            errors=problems,
        )

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):
        code = {401: "unauthorized", 403: "forbidden", 404: "not-found", 405: "method-not-allowed"}
        response = problem(
            exc.status_code,
            code.get(exc.status_code, "http-error"),
            str(exc.detail) if exc.status_code != 404 else "Not found",
            str(exc.detail),
        )
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response
