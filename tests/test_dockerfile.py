"""The Dockerfile, checked by reading it (no image can be built here): a slim base, a non-root user,
a health check on /readyz, port 8000, the service's entry point (``python -m app``), no torch anywhere in what gets
installed, and every file it copies present in the repository and not hidden by .dockerignore.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from importlib import metadata

import pytest
from conftest import ROOT

DOCKERFILE = ROOT / "Dockerfile"
FORBIDDEN = {"torch", "sentence-transformers", "transformers", "tensorflow", "nvidia-cublas-cu12"}


@dataclass
class Instruction:
    op: str
    args: str
    stage: int

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form CMD/ENTRYPOINT/HEALTHCHECK CMD, else None."""
        text = self.args.split("CMD", 1)[1] if self.op == "HEALTHCHECK" else self.args
        text = text.strip()
        return json.loads(text) if text.startswith("[") else None


def parse(text: str) -> list[Instruction]:
    out: list[Instruction] = []
    stage = -1
    logical = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not logical and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            logical += line[:-1].rstrip() + " "
            continue
        logical += line
        op, _, args = logical.partition(" ")
        op = op.upper()
        if op == "FROM":
            stage += 1
        out.append(Instruction(op, args.strip(), stage))
        logical = ""
    return out


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    if not DOCKERFILE.exists():
        pytest.skip("no Dockerfile")
    return parse(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def final(instructions) -> list[Instruction]:
    last = max(i.stage for i in instructions)
    return [i for i in instructions if i.stage == last]


def _one(final: list[Instruction], op: str) -> Instruction:
    found = [i for i in final if i.op == op]
    assert found, f"no {op} in the final stage"
    return found[-1]  # the last one wins in Docker


def test_parser_understands_continuations_and_comments():
    got = parse("# c\nFROM a:1 AS b\nRUN x \\\n  # inside\n  && y\n\nFROM c\nCMD [\"u\"]\n")
    assert [(i.op, i.args, i.stage) for i in got] == [
        ("FROM", "a:1 AS b", 0),
        ("RUN", "x && y", 0),
        ("FROM", "c", 1),
        ("CMD", '["u"]', 1),
    ]


def test_slim_base_images(instructions):
    bases = [i.args.split()[0] for i in instructions if i.op == "FROM"]
    stages = {i.args.split()[-1] for i in instructions if i.op == "FROM" and " AS " in i.args.upper()}
    for base in bases:
        assert base in stages or re.fullmatch(r"python:3\.11[\w.]*-slim(-\w+)?", base), base
    assert re.fullmatch(r"python:3\.11[\w.]*-slim(-\w+)?", bases[-1]), "the image that ships is not slim"


def test_runs_as_a_non_root_user(final):
    user = _one(final, "USER").args.split(":")[0]
    assert user not in ("root", "0", ""), user
    # the user is created in the image, and owns where the data goes
    created = " ".join(i.args for i in final if i.op == "RUN")
    assert re.search(rf"useradd\b.*\b{re.escape(user)}\b", created), created
    data_dir = re.search(r"TICKER_DATA_DIR=(\S+)", " ".join(i.args for i in final if i.op == "ENV")).group(1)
    assert re.search(rf"chown\s+\S*{re.escape(user)}\S*\s+{re.escape(data_dir)}", created), (
        "data dir not owned by the user"
    )
    volumes = " ".join(i.args for i in final if i.op == "VOLUME")
    assert data_dir in volumes
    # USER comes after the RUNs that need root, and before CMD
    ops = [i.op for i in final]
    assert ops.index("USER") > max(k for k, op in enumerate(ops) if op == "RUN")
    assert ops.index("USER") < ops.index("CMD")


def test_healthcheck_hits_readyz_on_the_served_port(final):
    hc = _one(final, "HEALTHCHECK")
    assert "/readyz" in hc.args and ":8000/" in hc.args
    for opt in ("--interval", "--timeout", "--start-period"):
        assert opt in hc.args, opt
    cmd = hc.exec_form()
    assert cmd and cmd[0] in ("python", "python3"), "the check must run with what the slim image has (no curl)"
    # the probe exits non-zero unless the answer is 200 (urlopen raises on a 503, a refused connection, a timeout)
    assert "status == 200" in cmd[-1] and "timeout=" in cmd[-1]
    compile(cmd[-1], "<healthcheck>", "exec")


def test_exposes_8000_and_serves_the_app_through_its_entry_point(final):
    assert "8000" in _one(final, "EXPOSE").args.split()
    cmd = _one(final, "CMD").exec_form()
    # exec form: the server is PID 1 and gets SIGTERM itself, so a stop shuts down cleanly
    assert cmd is not None, "CMD in shell form: signals would go to /bin/sh, not to the server"
    # python -m app configures uvicorn from TICKER_ settings: forwarded headers only from TICKER_TRUSTED_PROXIES
    assert cmd[:3] in (["python", "-m", "app"], ["python3", "-m", "app"]), cmd
    assert not {"--proxy-headers", "--forwarded-allow-ips"} & set(cmd), cmd
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0" and cmd[cmd.index("--port") + 1] == "8000"
    assert not any(i.op == "ENTRYPOINT" for i in final)


def _copies(instructions) -> list[tuple[str, Instruction]]:
    out = []
    for i in instructions:
        if i.op not in ("COPY", "ADD"):
            continue
        words = shlex.split(i.args)
        if any(w.startswith("--from") for w in words):
            continue
        paths = [w for w in words if not w.startswith("--")]
        out += [(src, i) for src in paths[:-1]]
    return out


def _ignored(rel: str, patterns: list[str]) -> bool:
    parts = rel.split("/")
    prefixes = ["/".join(parts[: k + 1]) for k in range(len(parts))]
    ignored = False
    for pat in patterns:
        negate = pat.startswith("!")
        pat = pat.lstrip("!").strip("/")
        hit = any(fnmatch.fnmatch(p, pat) or fnmatch.fnmatch(p, pat.replace("**/", "")) for p in prefixes)
        if hit:
            ignored = not negate
    return ignored


def test_every_copied_path_exists_and_is_in_the_build_context(instructions):
    ignore_file = ROOT / ".dockerignore"
    patterns = (
        [p.strip() for p in ignore_file.read_text().splitlines() if p.strip() and not p.startswith("#")]
        if ignore_file.exists()
        else []
    )
    copies = _copies(instructions)
    assert copies
    for src, ins in copies:
        assert not src.startswith(("http://", "https://")), f"{ins.op} fetches from the network: {src}"
        matches = list(ROOT.glob(src)) if any(ch in src for ch in "*?[") else [ROOT / src]
        assert matches and all(m.exists() for m in matches), f"{ins.op} {src}: not in the repository"
        assert not _ignored(src.rstrip("/") or ".", patterns), f"{ins.op} {src}: excluded by .dockerignore"


def test_dockerignore_matcher():
    pats = [".venv", "tests", "**/__pycache__", "docs"]
    assert _ignored("tests", pats) and _ignored("app/__pycache__", pats) and _ignored("docs/x.png", pats)
    assert not _ignored("app", pats) and not _ignored("sample_data", pats)


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_image_installs_the_project_without_extras(instructions):
    installs = [i.args for i in instructions if i.op == "RUN" and "pip install" in i.args]
    assert installs, "nothing installed"
    for cmd in installs:
        lowered = cmd.lower()
        assert not any(name in lowered for name in FORBIDDEN), cmd
        # `pip install .` or `.[postgres]`, never the sentence-transformers extra
        for target in re.findall(r"\.\[([^\]]*)\]", cmd):
            assert "st" not in {x.strip() for x in target.split(",")}, cmd
    # what `pip install .` reads must be there: pyproject's readme and packages
    project = _pyproject()["project"]
    copied = {src.rstrip("/") for src, _ in _copies(instructions)}
    assert project["readme"] in copied
    for pkg in _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert pkg.rstrip("*") in copied, pkg


def _requirements_closure(names: list[str]) -> set[str]:
    """Distributions pulled in by ``names``, transitively, extras left out (from this venv's metadata)."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = list(names)
    while todo:
        req = Requirement(todo.pop())
        name = req.name.lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here: its own name is still checked
        for r in requires:
            sub = Requirement(r)
            if sub.marker is None or sub.marker.evaluate({"extra": ""}):
                todo.append(r)
    return seen


def test_no_torch_in_the_installed_dependencies():
    deps = _pyproject()["project"]["dependencies"]
    closure = _requirements_closure(deps)
    assert len(closure) >= len(deps)
    assert not closure & FORBIDDEN, closure & FORBIDDEN


def test_files_the_package_reads_are_packaged():
    # The image installs the project (not a checkout): a data file under app/ or embeddings/ that
    # package-data leaves out is missing at run time (web assets, a default taxonomy, ...).
    package_data = _pyproject()["tool"]["setuptools"].get("package-data", {})
    missing = []
    for pkg in ("app", "embeddings"):
        for path in (ROOT / pkg).rglob("*"):
            if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
                continue
            rel = path.relative_to(ROOT / pkg).as_posix()
            globs = package_data.get(pkg, []) + package_data.get("*", [])
            if not any(fnmatch.fnmatch(rel, g) for g in globs):
                missing.append(f"{pkg}/{rel}")
    assert not missing, f"not in [tool.setuptools.package-data]: {missing}"


def test_sample_data_dir_is_where_it_was_copied(final):
    env = " ".join(i.args for i in final if i.op == "ENV")
    sample_dir = re.search(r"TICKER_SAMPLE_DIR=(\S+)", env)
    assert sample_dir, "TICKER_SAMPLE_DIR not set: the installed package has no checkout around it"
    dests = [shlex.split(i.args)[-1].rstrip("/") for i in final if i.op == "COPY" and "sample_data" in i.args]
    assert sample_dir.group(1).rstrip("/") in dests
