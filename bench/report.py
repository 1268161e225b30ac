"""``python -m bench.report [DIR] [--write docs/benchmarks.md]``: the results of a run (``bench/results``
by default) as Markdown tables, printed, or written between the ``<!-- results:begin -->`` and
``<!-- results:end -->`` markers of a document. Reads only the JSON files; runs nothing."""

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
        f"- encoder {enc.get('name')} ({enc.get('dim')}-d, {enc.get('workers', enc.get('threads'))} worker thread(s)"
        f" (TICKER_ENCODER_THREADS={enc.get('threads')}), C++ tokenizer {enc.get('fast_tokenizer')}, batch {enc.get('batch_size')})",
        f"- load average at start {m.get('load_average_start')}, at end {m.get('load_average_end')} "
        f"(1, 5, 15 min); whole run {_f(s.get('seconds'), 0)} s",
    ]


def ingest(r: dict[str, Any]) -> list[str]:
    if not r or "error" in r:
        return [f"ingest: {r.get('error', 'not run')}"]
    wt = r.get("in_process_with_topics", {})
    rows = [
        "| batch | HTTP headlines/s | encoder share of HTTP time | in-process, pipeline only | in-process + topic "
        "listener and refits | encoder alone texts/s | HTTP / encoder |",
        "|---|---|---|---|---|---|---|",
    ]
    for b in r["http"]:
        rows.append(
            f"| {b} | {_f(r['http'][b]['headlines_per_s'])} | {_f(r['http'][b]['encoder_share'], 2)} "
            f"| {_f(r['in_process'][b]['headlines_per_s'])} "
            f"| {_f(wt[b]['headlines_per_s']) if b in wt else '–'} "
            f"| {_f(r['encoder_alone'][b]['texts_per_s'])} | {_f(r['http_over_encoder'][b], 2)} |"
        )
    beside = r.get("encoder_beside_python")
    if beside:
        rows += [
            "",
            f"Encoder beside a thread running Python (batch {beside['batch']}): "
            f"{_f(beside['texts_per_s_alone'])} texts/s alone, {_f(beside['texts_per_s_beside_python'])} beside it "
            f"({_f(beside['slowdown'], 2)}x; sharing the cores alone accounts for up to 1.5x).",
        ]
    for title, part in (("pipeline only", r["in_process"]), ("with the topic listener and refits", wt)):
        if not part:
            continue
        keys = list(next(iter(part.values()))["time_share"])
        rows += [
            "",
            f"In-process time by phase, {title} (share of wall time):",
            "",
            "| batch | " + " | ".join(k.replace("_", " ") for k in keys) + " |",
            "|---|" + "---|" * len(keys),
        ]
        for b, e in part.items():
            rows.append(f"| {b} | " + " | ".join(_f(e["time_share"].get(k), 2) for k in keys) + " |")
    return rows


def latency(r: dict[str, Any]) -> list[str]:
    if not r or "error" in r:
        return [f"latency: {r.get('error', 'not run')}"]
    rows = [
        "| stored headlines (stories) | HTTP p50 / p95 / p99 ms, httpx client | HTTP, stdlib http.client "
        "| in-process p50 / p95 / p99 ms | server RSS after checks / peak MiB |",
        "|---|---|---|---|---|",
    ]
    for e in r["sizes"].values():
        h, i, m = e["http"], e["in_process"], e["server_memory_after_checks"]
        p = e.get("http_stdlib_client")
        plain = f"{_f(p['p50_ms'])} / {_f(p['p95_ms'])} / {_f(p['p99_ms'])}" if p else "–"
        rows.append(
            f"| {e['stored_headlines']:,} ({e['stored_stories']:,}) | {_f(h['p50_ms'])} / {_f(h['p95_ms'])} / "
            f"{_f(h['p99_ms'])} | {plain} | {_f(i['p50_ms'])} / {_f(i['p95_ms'])} / {_f(i['p99_ms'])} "
            f"| {_f(m['rss_mib'])} / {_f(m['peak_rss_mib'])} |"
        )
    for e in r["sizes"].values():
        d = e.get("http_during_ingest")
        if d:
            rows += [
                "",
                f"At {e['stored_headlines']:,} stored, while another client posted batches of {d['batch']} "
                f"as fast as the server took them ({_f(d['ingest_headlines_per_s_meanwhile'])} headlines/s "
                f"meanwhile): HTTP p50 / p95 / p99 {_f(d['p50_ms'])} / {_f(d['p95_ms'])} / {_f(d['p99_ms'])} ms "
                f"over {d['n_requests']} checks (httpx).",
            ]
    top = r["sizes"][max(r["sizes"], key=int)]
    one = top.get("one_core")
    if one:
        h, p = one["http"], one["http_stdlib_client"]
        rows += [
            "",
            f"The same store, the server held to one CPU (one encoder worker): HTTP p50 / p95 / p99 "
            f"{_f(h['p50_ms'])} / {_f(h['p95_ms'])} / {_f(h['p99_ms'])} ms with httpx, {_f(p['p50_ms'])} / "
            f"{_f(p['p95_ms'])} / {_f(p['p99_ms'])} ms with the stdlib client.",
        ]
    late = top["in_process"].get("ingest")
    if late:
        rows += [
            "",
            f"Ingest into that store once its checks are done, in-process, {late['headlines']:,} new "
            f"headlines in batches of {late['batch']}: {_f(late['headlines_per_s'])} headlines/s, of which "
            f"{_f(late['vector_search_ms_per_headline'], 2)} ms per headline in the vector search "
            f"(share {_f(late['vector_search_share'], 2)}).",
        ]
    if "refit" in top:
        rf, mem = top["refit"], top.get("server_memory_after_refit", {})
        rows += [
            "",
            f"One refit in the server at {top['stored_headlines']:,} headlines: "
            f"{rf.get('n_stories')} stories → {rf.get('n_topics')} topics in {_f(rf.get('seconds'))} s"
            f"{' (' + rf['error'] + ')' if rf.get('error') else ''}"
            f"{', computed in a child process (its peak RSS ' + _f(rf.get('worker_peak_rss_mib')) + ' MiB)' if rf.get('in_child') else ''}"
            f"; the server's peak RSS afterwards {_f(mem.get('peak_rss_mib'))} MiB.",
        ]
        cd = rf.get("checks_during")
        if cd:
            rows += [
                "",
                f"Dedup checks over HTTP during that refit (httpx, sequential, {cd['n_requests']:,} of them): "
                f"p50 / p95 / p99 / max {_f(cd['p50_ms'])} / {_f(cd['p95_ms'])} / {_f(cd['p99_ms'])} / "
                f"{_f(cd['max_ms'])} ms.",
            ]
    return rows


