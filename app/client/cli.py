"""``ticker-dedup``: check or ingest headlines from a shell or a CMS hook.

Exit codes are the interface for scripts: ``check`` exits 0 when the headline is new (verdict ``new`` or
``possible``: the line says which), 1 when it duplicates a known story (verdict ``duplicate``), 2 on any
error (bad input, unreachable service, 4xx/5xx). Under the verdict, the languages the story ran in (all of
them, not only the top matches'); then each match is one line: its language, same story or related, when and
where it ran, its link, the title.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any, Sequence, TextIO

from app.client.client import (
    DEFAULT_URL,
    CheckResult,
    CheckStory,
    HeadlineIn,
    IngestResult,
    Match,
    TickerClient,
    TickerError,
)

EXIT_NEW = 0
EXIT_DUPLICATE = 1
EXIT_ERROR = 2

TITLE_WIDTH = 70


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _clip(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(rows: list[list[str]], header: list[str]) -> str:
    """Left-aligned columns; the last column (a title) is left unpadded."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        cells = [c.ljust(w) for c, w in zip(row, widths)] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def ago(iso: str | None, now: datetime | None = None) -> str | None:
    """ "37 min ago", "3 h ago", "2 days ago" (None when ``iso`` is missing or not a date)."""
    if not iso:
        return None
    try:
        when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    minutes = int(((now or datetime.now(timezone.utc)) - when).total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h ago"
    return f"{minutes // (24 * 60)} days ago"


def _verdict(result: CheckResult) -> str:
    return result.verdict or ("duplicate" if result.duplicate else "new")


def format_match(m: Match, now: datetime | None = None) -> str:
    """One line: language, same story or related, when and where it ran, its link, the title."""
    when = ago(m.published_at or m.received_at, now)
    ran = f"Ran {when}" if when else "Ran"
    if m.source:
        ran += f" on {_clip(m.source, 32)}"
    parts = [f"[{(m.lang or '-').upper()}]", "same story" if m.same_story else "related, not the same story", ran]
    if m.url:
        parts.append(m.url)
    if m.copies > 1:
        parts.append(f"same text x{m.copies}")
    parts.append(f"story {m.story_id}")
    return "  " + " · ".join(parts) + f" · {_clip(m.title, TITLE_WIDTH)}"


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def format_story(story: CheckStory) -> str:
    """ "  Ran in: FR, ES, EN, AR (story 60, 9 headlines, 7 outlets)": every language of the story."""
    langs = story.languages or [v.lang for v in story.versions if v.lang]
    where = ", ".join(lang.upper() for lang in langs) or "-"
    return (
        f"  Ran in: {where} (story {story.id}, {_count(story.size, 'headline')}, {_count(story.n_sources, 'outlet')})"
    )


def format_check(result: CheckResult, now: datetime | None = None) -> str:
    verdict = _verdict(result)
    conf = f"  confidence {result.confidence:.2f}" if result.confidence is not None else ""
    if verdict == "duplicate":
        head = f"DUPLICATE  story {result.story_id}  match={result.match or '-'}{conf}"
    elif verdict == "possible":
        head = f"POSSIBLE  maybe story {result.closest_story_id}{conf}: check before publishing"
    else:
        head = f"NEW  no matching story{conf}"
    head += f"  (score {_score(result.score)}, threshold {_score(result.threshold)})"
    if result.lang:
        head += f"  lang={result.lang}"
    if verdict != "new" and result.story is not None:
        head += "\n" + format_story(result.story)
    if not result.matches:
        return head
    # the story's versions first (by language, in the service's order within one), then the other stories
    same = [m for m in result.matches if m.same_story]
    order = list(dict.fromkeys(m.lang for m in same))
    same.sort(key=lambda m: order.index(m.lang))
    others = [m for m in result.matches if not m.same_story]
    return "\n".join([head, *(format_match(m, now) for m in same + others)])


def format_ingest(results: list[IngestResult], titles: list[str]) -> str:
    dups = [r for r in results if r.duplicate]
    by_match: dict[str, int] = {}
    for r in dups:
        by_match[r.match or "?"] = by_match.get(r.match or "?", 0) + 1
    detail = ", ".join(f"{n} {kind}" for kind, n in sorted(by_match.items()))
    replays = sum(r.idempotent_replay for r in results)
    head = (
        f"{len(results)} headlines: {len(results) - len(dups)} new, {len(dups)} duplicates"
        + (f" ({detail})" if detail else "")
        + (f", {replays} already stored" if replays else "")
    )
    rows = [
        [
            str(r.headline_id),
            "-" if r.story_id is None else str(r.story_id),
            (r.match or "new") if r.duplicate else "new",
            _score(r.score),
            (r.lang or "-").upper(),
            _clip(title, TITLE_WIDTH),
        ]
        for r, title in zip(results, titles)
    ]
    return head + "\n" + _table(rows, ["ID", "STORY", "MATCH", "SCORE", "LANG", "TITLE"])


def read_headlines(stream: TextIO) -> list[HeadlineIn]:
    """Accept ``{"headlines": [...]}``, a JSON array, or JSON Lines; items are objects or plain titles."""
    text = stream.read()
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON or JSON Lines: {exc}") from exc
    if isinstance(data, dict):
        if "headlines" not in data:
            data = [data]  # a single headline object
        else:
            data = data["headlines"]
    if not isinstance(data, list):
        raise ValueError("expected a list of headlines")
    items = [{"title": d} if isinstance(d, str) else d for d in data]
    try:
        return [HeadlineIn.from_any(item) for item in items]
    except TypeError as exc:
        raise ValueError(str(exc)) from exc


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        default=os.environ.get("TICKER_URL") or DEFAULT_URL,
        help="service base URL (env TICKER_URL, default %(default)s)",
    )
    common.add_argument(
        "--api-key",
        default=os.environ.get("TICKER_API_KEY") or None,
        help="API key (env TICKER_API_KEY)",
    )
    common.add_argument("--timeout", type=float, default=5.0, help="seconds per attempt")
    common.add_argument("--retries", type=int, default=3, help="retries on connect errors/5xx/429")
    common.add_argument("--json", action="store_true", help="print JSON instead of a table")

    parser = argparse.ArgumentParser(
        prog="ticker-dedup",
        description="Check headlines against the ticker dedup service, or ingest a batch.",
        epilog="check exits 0 when new, 1 when duplicate, 2 on error.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", parents=[common], help="is this headline already a story?")
    check.add_argument("title")
    check.add_argument("--lang", help="ISO 639-1 language (fr, es, en, ar); detected when omitted")
    ingest = sub.add_parser("ingest", parents=[common], help="post a batch of headlines")
    ingest.add_argument("file", help="JSON file ({'headlines': [...]}, array or JSON Lines), or - for stdin")
    ingest.add_argument("--source", help="source for headlines that carry none")
    return parser


