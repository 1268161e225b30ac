"""``python -m bench.report [DIR]``: the results of a run (``bench/results`` by default) as Markdown
tables, the ones docs/benchmarks.md shows. Reads only the JSON files; runs nothing."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .run import RESULTS


def _load(d: Path, name: str) -> dict[str, Any]:
    p = d / f"{name}.json"
    return json.loads(p.read_text(encoding="utf-8")) if p.exists() else {}


def _f(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}f}" if abs(x) < 10 else f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.1f}"
    return str(x)


def _ok(met: Any) -> str:
    return "yes" if met else "**no**"


def machine(s: dict[str, Any]) -> list[str]:
    m = s.get("machine", {})
    v = m.get("versions", {})
    enc = m.get("encoder", {})
    return [
        f"- {m.get('cores')} cores, {m.get('cpu_model')}, {m.get('memory_gb')} GiB, {m.get('os')}",
        f"- Python {m.get('python')}, numpy {m.get('numpy')}, faiss-cpu {v.get('faiss-cpu')}, "
        f"hdbscan {v.get('hdbscan')}, uvicorn {v.get('uvicorn')}, datasketch {v.get('datasketch')}, "
        f"bertopic {v.get('bertopic')}, umap-learn {v.get('umap-learn')}",
        f"- encoder {enc.get('name')} ({enc.get('dim')}-d, {enc.get('threads')} thread, batch {enc.get('batch_size')})",
        f"- load average at start {m.get('load_average_start')}, at end {m.get('load_average_end')} "
        f"(1, 5, 15 min); whole run {_f(s.get('seconds'), 0)} s",
    ]


def ingest(r: dict[str, Any]) -> list[str]:
    if not r or "error" in r:
        return [f"ingest: {r.get('error', 'not run')}"]
    rows = ["| batch | HTTP headlines/s | encoder share of HTTP time | in-process headlines/s | encoder alone texts/s "
            "| HTTP / encoder |", "|---|---|---|---|---|---|"]
    for b in r["http"]:
        rows.append(f"| {b} | {_f(r['http'][b]['headlines_per_s'])} | {_f(r['http'][b]['encoder_share'], 2)} "
                    f"| {_f(r['in_process'][b]['headlines_per_s'])} | {_f(r['encoder_alone'][b]['texts_per_s'])} "
                    f"| {_f(r['http_over_encoder'][b], 2)} |")
    rows += ["", "In-process time by phase (share of wall time):", "",
             "| batch | " + " | ".join(next(iter(r["in_process"].values()))["time_share"]) + " |",
             "|---|" + "---|" * len(next(iter(r["in_process"].values()))["time_share"])]
    for b, e in r["in_process"].items():
        rows.append(f"| {b} | " + " | ".join(_f(v, 2) for v in e["time_share"].values()) + " |")
    return rows


def latency(r: dict[str, Any]) -> list[str]:
    if not r or "error" in r:
        return [f"latency: {r.get('error', 'not run')}"]
    rows = ["| stored headlines (stories) | HTTP p50 / p95 / p99 ms | in-process p50 / p95 / p99 ms "
            "| server RSS after checks / peak MiB |", "|---|---|---|---|"]
    for e in r["sizes"].values():
        h, i, m = e["http"], e["in_process"], e["server_memory_after_checks"]
        rows.append(f"| {e['stored_headlines']:,} ({e['stored_stories']:,}) | {_f(h['p50_ms'])} / {_f(h['p95_ms'])} / "
                    f"{_f(h['p99_ms'])} | {_f(i['p50_ms'])} / {_f(i['p95_ms'])} / {_f(i['p99_ms'])} "
                    f"| {_f(m['rss_mib'])} / {_f(m['peak_rss_mib'])} |")
    top = r["sizes"][max(r["sizes"], key=int)]
    if "refit" in top:
        rf, mem = top["refit"], top.get("server_memory_after_refit", {})
        rows += ["", f"One refit in the server at {top['stored_headlines']:,} headlines: "
                 f"{rf.get('n_stories')} stories → {rf.get('n_topics')} topics in {_f(rf.get('seconds'))} s"
                 f"{' (' + rf['error'] + ')' if rf.get('error') else ''}; peak RSS afterwards "
                 f"{_f(mem.get('peak_rss_mib'))} MiB."]
    return rows


def refit(r: dict[str, Any]) -> list[str]:
    if not r or "error" in r:
        return [f"refit: {r.get('error', 'not run')}"]
    rows = ["| stories | TopicModel.fit s | topics / noise | TopicService.refit s (first) | topics / noise |",
            "|---|---|---|---|---|"]
    for n in sorted(set(r["model_fit"]) | set(r["service_refit"]), key=int):
        m, s = r["model_fit"].get(n), r["service_refit"].get(n)
        rows.append(
            f"| {int(n):,} | {_f(m['seconds']) if m else '–'} | "
            f"{(str(m['n_topics']) + ' / ' + _f(m['noise_fraction'], 2)) if m else '–'} | "
            f"{(_f(s['seconds']) + ' (' + _f(s['first_refit_s']) + ')') if s else '–'} | "
            f"{(str(s['n_topics']) + ' / ' + _f(s['noise_fraction'], 2)) if s else '–'} |")
    return rows


def peers(r: dict[str, Any]) -> list[str]:
    if not r or "error" in r:
        return [f"peers: {r.get('error', 'not run')}"]
    rows = ["| dataset | method | pairwise F1 | BCubed F1 | seconds | setting (best per metric: pairwise; BCubed) |",
            "|---|---|---|---|---|---|"]
    for ds, e in r["dedup"].items():
        if "ours" not in e:
            continue
        rows.append(f"| {ds} ({e['n_items']}) | **ours** | {_f(e['ours']['pairwise_f1'])} | "
                    f"{_f(e['ours']['bcubed_f1'])} | {_f(e['ours']['seconds'], 2)} | defaults |")
        c, mh = e["cosine_threshold"], e["minhash_lsh"]
        rows.append(f"| | cosine threshold | {_f(c['pairwise_f1'])} | {_f(c['bcubed_f1'])} | {_f(c['seconds'], 2)} "
                    f"| t={c['best_threshold_pairwise_f1']}; t={c['best_threshold_bcubed_f1']} |")
        rows.append(f"| | MinHash LSH | {_f(mh['pairwise_f1'])} | {_f(mh['bcubed_f1'])} | {_f(mh['seconds'], 2)} "
                    f"| {mh['best_setting_pairwise_f1']}; {mh['best_setting_bcubed_f1']} |")
        for peer, label in (("cosine_threshold", "cosine"), ("minhash_lsh", "MinHash")):
            q = e["ratios"][peer]
            rows.append(f"| | ours / {label} | {_f(q['pairwise_f1'], 2)} | {_f(q['bcubed_f1'], 2)} "
                        f"| {_f(q['seconds'], 2)} | |")
    t = r["topics"]
    if "ours" in t:
        rows += ["", f"Topics on {t['dataset']} ({t['n_items']} titles, {t['n_gold_topics']} gold topics):", "",
                 "| method | NMI | ARI | BCubed F1 | topics | noise | fit s |", "|---|---|---|---|---|---|---|"]
        o = t["ours"]
        rows.append(f"| **ours** (refit alone; pipeline + refit {_f(o['pipeline_and_refit_seconds'], 2)} s) "
                    f"| {_f(o['nmi'])} | {_f(o['ari'])} | {_f(o['bcubed_f1'])} | {o['n_topics']} "
                    f"| {_f(o['noise_fraction'], 2)} | {_f(o['fit_seconds'], 2)} |")
        if "bertopic" in t:
            b = t["bertopic"]
            rows.append(f"| BERTopic (median of {b['reps']}; first fit with JIT {_f(b['first_fit_seconds_with_jit'], 1)} s) "
                        f"| {_f(b['nmi'])} | {_f(b['ari'])} | {_f(b['bcubed_f1'])} | {_f(b['n_topics'], 1)} "
                        f"| {_f(b['noise_fraction'], 2)} | {_f(b['fit_seconds'], 2)} |")
            q = t["ratios"]
            rows.append(f"| ours / BERTopic | {_f(q['nmi'], 2)} | {_f(q['ari'], 2)} | | | | {_f(q['fit_seconds'], 3)} |")
    return rows


def targets(s: dict[str, Any]) -> list[str]:
    rows = ["| target | value | met |", "|---|---|---|"]
    for name, t in s.get("targets", {}).items():
        value = t["value"] if "value" in t else f"{_f(t['ours'])} vs {_f(t['peer'])}"
        rows.append(f"| `{name}` | {_f(value) if not isinstance(value, str) else value} | {_ok(t['met'])} |")
    return rows


def render(d: Path) -> str:
    s = _load(d, "summary")
    parts = [("Machine", machine(s)), ("Targets", targets(s)), ("1. Ingest throughput", ingest(_load(d, "ingest"))),
             ("2. Dedup check latency and memory", latency(_load(d, "latency"))),
             ("3. Topic refit time", refit(_load(d, "refit"))), ("4. Peers", peers(_load(d, "peers")))]
    return "\n\n".join(f"### {title}\n\n" + "\n".join(lines) for title, lines in parts) + "\n"


if __name__ == "__main__":
    print(render(Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS), end="")
