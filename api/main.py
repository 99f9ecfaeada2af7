"""The FastAPI app of the model service: `uvicorn api.main:app`."""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from creditops.predictions import InvalidCursor
from creditops.settings import Settings, get_settings

from .deps import ServingState
from .limits import BodySizeLimitMiddleware
from .observability import MetricsMiddleware
from .routes import monitoring, outcomes, predictions, service
from .schemas import InvalidRows

# The list fields of request bodies whose items are rows.
BATCHES = ("applicants", "outcomes")


def _describe_error(error: dict) -> dict:
    """`("body", "applicants", 3, "Age")` -> row 3, field Age."""
    location = list(error["loc"])
    if location and location[0] in ("body", "query", "header", "path"):
        location = location[1:]
    row = None
    if len(location) >= 2 and location[0] in BATCHES and isinstance(location[1], int):
        row, location = location[1], location[2:]
    field = ".".join(str(part) for part in location) or None
    message = error["msg"]
    if error["type"] == "json_invalid":
        field, message = None, f"body is not valid JSON: {error.get('ctx', {}).get('error', '')}"
    return {"row": row, "field": field, "message": message}


def _summary(errors: list[dict]) -> str:
    def where(e: dict) -> str:
        parts = ([f"row {e['row']}"] if e["row"] is not None else []) + (
            [f"field {e['field']}"] if e["field"] else []
        )
        return ", ".join(parts) or "request"

    shown = "; ".join(f"{where(e)}: {e['message']}" for e in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return f"{len(errors)} invalid value(s): {shown}{more}"


def _unprocessable(errors: list[dict]) -> JSONResponse:
    return JSONResponse({"detail": _summary(errors), "errors": errors}, status_code=422)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    return _unprocessable([_describe_error(e) for e in exc.errors()])


async def _invalid_rows(request: Request, exc: InvalidRows) -> JSONResponse:
    return _unprocessable(exc.errors)


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    return JSONResponse(
        {"detail": exc.detail, "errors": []}, status_code=exc.status_code, headers=exc.headers
    )


async def _invalid_cursor(request: Request, exc: InvalidCursor) -> JSONResponse:
    return _unprocessable([{"row": None, "field": "cursor", "message": str(exc)}])


def create_app(settings: Settings | None = None) -> FastAPI:
    state = ServingState(settings or get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.connect()
        state.watch()
        # Move everything loaded so far (libraries, model) out of the collector's
        # reach: full collections otherwise stall every request for ~150 ms.
        gc.collect()
        gc.freeze()
        yield
        state.close()

    app = FastAPI(
        title="creditops model service",
        description="Scores loan applications (will the loan end `good` or `bad`?) and "
        "stores every prediction with the features it used.",
        version="1",
        lifespan=lifespan,
    )
    app.state.serving = state
    app.include_router(predictions.router)
    app.include_router(service.router)
    app.include_router(outcomes.router)
    app.include_router(monitoring.router)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(InvalidCursor, _invalid_cursor)
    app.add_exception_handler(InvalidRows, _invalid_rows)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=state.settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)
    return app


app = create_app()
