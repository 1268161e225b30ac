"""Property-based fuzzing of every endpoint from the app's own OpenAPI schema (schemathesis v4, in-process ASGI).

Each operation gets a bounded number of generated requests, valid and invalid, through the real app
(lifespan included). Every response must be a status the schema documents, never a 5xx, with a body
and content type that conform to the schema; invalid requests must be refused.
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

KEY = "fuzz-key-3f9c1a"
#: generated requests per operation; the whole file stays well under a minute on 2 cores
MAX_EXAMPLES = 30

# Schema-valid requests may still be refused with 422 for rules a JSON schema cannot state (a title of
# blanks, a NUL, a published_at in the future, a capture that is all boilerplate). The check below makes
# sure such a 422 comes from those rules (our "value_error" items), not from the schema lying.
CONFIG = {
    "checks": {
        "positive_data_acceptance": {"expected-statuses": ["2xx", "3xx", "401", "404", "409", "422", "429"]},
    },
}


def _schema():
    # The schema depends neither on settings nor on start-up, so an app that is never started describes it.
    # (schemathesis.pytest.from_fixture would read it from the running app, but it breaks on pytest 9.)
    from app.config import load_settings
    from app.main import create_app

    spec = create_app(load_settings(env={})).openapi()
    return schemathesis.openapi.from_dict(spec, config=schemathesis.Config.from_dict(CONFIG))


schema = _schema()


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory, encoder):
    from app.config import load_settings
    from app.main import create_app

    s = load_settings(
        env={},
        data_dir=tmp_path_factory.mktemp("fuzz") / "data",
        api_key=KEY,
        # small limits so that the fuzzer reaches them; a generous rate so that 429 stays rare
        max_batch_size=20,
        max_title_chars=300,
        max_body_bytes=200_000,
        dedup_rate_per_minute=100_000,
        refit_every_seconds=3600,
    )
    # schemathesis runs the ASGI lifespan itself, once per operation, so start-up and shut-down run each time
    app = create_app(s, encoder=encoder, wait_ready=True)
    yield app
    codes: dict[str, float] = {}
    for (name, labels), n in app.state.ticker.metrics.counters.items():
        if name == "ticker_http_responses_total":
            code = dict(labels)["code"]
            codes[code] = codes.get(code, 0) + n
    print(f"\nfuzz: {sum(codes.values()):g} requests, by status {dict(sorted(codes.items()))}")


def semantic_rejection_only(ctx, response, case) -> None:
    """A 422 to a schema-valid request must name the semantic rule it broke, field by field."""
    meta = case.meta
    if response.status_code != 422 or meta is None or not meta.generation.mode.is_positive:
        return None
    detail = response.json()["detail"]
    kinds = [d["type"] for d in detail]
    # "value_error" is a rule of ours (a validator's ValueError, or "value_error.<rule>" from a route); pydantic's
    # own types ("string_too_long", "missing", ...) would mean the schema promised what the model refuses.
    assert kinds and all(k.split(".")[0] == "value_error" for k in kinds), f"schema-valid request refused: {detail}"
    assert all(d["loc"] and d["msg"] for d in detail), detail
    return None


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
def test_every_response_is_documented_and_never_5xx(case, fuzz_app):
    case.call_and_validate(
        app=fuzz_app, headers={"Authorization": f"Bearer {KEY}"}, additional_checks=[semantic_rejection_only]
    )
