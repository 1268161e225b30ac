"""Path and query parameters the routers share, bounded so that no value reaches a store as a 500.

Every integer parameter is bounded within int64: SQLite and PostgreSQL raise on a larger one, and a path
of 4,301 digits made Starlette's own ``int`` convertor raise inside routing, before any validation.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from starlette.convertors import Convertor, register_url_convertor

from .models import MAX_ID

#: a page's offset: deeper pages are not worth an OFFSET scan
MAX_OFFSET = 1_000_000

#: a stored headline's, story's or topic's id
RowId = Annotated[int, Path(ge=0, le=MAX_ID, description="A stored id (a 64-bit integer, 0 or more).")]
#: how many rows to skip, for paging
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip, for paging.")]
#: the reader's language code for a topics view (``clusters.reader_lang`` falls back on Accept-Language)
ReaderLang = Annotated[
    str | None,
    Query(
        min_length=2,
        max_length=8,
        pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,4})?$",
        description="The reader's language: keywords in it come first (default: the first language of "
        "Accept-Language).",
    ),
]


class DigitsConvertor(Convertor[str]):
    """``{name:digits}``: matches ASCII digits only, like ``:int``, but leaves them as text, so that FastAPI
    checks them against the parameter's type and bounds (a 422) instead of ``int()`` raising in routing."""

    regex = "[0-9]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return str(value)


register_url_convertor("digits", DigitsConvertor())
