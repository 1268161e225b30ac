from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, StringConstraints

from ..store.base import MAX_SEARCH_CHARS, MAX_SEARCH_WORDS
from ..times import to_epoch
from .models import MAX_ID, IsoDateTime, StorableStr, StoryDetailOut, StoryList, error_responses, storable
from .params import Offset, RowId
from .security import require_read
from .state import StateDep
from .views import stories_out, story_detail

#: a story's headlines per page: a wire story re-run all day can hold thousands (one of 8,000 took
#: 230-450 ms to serve whole; its first page of 200 now takes 6 ms)
STORY_PAGE_DEFAULT = 200
STORY_PAGE_MAX = 1000

router = APIRouter(prefix="/v1/stories", tags=["stories"], dependencies=[Depends(require_read)])


def _few_words(value: str) -> str:
    words = len(value.split())
    if words > MAX_SEARCH_WORDS:
        raise ValueError(f"has {words} words; a search takes at most {MAX_SEARCH_WORDS}")
    return value


#: a search: at most MAX_SEARCH_CHARS characters and MAX_SEARCH_WORDS words, storable text
SearchText = Annotated[
    str, StringConstraints(max_length=MAX_SEARCH_CHARS), AfterValidator(storable), AfterValidator(_few_words)
]


@router.get("", response_model=StoryList, summary="Stories, newest first", responses=error_responses(401, 503))
async def list_stories(
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
    lang: Annotated[
        StorableStr | None, Query(max_length=8, description="Only stories with a headline in this language.")
    ] = None,
    source: Annotated[StorableStr | None, Query(max_length=200)] = None,
    since: Annotated[IsoDateTime | None, Query(description="Only stories seen at or after this time.")] = None,
    until: Annotated[IsoDateTime | None, Query(description="Only stories first seen at or before this time.")] = None,
    q: Annotated[
        SearchText | None,
        Query(
            description=f"Only stories one of whose headlines (any language) holds every word of this, ignoring case, "
            f"accents and Arabic short vowels and tatweel: \"cote d'ivoire\" finds \"Côte d’Ivoire\", \"sulta\" finds "
            f"\"Sultana\" (words are substrings). At most {MAX_SEARCH_CHARS} characters and {MAX_SEARCH_WORDS} words "
            f"(more: 422); punctuation around a word is dropped; % and _ are plain characters.",
        ),
    ] = None,
    # declared an int (its schema an integer with its bounds, as every id parameter's); absent, it is None
    topic_id: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_ID,
            description="Only the stories of this topic (the clusters view's `n_stories` of them, "
            "in the same order); an unknown topic has none.",
        ),
    ] = None,  # type: ignore[assignment]
    unassigned: Annotated[
        bool, Query(description="Only stories in no topic (`unassigned_total` of the clusters view).")
    ] = False,
) -> StoryList:
    store = state.require_store()

    def work() -> StoryList:
        rows, total = store.list_stories(
            limit=limit,
            offset=offset,
            lang=lang,
            source=source,
            since=to_epoch(since),
            until=to_epoch(until),
            topic_id=topic_id,
            unassigned=unassigned,
            q=q,
        )
        return StoryList(stories=stories_out(store, rows), total=total, limit=limit, offset=offset)

    return await run_in_threadpool(work)


@router.get(
    "/{story_id}",
    response_model=StoryDetailOut,
    summary="One story with a page of its headlines",
    responses={
        **error_responses(401, 503, not_found="no such story"),
        307: {"description": "an editor merged this story: `merged_into` (and Location) name where"},
    },
)
async def get_story(
    state: StateDep,
    story_id: RowId,
    limit: Annotated[
        int, Query(ge=1, le=STORY_PAGE_MAX, description="Headlines per page, oldest first.")
    ] = STORY_PAGE_DEFAULT,
    offset: Offset = 0,
) -> StoryDetailOut | JSONResponse:
    store = state.require_store()
    story = await run_in_threadpool(store.story, story_id)
    if story is not None and story.size == 0:
        merged = await run_in_threadpool(store.merged_into, [story_id])
        if story_id in merged:
            # an editor merged it: its id keeps answering, with where its headlines went
            target = merged[story_id]
            return JSONResponse(
                status_code=307,
                headers={"Location": f"/v1/stories/{target}"},
                content={"detail": f"story {story_id} was merged into story {target}", "merged_into": target},
            )
    if story is None or story.size == 0:
        raise HTTPException(status_code=404, detail=f"story {story_id} does not exist")
    return await run_in_threadpool(story_detail, store, story, limit, offset)