def refit(r: dict[str, Any]) -> list[str]:
    if not r or "error" in r:
        return [f"refit: {r.get('error', 'not run')}"]
    rows = [
        "| stories | TopicModel.fit s | topics / noise | fit process peak RSS MiB | TopicService.refit s (first) "
        "| topics / noise |",
        "|---|---|---|---|---|---|",
    ]
    for n in sorted(set(r["model_fit"]) | set(r["service_refit"]), key=int):
        m, s = r["model_fit"].get(n), r["service_refit"].get(n)
        if m and m.get("seconds") is None:
            fit = f"> {_f(m.get('timeout_s'), 0)} (stopped)" if "timeout_s" in m else m.get("error", "–")
            fit_cells = f"{fit} | – | –"
        elif m:
            fit_cells = (
                f"{_f(m['seconds'])} | {m['n_topics']} / {_f(m['noise_fraction'], 2)} | {_f(m.get('peak_rss_mib'))}"
            )
        else:
            fit_cells = "– | – | –"
        svc = (
            f"{_f(s['seconds'])} ({_f(s['first_refit_s'])}) | {s['n_topics']} / {_f(s['noise_fraction'], 2)}"
            if s
            else "– | –"
        )
        rows.append(f"| {int(n):,} | {fit_cells} | {svc} |")
    return rows


def peers(r: dict[str, Any]) -> list[str]:
    if not r or "error" in r:
        return [f"peers: {r.get('error', 'not run')}"]
    rows = [
        "| dataset | method | pairwise F1 | BCubed F1 | seconds | setting (best per metric: pairwise; BCubed) |",
        "|---|---|---|---|---|---|",
    ]
    for ds, e in r["dedup"].items():
        if "ours" not in e:
            continue
        rows.append(
            f"| {ds} ({e['n_items']}) | **ours** | {_f(e['ours']['pairwise_f1'])} | "
            f"{_f(e['ours']['bcubed_f1'])} | {_f(e['ours']['seconds'], 2)} | defaults |"
        )
        c, mh = e["cosine_threshold"], e["minhash_lsh"]
        rows.append(
            f"| | cosine threshold | {_f(c['pairwise_f1'])} | {_f(c['bcubed_f1'])} | {_f(c['seconds'], 2)} "
            f"| t={c['best_threshold_pairwise_f1']}; t={c['best_threshold_bcubed_f1']} |"
        )
        rows.append(
            f"| | MinHash LSH | {_f(mh['pairwise_f1'])} | {_f(mh['bcubed_f1'])} | {_f(mh['seconds'], 2)} "
            f"| {mh['best_setting_pairwise_f1']}; {mh['best_setting_bcubed_f1']} |"
        )
        for peer, label in (("cosine_threshold", "cosine"), ("minhash_lsh", "MinHash")):
            q = e["ratios"][peer]
            rows.append(
                f"| | ours / {label} | {_f(q['pairwise_f1'], 2)} | {_f(q['bcubed_f1'], 2)} | {_f(q['seconds'], 2)} | |"
            )
    t = r["topics"]
    if "ours" in t:
        rows += [
            "",
            f"Topics on {t['dataset']} ({t['n_items']} titles, {t['n_gold_topics']} gold topics):",
            "",
            "| method | NMI | ARI | BCubed F1 | topics | noise | fit s |",
            "|---|---|---|---|---|---|---|",
        ]
        o = t["ours"]
        rows.append(
            f"| **ours** (refit alone; pipeline + refit {_f(o['pipeline_and_refit_seconds'], 2)} s) "
            f"| {_f(o['nmi'])} | {_f(o['ari'])} | {_f(o['bcubed_f1'])} | {o['n_topics']} "
            f"| {_f(o['noise_fraction'], 2)} | {_f(o['fit_seconds'], 2)} |"
        )
        if "bertopic" in t:
            b = t["bertopic"]
            rows.append(
                f"| BERTopic (median of {b['reps']}; first fit with JIT {_f(b['first_fit_seconds_with_jit'], 1)} s) "
                f"| {_f(b['nmi'])} | {_f(b['ari'])} | {_f(b['bcubed_f1'])} | {_f(b['n_topics'], 1)} "
                f"| {_f(b['noise_fraction'], 2)} | {_f(b['fit_seconds'], 2)} |"
            )
            q = t["ratios"]
            rows.append(
                f"| ours / BERTopic | {_f(q['nmi'], 2)} | {_f(q['ari'], 2)} | | | | {_f(q['fit_seconds'], 3)} |"
            )
    return rows


