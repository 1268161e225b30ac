"""The default encoder on a CPU without AVX-512 or VNNI, whatever CPU runs the suite: the encoder runs
under QEMU's user-mode emulation of an AMD EPYC-Rome (AVX2 only), where onnxruntime picks its AVX2
integer kernels, whose pairs of uint8 x int8 products saturate in 16 bits at 8-bit weights.

There the start-up probe must find 8-bit weights inexact and the default must encode in float32; asked
for 7-bit weights, the encoder must give the vectors a VNNI machine computes with them (integer products
are exact once nothing saturates). ``scripts/install_qemu.sh`` installs the emulator (``make test-setup`` runs it).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow

CPU_MODEL = "EPYC-Rome"

SCRIPT = r"""
import json, sys
import numpy as np
try:
    from numpy._core._multiarray_umath import __cpu_features__ as features
except ImportError:  # numpy 1
    from numpy.core._multiarray_umath import __cpu_features__ as features
from embeddings.usem import USEEncoder, int8_products_are_exact
titles = json.loads(sys.argv[1])
default = USEEncoder(threads=1)
enc = USEEncoder(threads=1, weight_bits=7)
np.save(sys.argv[2], enc.encode(titles))
print(json.dumps({"avx2": features["AVX2"], "avx512f": features["AVX512F"], "avx512vnni": features["AVX512VNNI"],
                  "probe": int8_products_are_exact(), "default": [default.precision, default.weight_bits],
                  "precision": enc.precision, "weight_bits": enc.weight_bits}))
"""


def _qemu() -> str:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip(f"emulating an x86-64 CPU on {platform.machine()} is not what this test is for")
    path = shutil.which("qemu-x86_64")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("qemu-x86_64 is missing: scripts/install_qemu.sh installs it")
        pytest.skip("qemu-x86_64 is not installed (scripts/install_qemu.sh)")
    return path


def test_an_avx2_only_cpu_encodes_in_float32_or_with_7_bit_weights_as_any_other_cpu(tmp_path, cpu_path):
    from conftest import DATASETS, read_jsonl

    from embeddings.usem import USEEncoder

    qemu = _qemu()
    titles = [r["title"] for r in read_jsonl(DATASETS / "sib200" / "dev.jsonl")[:21]]  # seven scripts, in turn
    out = tmp_path / "vectors.npy"
    run = subprocess.run(
        [qemu, "-cpu", CPU_MODEL, sys.executable, "-c", SCRIPT, json.dumps(titles), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    # the emulated CPU is what the test claims: AVX2, no AVX-512, no VNNI
    assert (seen["avx2"], seen["avx512f"], seen["avx512vnni"]) == (True, False, False), seen
    assert seen["probe"] is False, "8-bit weights saturate in the AVX2 kernels: the probe must say so"
    assert seen["default"] == ["fp32", None], seen
    assert (seen["precision"], seen["weight_bits"]) == ("int8", 7), seen
    native = USEEncoder(threads=1, weight_bits=7).encode(titles)
    emulated = np.load(out)
    assert np.abs(emulated - native).max() < 1e-6
    cpu_path(
        f"under an emulated {CPU_MODEL} (AVX2 only): the probe says 8-bit int8 saturates, the default is float32, "
        f"7-bit int8 vectors equal this CPU's (max |diff| {np.abs(emulated - native).max():.1e})"
    )
