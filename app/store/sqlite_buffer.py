"""The SQLite writer's memory: the open transaction's buffered writes and the story aggregates it keeps."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from embeddings import unit_vector

from .base import dumps

#: stories whose aggregates the writer keeps in memory between transactions (~2.3 KB each)
STORY_CACHE_SIZE = 10_000


@dataclass(slots=True)
class _StoryState:
    """A story's aggregates as ``add_to_story`` keeps them up to date (the columns it writes)."""

    canon_id: int | None
    canon_ts: float | None
    first: float
    last: float
    size: int
    langs: list[str]
    sources: list[str]
    csum: np.ndarray | None
    updated_at: float
    new: bool
    #: the unit centroid, worked out when first asked for after ``csum`` last changed
    unit: np.ndarray | None = None

    def copy(self) -> "_StoryState":
        return _StoryState(
            self.canon_id,
            self.canon_ts,
            self.first,
            self.last,
            self.size,
            list(self.langs),
            list(self.sources),
            self.csum,
            self.updated_at,
            self.new,
            self.unit,
        )

    def unit_centroid(self) -> np.ndarray:
        if self.unit is None:
            assert self.csum is not None
            self.unit = unit_vector(self.csum)
        return self.unit

    def params(self, story_id: int) -> tuple:
        csum = None if self.csum is None else self.csum.astype(np.float32).tobytes()
        return (
            self.canon_id,
            self.canon_ts,
            self.first,
            self.last,
            self.size,
            dumps(self.langs),
            dumps(self.sources),
            csum,
            self.updated_at,
            story_id,
        )


@dataclass
class _Pending:
    """The open transaction's story and headline writes, not yet sent to SQLite.

    An ingest batch used to cost ~4 statements per headline (INSERT headline, INSERT story, SELECT and
    UPDATE story); they are kept here, with ids given out the way SQLite would (max + 1), and sent by
    ``executemany`` when the transaction commits, or before any query that could read them.
    """

    next_headline: int
    next_story: int
    headlines: list[tuple] = field(default_factory=list)
    by_hash: dict[str, list[tuple]] = field(default_factory=dict)
    stories: dict[int, _StoryState] = field(default_factory=dict)
    #: stories this transaction changed and already sent (what the file holds for them now)
    sent: dict[int, _StoryState] = field(default_factory=dict)
    #: rows for the vector index, added together before the next search or at commit (one add of a
    #: step's rows costs what one add of a single row did, ~40 us)
    index_rows: list[tuple[int, float, np.ndarray]] = field(default_factory=list)
