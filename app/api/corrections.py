"""``/v1/corrections``: editors merge stories, move headlines, declare stories different, and undo.

Every correction needs the API key (a service without ``TICKER_API_KEY`` takes none); its author is the
``X-Editor`` header when given, else the key's fingerprint.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Callable

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import AfterValidator, BaseModel, Field

from ..corrections import CorrectionError, Corrections
from ..store.base import CorrectionRow
from ..teach import after_correction
from .models import MAX_ID, ErrorOut, _Input, error_responses
from .params import Offset, RowId
from .security import check_key, presented_key, require_read
from .state import AppState, StateDep
from .views import from_row, iso

router = APIRouter(prefix="/v1/corrections", tags=["corrections"])


def _stored_id(value: int) -> int:
    # a ValueError (not a schema bound): ids above int64 are a rule of ours, refused as value_error
    if not 0 <= value <= MAX_ID:
        raise ValueError(f"{value} is not a stored id (0 to {MAX_ID})")
    return value


Id = Annotated[int, AfterValidator(_stored_id)]
#: headlines one move may take (a split of a story re-run all day stays one correction)
MAX_MOVE = 1000
_REFUSED: dict[int | str, dict[str, Any]] = {
    404: {"description": "an id names nothing", "model": ErrorOut},
    409: {"description": "the stories' state forbids it (merged, declared different, undone)", "model": ErrorOut},
    403: {"description": "the service takes no corrections without TICKER_API_KEY", "model": ErrorOut},
}


class MergeIn(_Input):
    story_id: Id = Field(description="The story merged away; its id then answers with `merged_into`.")
    into: Id = Field(description="The story that takes its headlines.")


class MoveIn(_Input):
    headline_ids: list[Id] = Field(min_length=1, max_length=MAX_MOVE)
    to_story_id: Id | None = Field(None, description="The story they join; none: a new story, opened for them.")


class ApartIn(_Input):
    story_ids: list[Id] = Field(min_length=2, max_length=2, description="Two stories that are not the same story.")


class CorrectionOut(BaseModel):
    id: int
    kind: str
    #: what was asked (ids)
    request: dict[str, Any]
    #: for merges and moves: each moved headline's previous story; for a move out, the story opened
    effect: dict[str, Any]
    actor: str | None
    at: str | None
    undone_at: str | None = None
    undone_by: str | None = None


class CorrectionList(BaseModel):
    corrections: list[CorrectionOut]
    total: int
    limit: int
    offset: int


def correction_out(c: CorrectionRow) -> CorrectionOut:
    return from_row(CorrectionOut, c, request=c.payload, effect=c.undo, at=iso(c.at), undone_at=iso(c.undone_at))


def editor(request: Request, state: AppState, x_editor: str | None) -> str:
    """Who corrects: the key is required (and checked), the name is the ``X-Editor`` header or the key's.
    Called in the route, after its input was validated (a bad id gets its 422 whatever the key)."""
    if not state.settings.api_key:
        raise HTTPException(status_code=403, detail="this service takes no corrections: set TICKER_API_KEY")
    check_key(request, state)
    if x_editor and x_editor.strip():
        return x_editor.strip()
    return "key:" + hashlib.sha256((presented_key(request) or "").encode()).hexdigest()[:8]


EditorName = Annotated[
    str | None,
    Header(max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$", description="The editor's name, kept with the correction."),
]


def _service(state: AppState) -> Corrections:
    """The corrections of this app's store (built per request: a restart opens another store)."""
    pipeline = state.pipeline
    return Corrections(state.require_store(), on_change=pipeline.forget_assignments if pipeline is not None else None)


async def _correct(
    request: Request,
    state: AppState,
    x_editor: str | None,
    act: Callable[[Corrections, str], CorrectionRow],
    teach: bool = True,
) -> CorrectionOut:
    """Who corrects, then the correction in a worker thread (then, unless ``teach`` is off, a refit of the
    rule when it is due), its refusal as the HTTP error it stands for."""
    actor, service = editor(request, state, x_editor), _service(state)

    def work() -> CorrectionRow:
        out = act(service, actor)
        if teach and state.pipeline is not None:
            after_correction(state.pipeline)
        return out

    try:
        return correction_out(await run_in_threadpool(work))
    except CorrectionError as exc:
        if exc.status == 422:
            # the shape of every 422 here: a list of errors, each with where, what and which rule
            raise HTTPException(
                status_code=422,
                detail=[{"loc": ["body", exc.field], "msg": exc.message, "type": "value_error.correction"}],
            ) from None
        raise HTTPException(status_code=exc.status, detail=f"{exc.field}: {exc.message}") from None


@router.post(
    "/merge",
    status_code=201,
    response_model=CorrectionOut,
    summary="Merge one story into another",
    responses={**error_responses(400, 401, 413, 415, 503), **_REFUSED},
)
async def merge(state: StateDep, body: MergeIn, request: Request, x_editor: EditorName = None) -> CorrectionOut:
    return await _correct(
        request, state, x_editor, lambda service, actor: service.merge(body.story_id, body.into, actor)
    )


@router.post(
    "/move",
    status_code=201,
    response_model=CorrectionOut,
    summary="Move headlines to another story, or out to a new one (a split)",
    responses={**error_responses(400, 401, 413, 415, 503), **_REFUSED},
)
async def move(state: StateDep, body: MoveIn, request: Request, x_editor: EditorName = None) -> CorrectionOut:
    return await _correct(
        request, state, x_editor, lambda service, actor: service.move(body.headline_ids, body.to_story_id, actor)
    )


@router.post(
    "/apart",
    status_code=201,
    response_model=CorrectionOut,
    summary="Two stories are not the same story: they are never merged",
    responses={**error_responses(400, 401, 413, 415, 503), **_REFUSED},
)
async def apart(state: StateDep, body: ApartIn, request: Request, x_editor: EditorName = None) -> CorrectionOut:
    return await _correct(
        request, state, x_editor, lambda service, actor: service.apart(body.story_ids[0], body.story_ids[1], actor)
    )


@router.post(
    "/{correction_id:digits}/undo",
    response_model=CorrectionOut,
    summary="Undo a correction",
    responses={**error_responses(401, 503), **_REFUSED},
)
async def undo(state: StateDep, correction_id: RowId, request: Request, x_editor: EditorName = None) -> CorrectionOut:
    return await _correct(
        request, state, x_editor, lambda service, actor: service.undo(correction_id, actor), teach=False
    )


@router.get(
    "",
    response_model=CorrectionList,
    summary="Corrections, newest first",
    dependencies=[Depends(require_read)],
    responses=error_responses(401, 503),
)
async def list_corrections(
    state: StateDep, limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Offset = 0
) -> CorrectionList:
    store = state.require_store()
    rows, total = await run_in_threadpool(store.corrections, limit, offset)
    return CorrectionList(corrections=[correction_out(c) for c in rows], total=total, limit=limit, offset=offset)
