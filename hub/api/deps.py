from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from hub.health import Vitals
from hub.runtime import Hub


def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]


def get_vitals(request: Request) -> Vitals:
    hub: Hub = request.app.state.hub
    return hub.vitals


VitalsDep = Annotated[Vitals, Depends(get_vitals)]

#: The largest integer SQLite keeps (64-bit signed). A larger id names no row, and the
#: database will not even look for it (OverflowError), so it is refused as a 422 instead.
MAX_ID = 2**63 - 1

#: A row id in a URL (an alert, a sample record, a token …).
RowId = Annotated[int, Path(ge=0, le=MAX_ID)]
