"""Photos of a corrective action: uploaded with the action, shown with the alarm."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel

from hub.alerts.kinds import AlertState
from hub.api.deps import AlertsDep, PhotoRootDep, RowId, StateDep
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.auth.users import User
from hub.errors import Conflict, NotFound
from hub.web import photos

router = APIRouter(prefix="/api", tags=["alerts"])

#: Alerts whose record is closed to attachments: verified (checked and signed off) or cancelled (never fired).
CLOSED_FOR_PHOTOS = frozenset({AlertState.VERIFIED, AlertState.CANCELLED})


class PhotoPublic(BaseModel):
    name: str
    url: str


class PhotoUploaded(BaseModel):
    alert_id: int
    name: str
    url: str


@router.post("/alerts/{alert_id}/photos", status_code=201)
async def upload_photo(store: StateDep, engine: AlertsDep, root: PhotoRootDep,
                       user: Annotated[User, Depends(require(Permission.ALERT_CLOSE))],
                       alert_id: RowId, photo: UploadFile) -> PhotoUploaded:
    """Keep one JPEG, PNG or WebP photo (at most 8 MB) with the alarm; a refused upload is a 422 (413: too large).

    A verified (or cancelled) alarm, or one of a period whose report is signed, is closed: a photo for
    it is a 409 (a note can still be added).
    """
    found = store.alert(alert_id)
    if found is None:
        raise NotFound("alert_id", f"no alert {alert_id}")
    if found.state in CLOSED_FOR_PHOTOS:
        # A verified alarm is what the safety officer checked; a photo added later would change the evidence.
        done = "验收" if found.state == AlertState.VERIFIED else "取消"
        raise Conflict("alert_id", f"alert {alert_id} is {found.state}: nothing more can be attached"
                                   f" · 该报警已{done}，不能再添加照片")
    engine.refuse_if_signed(found, "photo")
    data = await photo.read(photos.MAX_BYTES + 1)
    name = photos.save(root, alert_id, data)
    store.append_audit(time.time(), user.username, "alert.photo", f"alert/{alert_id}",
                       {"photo": name, "bytes": len(data)})
    return PhotoUploaded(alert_id=alert_id, name=name, url=f"/api/alerts/{alert_id}/photos/{name}")


@router.get("/alerts/{alert_id}/photos")
def list_photos(root: PhotoRootDep, _user: Annotated[User, Depends(require(Permission.VIEW))],
                alert_id: RowId) -> list[PhotoPublic]:
    return [PhotoPublic(name=name, url=f"/api/alerts/{alert_id}/photos/{name}")
            for name in photos.listing(root, alert_id)]


@router.get("/alerts/{alert_id}/photos/{name}", response_class=FileResponse)
def get_photo(root: PhotoRootDep, _user: Annotated[User, Depends(require(Permission.VIEW))], alert_id: RowId,
              name: str) -> FileResponse:
    path = photos.path_of(root, alert_id, name)
    if path is None:
        raise NotFound("name", f"no photo {name!r}")
    return FileResponse(path, media_type=photos.MEDIA_TYPES[path.suffix[1:]],
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=86400"})
