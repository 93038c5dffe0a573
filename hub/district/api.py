"""The district's routes: a school hub posts its forwarded batches here, authenticated as its site."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from hub.district.store import DistrictStore
from hub.district.wire import MAX_REQUEST_BYTES, RECORDS_PATH, SITE_PATTERN, BatchStored, ForwardBatch

router = APIRouter()


def _store(request: Request) -> DistrictStore:
    store: DistrictStore = request.app.state.district
    return store


StoreDep = Annotated[DistrictStore, Depends(_store)]


def school(store: StoreDep, x_xiaoan_site: Annotated[str, Header(max_length=64)] = "",
           authorization: Annotated[str, Header(max_length=512)] = "") -> str:
    """The site the request speaks for: its header and its bearer token must match; nothing in the body counts."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token or not SITE_PATTERN.match(x_xiaoan_site) \
            or not store.authenticate(x_xiaoan_site, token):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "site or token not recognised · 学校或令牌无效",
                            headers={"WWW-Authenticate": "Bearer"})
    return x_xiaoan_site


SchoolDep = Annotated[str, Depends(school)]


class Health(BaseModel):
    worker: str
    schema_version: int


#: Content too large (the constant's name differs between Starlette versions).
_TOO_LARGE = 413


async def _body(request: Request) -> bytes:
    """The request's bytes, refused past ``MAX_REQUEST_BYTES`` before more of it is read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        raise HTTPException(_TOO_LARGE, f"body over {MAX_REQUEST_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise HTTPException(_TOO_LARGE, f"body over {MAX_REQUEST_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(RECORDS_PATH, response_model=BatchStored,
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": ForwardBatch.model_json_schema()}}}})
async def post_records(request: Request, site: SchoolDep, store: StoreDep) -> BatchStored:
    """Store a school's batch; the 200 is the confirmation, sent only after the commit.

    The body is read only after the school is authenticated (a body parameter would be
    read first, by anyone), and only up to ``MAX_REQUEST_BYTES``.
    """
    try:
        batch = ForwardBatch.model_validate_json(await _body(request))
    except ValidationError as error:
        raise RequestValidationError(error.errors(include_url=False, include_input=False)) from None
    stored = await run_in_threadpool(store.store, site, batch.records)
    return BatchStored(stored=stored.stored, duplicates=stored.duplicates)


@router.get("/district/v1/health", response_model=Health)
def health(store: StoreDep) -> Health:
    return Health(worker=store.worker, schema_version=store.schema_version)