def precision(r: dict[str, Any]) -> list[str]:
    if not r or "error" in r:
        return [f"precision: {r.get('error', 'not run')}"]
    cpu = r["cpu"]
    rows = [
        f"CPU {cpu.get('model') or cpu.get('machine')}, flags {' '.join(cpu.get('flags', [])) or 'none listed'}; "
        f"8-bit int8 weights exact here: {'yes' if r['int8_full_range_exact'] else 'no'}; "
        f"the default runs `{r['default_variant']}`; {r['workers']} workers, batches of {r['batch']}.",
        "",
        "| variant | texts/s (median) | rounds | over fp32 | cosine to fp32, worst file min | worst file mean |",
        "|---|---|---|---|---|---|",
    ]
    for name, e in r["texts_per_s"].items():
        cos = r["cosine_to_fp32"].get(name, {})
        ratio = r["ratios"].get(f"{name}_over_fp32")
        rows.append(
            f"| `{name}` | {_f(e['median'])} | {', '.join(_f(x) for x in e['rounds'])} "
            f"| {_f(ratio, 2) if ratio else '1'} "
            f"| {_f(min(d['min'] for d in cos.values()), 4) if cos else '–'} "
            f"| {_f(min(d['mean'] for d in cos.values()), 5) if cos else '–'} |"
        )
    if r.get("int8_w8_skipped"):
        rows.append(f"\n`int8_w8` not run: {r['int8_w8_skipped']}.")
    if r.get("speed_target_not_judged"):
        rows.append(f"\nSpeed target: {r['speed_target_not_judged']}.")
    return rows


def targets(s: dict[str, Any]) -> list[str]:
    rows = ["| target | value | met |", "|---|---|---|"]
    for name, t in s.get("targets", {}).items():
        value = t["value"] if "value" in t else f"{_f(t['ours'])} vs {_f(t['peer'])}"
        shown = _f(value) if not isinstance(value, str) else value
        if "stdlib_client" in t:
            shown += f" (stdlib client: {_f(t['stdlib_client'])})"
        rows.append(f"| `{name}` | {shown} | {_ok(t['met'])} |")
    return rows


def render(d: Path) -> str:
    s = _load(d, "summary")
    parts = [
        ("Machine", machine(s)),
        ("Targets", targets(s)),
        ("1. Ingest throughput", ingest(_load(d, "ingest"))),
        ("2. Dedup check latency and memory", latency(_load(d, "latency"))),
        ("3. Topic refit time", refit(_load(d, "refit"))),
        ("4. Peers", peers(_load(d, "peers"))),
        ("5. Encoder precision on this CPU", precision(_load(d, "precision"))),
    ]
    return "\n\n".join(f"### {title}\n\n" + "\n".join(lines) for title, lines in parts) + "\n"


BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def write_into(doc: Path, tables: str) -> None:
    text = doc.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{doc} has no {BEGIN} ... {END} block")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{BEGIN}\n\n{tables}\n{END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", nargs="?", type=Path, default=RESULTS)
    parser.add_argument("--write", type=Path, default=None, help="a Markdown file with the results markers")
    args = parser.parse_args(argv)
    tables = render(args.dir)
    if args.write:
        write_into(args.write, tables)
    else:
        print(tables, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
