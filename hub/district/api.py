"""The district's routes: a school hub posts its forwarded batches here, authenticated as its site."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request, status
from pydantic import BaseModel

from hub.district.store import DistrictStore
from hub.district.wire import RECORDS_PATH, SITE_PATTERN, BatchStored, ForwardBatch

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


@router.post(RECORDS_PATH, response_model=BatchStored)
def post_records(batch: ForwardBatch, site: SchoolDep, store: StoreDep) -> BatchStored:
    """Store a school's batch; the 200 is the confirmation, sent only after the commit."""
    stored = store.store(site, batch.records)
    return BatchStored(stored=stored.stored, duplicates=stored.duplicates)


@router.get("/district/v1/health", response_model=Health)
def health(store: StoreDep) -> Health:
    return Health(worker=store.worker, schema_version=store.schema_version)
