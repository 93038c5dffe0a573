"""Photos of a corrective action: uploaded with the action, shown with the alarm."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, UploadFile
from fastapi.responses import FileResponse

from hub.api.deps import HubDep, RowId
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.auth.users import User
from hub.web import photos

router = APIRouter(prefix="/api", tags=["alerts"])


@router.post("/alerts/{alert_id}/photos", status_code=201)
async def upload_photo(hub: HubDep, user: Annotated[User, Depends(require(Permission.ALERT_CLOSE))],
                       alert_id: RowId, photo: UploadFile) -> dict[str, Any]:
    """Keep one JPEG, PNG or WebP photo (at most 8 MB) with the alarm."""
    if hub.state.alert(alert_id) is None:
        raise HTTPException(status_code=404, detail={"field": "alert_id", "message": f"no alert {alert_id}"})
    data = await photo.read(photos.MAX_BYTES + 1)
    try:
        name = photos.save(photos.directory(hub.settings.db_dir), alert_id, data)
    except photos.PhotoError as error:
        status = 413 if len(data) > photos.MAX_BYTES else 422
        raise HTTPException(status_code=status, detail={"field": "photo", "message": str(error)}) from None
    hub.state.append_audit(time.time(), user.username, "alert.photo", f"alert/{alert_id}",
                           {"photo": name, "bytes": len(data)})
    return {"alert_id": alert_id, "name": name, "url": f"/api/alerts/{alert_id}/photos/{name}"}


@router.get("/alerts/{alert_id}/photos")
def list_photos(hub: HubDep, _user: Annotated[User, Depends(require(Permission.VIEW))],
                alert_id: RowId) -> list[dict[str, Any]]:
    root = photos.directory(hub.settings.db_dir)
    return [{"name": name, "url": f"/api/alerts/{alert_id}/photos/{name}"}
            for name in photos.listing(root, alert_id)]


@router.get("/alerts/{alert_id}/photos/{name}", response_class=FileResponse)
def get_photo(hub: HubDep, _user: Annotated[User, Depends(require(Permission.VIEW))], alert_id: RowId,
              name: str) -> FileResponse:
    path = photos.path_of(photos.directory(hub.settings.db_dir), alert_id, name)
    if path is None:
        raise HTTPException(status_code=404, detail={"field": "name", "message": f"no photo {name!r}"})
    return FileResponse(path, media_type=photos.MEDIA_TYPES[path.suffix[1:]],
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=86400"})
