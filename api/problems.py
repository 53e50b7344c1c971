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
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from ledger import errors

STATUS = {
    errors.NotFound: 404,
    errors.Forbidden: 403,
    errors.BeyondApprovalLimit: 403,
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
    errors.InvalidInput: 422,
    errors.SelfLockout: 409,
    errors.CreditLimitExceeded: 409,
    errors.InvalidState: 409,
    errors.TooManyAttempts: 429,
}

MEDIA_TYPE = "application/problem+json"

# Problems the framework raises (HTTPException), by status: (type code, title).
HTTP_PROBLEMS = {
    401: ("unauthorized", "Not logged in"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("request-too-large", "Request too large"),
    429: ("too-many-requests", "Too many attempts"),
}


class FieldProblem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem detail: every 4xx answer of this API."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(examples=["/problems/insufficient-balance"])
    title: str = Field(description="Fixed per type")
    status: int
    detail: str = Field(description="What went wrong here, and what to do")
    field: str | None = Field(default=None, description="The offending request field")
    account: str | None = Field(default=None, description="The offending account code")
    posting: int | None = Field(default=None, description="Position of the offending posting")
    entry: int | None = Field(default=None, description="Position of the entry in a batch")
    serial: str | None = None
    errors: list[FieldProblem] | None = Field(
        default=None, description="Every invalid field, for an invalid request"
    )


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
        if exc.status_code == 400:  # FastAPI could not parse the body: invalid, as elsewhere
            detail = f"body: {exc.detail}"
            return problem(
                422,
                "invalid-request",
                "The request is not valid",
                detail,
                field="body",
                errors=[{"field": "body", "message": str(exc.detail)}],
            )
        code, title = HTTP_PROBLEMS.get(exc.status_code, ("http-error", "HTTP error"))
        response = problem(exc.status_code, code, title, str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response
