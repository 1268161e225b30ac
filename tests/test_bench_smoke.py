"""``python -m bench.run --smoke`` runs every benchmark section on tiny sizes and reports sane JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"


def _bench(module: str, *args: str, out: Path) -> dict:
    """Run ``python -m bench.<module> ARGS --out OUT`` and return the JSON it wrote."""
    proc = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict], Path]:
    if not (DATASETS / "sib200" / "dev.jsonl").exists():
        pytest.skip(f"{DATASETS} is not there (../shared missing)")
    pytest.importorskip("datasketch")
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    objs = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert objs, proc.stdout
    assert objs[-1]["section"] == "summary", "the summary must be the last line"
    return {o["section"]: o for o in objs}, out


def test_every_section_reports_and_the_summary_comes_last(smoke) -> None:
    sections, out = smoke
    assert set(sections) == {"precision", "ingest", "latency", "refit", "peers", "summary"}
    for name, obj in sections.items():
        assert "error" not in obj, obj.get("error")
        assert (out / f"{name}.json").exists()
    summ = sections["summary"]
    assert summ["errors"] == {}
    for key in ("cores", "cpu_model", "python", "numpy", "load_average_start", "load_average_end"):
        assert key in summ["machine"]
    assert summ["targets_total"] == len(summ["targets"]) > 0
    assert summ["targets_met"] == sum(bool(t["met"]) for t in summ["targets"].values())


def test_ingest_figures_are_positive_and_consistent(smoke) -> None:
    ing = smoke[0]["ingest"]
    assert ing["http"] and ing["in_process"] and ing["encoder_alone"]
    for batch, e in ing["http"].items():
        assert e["headlines_per_s"] > 0
        assert 0 < e["encoder_share"] <= 1.0
        ratio = e["headlines_per_s"] / ing["encoder_alone"][batch]["texts_per_s"]
        assert ing["http_over_encoder"][batch] == pytest.approx(ratio, rel=1e-3)
    for e in ing["in_process"].values():
        shares = e["time_share"]
        # the encoder runs beside the main thread: its share overlaps the others, which add up to 1
        assert 0 < shares["encode_overlapping"] <= 1.0
        assert sum(v for k, v in shares.items() if k != "encode_overlapping") == pytest.approx(1.0, abs=0.02)
    assert ing["profile"]["top_self_time"], "the profile names where the time goes"
    beside = ing["encoder_beside_python"]
    assert beside["texts_per_s_alone"] > 0 and beside["texts_per_s_beside_python"] > 0
    assert beside["slowdown"] == pytest.approx(
        beside["texts_per_s_alone"] / beside["texts_per_s_beside_python"], rel=1e-3
    )
    assert smoke[0]["summary"]["figures"]["encoder_beside_python_slowdown"] == pytest.approx(
        beside["slowdown"], rel=1e-3
    )


def test_precision_reports_both_paths_with_the_cpu_flags(smoke, cpu_path) -> None:
    """Encoder texts/s for float32 and int8 on this machine, the CPU's flags, and the int8 vectors'
    agreement with float32 on every shared dataset file."""
    prec = smoke[0]["precision"]
    assert prec["cpu"]["flags"] or prec["cpu"]["machine"] != "x86_64", "an x86-64 CPU lists at least avx2 or none"
    exact = prec["int8_full_range_exact"]
    expected = {"fp32", "int8_w7"} | ({"int8_w8"} if exact else set())
    assert set(prec["texts_per_s"]) == expected and prec["default_variant"] == ("int8_w8" if exact else "fp32")
    for e in prec["texts_per_s"].values():
        assert e["median"] > 0 and len(e["rounds"]) >= 1
    for name in expected - {"fp32"}:
        assert prec["ratios"][f"{name}_over_fp32"] == pytest.approx(
            prec["texts_per_s"][name]["median"] / prec["texts_per_s"]["fp32"]["median"], rel=1e-3
        )
        per_file = prec["cosine_to_fp32"][name]
        assert len(per_file) >= 4 and all(0.99 <= d["min"] <= d["mean"] <= 1.0 + 1e-6 for d in per_file.values())
    judged = [name for name in prec["targets"] if name.startswith("int8_w7_over_fp32")]
    assert bool(judged) == (not exact), "the speed target is judged only where 8-bit weights saturate"
    assert smoke[0]["summary"]["figures"]["encoder_fp32_batch100_per_s"] == prec["texts_per_s"]["fp32"]["median"]
    cpu_path(f"bench precision section: {', '.join(sorted(expected))} measured; default {prec['default_variant']}")


def test_latency_percentiles_are_ordered(smoke) -> None:
    lat = smoke[0]["latency"]
    assert lat["sizes"]
    for e in lat["sizes"].values():
        assert e["stored_headlines"] > 0
        for where in ("http", "http_stdlib_client", "in_process"):
            p = e[where]
            assert 0 < p["p50_ms"] <= p["p95_ms"] <= p["p99_ms"]
            assert p["n_requests"] == lat["reps"] * lat["per_rep"]  # every repetition full, for each client
        assert e["server_memory_after_checks"]["peak_rss_mib"] > 0
    loaded = lat["sizes"][min(lat["sizes"], key=int)]["http_during_ingest"]
    assert loaded["n_requests"] > 0 and 0 < loaded["p50_ms"] <= loaded["p99_ms"]
    assert loaded["ingest_headlines_per_s_meanwhile"] > 0, "the checks ran while the feed was posting"
    assert lat["peak_rss_mib_at_largest"] > 0
    one = lat["sizes"][max(lat["sizes"], key=int)]["one_core"]  # the largest store, the server on one CPU
    for where in ("http", "http_stdlib_client"):
        assert (
            0 < one[where]["p50_ms"] <= one[where]["p99_ms"]
            and one[where]["n_requests"] == lat["reps"] * lat["per_rep"]
        )
    assert "one_core_http_p50_ms<10_at_largest" in lat["targets"]
    rf = lat["sizes"][max(lat["sizes"], key=int)]["refit"]  # one refit at the largest size, checks meanwhile
    assert rf["n_stories"] > 0 and rf["in_child"] is False  # a smoke window is under refit_process_min_stories
    during = rf["checks_during"]
    assert during["n_requests"] >= 1 and 0 < during["p50_ms"] <= during["p99_ms"] <= during["max_ms"]
    n = max(lat["sizes"], key=int)
    assert smoke[0]["summary"]["figures"][f"check_http_during_refit_{n}_p99_ms"] == during["p99_ms"]
    late = lat["sizes"][max(lat["sizes"], key=int)]["in_process"]["ingest"]  # ingest into the largest store
    assert late["headlines"] > 0 and late["headlines_per_s"] > 0 and 0 < late["vector_search_share"] < 1


def test_refit_and_peer_figures(smoke) -> None:
    ref = smoke[0]["refit"]
    assert ref["model_fit"] and ref["service_refit"]
    for e in [*ref["model_fit"].values(), *ref["service_refit"].values()]:
        assert e["seconds"] >= 0 and 0.0 <= e["noise_fraction"] <= 1.0
    peers = smoke[0]["peers"]
    assert set(peers["dedup"]) == {"sib200_en_fr_es_ar", "sib200_en_fr_es_ar_ary", "sib200_all_7_langs", "gnews_fr"}
    for entry in peers["dedup"].values():
        for who in ("ours", "minhash_lsh", "cosine_threshold"):
            for m in ("pairwise_f1", "bcubed_f1"):
                assert 0.0 <= entry[who][m] <= 1.0
        for peer in ("minhash_lsh", "cosine_threshold"):
            if entry[peer]["bcubed_f1"]:
                want = entry["ours"]["bcubed_f1"] / entry[peer]["bcubed_f1"]
                assert entry["ratios"][peer]["bcubed_f1"] == pytest.approx(want, rel=1e-3)
    topics = peers["topics"]
    assert 0.0 <= topics["ours"]["nmi"] <= 1.0 and topics["ours"]["fit_seconds"] >= 0


def test_matcher_compares_the_rule_with_its_baseline_in_one_run(tmp_path: Path) -> None:
    if not (DATASETS / "uci_news" / "dev.jsonl").exists():
        pytest.skip("shared datasets not available")
    res = _bench("matcher", "--reps", "2", "--limit", "300", "--checks", "20", out=tmp_path / "matcher.json")
    assert res["rows"] == 300 and res["checks"] == 20 and res["reps"] == 2
    for name in ("rule", "baseline"):
        assert res["median"][name]["ingest_per_s"] > 0 and 0 < res["median"][name]["check_p50_ms"]
        assert res["median"][name]["check_p50_ms"] <= res["median"][name]["check_p95_ms"]
    ratios = res["ratios"]
    assert ratios["ingest_per_s_rule_over_baseline"] == round(
        res["median"]["rule"]["ingest_per_s"] / res["median"]["baseline"]["ingest_per_s"], 3
    )


def test_corrections_bench_times_each_kind_and_a_refit(tmp_path: Path) -> None:
    res = _bench("corrections", "--stored", "1500", "--corrections", "12", out=tmp_path / "corrections.json")
    assert res["stored"] == 1500 and res["corrections"] == 12
    assert set(res["ms"]) == {"move", "merge", "undo"}
    for figures in res["ms"].values():
        assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["max_ms"]
    assert res["refit"]["corrections"] == 12 and res["refit"]["seconds"] >= 0


def test_clusters_bench_times_the_view_idle_and_while_ingesting(tmp_path: Path) -> None:
    res = _bench("clusters", "--stored", "600", "--requests", "5", out=tmp_path / "clusters.json")
    assert res["stories"] > 0 and res["store_calls_per_view"] > 0
    for key in ("idle_ms", "while_ingesting_ms"):
        assert 0 < res[key]["p50_ms"] <= res[key]["p95_ms"] <= res[key]["max_ms"]
    assert res["ingested_meanwhile_per_s"] >= 0