def _run_check(client: TickerClient, args: argparse.Namespace, out: TextIO) -> int:
    result = client.check(args.title, lang=args.lang)
    if args.json:
        out.write(json.dumps(result.to_json(), ensure_ascii=False, indent=2) + "\n")
    else:
        out.write(format_check(result) + "\n")
    return EXIT_DUPLICATE if result.duplicate else EXIT_NEW


def _run_ingest(client: TickerClient, args: argparse.Namespace, out: TextIO) -> int:
    if args.file == "-":
        headlines = read_headlines(sys.stdin)
    else:
        with open(args.file, encoding="utf-8") as fh:
            headlines = read_headlines(fh)
    if args.source:
        headlines = [h if h.source else HeadlineIn(**{**asdict(h), "source": args.source}) for h in headlines]
    results = client.ingest(headlines)
    if args.json:
        payload = {"results": [asdict(r) for r in results]}
        out.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    else:
        out.write(format_ingest(results, [h.title for h in headlines]) + "\n")
    return EXIT_NEW


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    try:
        with TickerClient(args.url, api_key=args.api_key, timeout=args.timeout, retries=args.retries) as client:
            if args.command == "check":
                return _run_check(client, args, sys.stdout)
            return _run_ingest(client, args, sys.stdout)
    except (TickerError, ValueError, OSError) as exc:
        print(f"ticker-dedup: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
