"""Regenerate every results page, figure and README table from the committed data in ``docs/data/``.

    python scripts/regen_docs.py            # rewrite the generated files in place
    python scripts/regen_docs.py --check    # regenerate into a temporary copy; exit 1 listing what differs

Each page has a generator module ``scripts/docs_pages/<page>.py`` exposing
``generate(data_dir, docs_dir) -> list[Path]``: it reads only ``data_dir`` (``docs/data/<page>/``,
which may be absent for a page built from the code alone, such as the CLI reference), writes its
Markdown and figures under ``docs_dir`` and returns every path it wrote. A module may also expose
``readme_blocks(data_dir) -> dict[str, str]``: the text of README's block
``<!-- generated:NAME -->`` ... ``<!-- /generated:NAME -->`` for each NAME, and ``SOURCES``: extra
repository paths (files or folders) its figures are drawn by.

Markdown is compared byte for byte. A PNG is not (matplotlib's bytes move with its version and the
fonts installed): each figure carries, in a PNG text chunk, the sha256 of what it was drawn from
(the page's data files, the generator's source, the plotting code and ``SOURCES``), and the check
compares that stamp.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import re
import shutil
import struct
import sys
import tempfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
PAGES_DIR = ROOT / "scripts" / "docs_pages"
STAMP_KEY = b"lbfgs-bench:inputs"
#: the plotting code every figure is drawn by
PLOT_SOURCES = ("lbfgs_impl/plots",)
BLOCK = re.compile(
    r"(<!-- generated:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /generated:(?P=name) -->)", re.S
)


def page_modules(pages_dir: Path = PAGES_DIR) -> dict[str, ModuleType]:
    """Every generator module, by page name (files starting with ``_`` are helpers, not pages)."""
    modules = {}
    for folder in (ROOT, pages_dir):  # the package, and the generators' shared helpers (_common.py)
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    for path in sorted(pages_dir.glob("*.py")):
        if path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"docs_pages_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if not callable(getattr(module, "generate", None)):
            raise SystemExit(f"regen_docs: {path} has no generate(data_dir, docs_dir)")
        modules[path.stem] = module
    return modules


def _files(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        elif path.is_file():
            out.append(path)
    return out


def stamp(module: ModuleType, data_dir: Path) -> str:
    """sha256 of everything a page's figures are drawn from."""
    digest = hashlib.sha256()
    sources = [ROOT / p for p in (*PLOT_SOURCES, *getattr(module, "SOURCES", ()))]
    inputs = [(p.relative_to(data_dir).as_posix(), p) for p in _files([data_dir])]
    inputs += [(p.relative_to(ROOT).as_posix(), p) for p in _files([Path(module.__file__), *sources])]
    for name, path in inputs:
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        chunks.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return chunks


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def write_stamp(path: Path, value: str) -> None:
    """Put ``value`` in the PNG's text chunk (replacing an earlier stamp), leaving the image as it is."""
    kept = [
        (k, b)
        for k, b in _chunks(path.read_bytes())
        if not (k == b"tEXt" and b.startswith(STAMP_KEY + b"\0"))
    ]
    out = b"\x89PNG\r\n\x1a\n"
    for kind, body in kept:
        if kind == b"IEND":
            out += _chunk(b"tEXt", STAMP_KEY + b"\0" + value.encode())
        out += _chunk(kind, body)
    path.write_bytes(out)


def read_stamp(path: Path) -> str | None:
    for kind, body in _chunks(path.read_bytes()):
        if kind == b"tEXt" and body.startswith(STAMP_KEY + b"\0"):
            return body[len(STAMP_KEY) + 1 :].decode()
    return None


def fill_readme(text: str, blocks: dict[str, str]) -> str:
    """README with each generated block's body replaced; a block with no generator is an error."""
    found = {m.group("name") for m in BLOCK.finditer(text)}
    if missing := sorted(found - blocks.keys()):
        raise SystemExit(f"regen_docs: README block(s) with no generator: {', '.join(missing)}")
    if unused := sorted(blocks.keys() - found):
        raise SystemExit(f"regen_docs: generated block(s) missing from README: {', '.join(unused)}")

    def body(m: re.Match[str]) -> str:
        content = blocks[m.group("name")].strip("\n") + "\n"
        return m.group(1) + content + m.group(4)

    return BLOCK.sub(body, text)


def regenerate(root: Path, data_root: Path) -> list[Path]:
    """Run every generator into ``root`` (a repository root holding ``docs/`` and README.md)."""
    written: list[Path] = []
    blocks: dict[str, str] = {}
    for name, module in page_modules().items():
        data_dir = data_root / name
        paths = [Path(p) for p in module.generate(data_dir, root / "docs")]
        for path in paths:
            if not path.resolve().is_relative_to((root / "docs").resolve()):
                raise SystemExit(f"regen_docs: {name} wrote {path}, outside docs/")
            if path.suffix == ".png":
                write_stamp(path, stamp(module, data_dir))
        written += paths
        if hasattr(module, "readme_blocks"):
            for key, value in module.readme_blocks(data_dir).items():
                if key in blocks:
                    raise SystemExit(f"regen_docs: README block {key} generated twice")
                blocks[key] = value
    readme = root / "README.md"
    new = fill_readme(readme.read_text(), blocks)
    if new != readme.read_text():
        readme.write_text(new)
    return [*written, readme]


def differences(fresh_root: Path, written: list[Path], committed_root: Path = ROOT) -> list[str]:
    """What differs between the regenerated files in ``fresh_root`` and those in ``committed_root``."""
    out = []
    for path in written:
        rel = path.resolve().relative_to(fresh_root.resolve())
        committed = committed_root / rel
        if not committed.exists():
            out.append(f"{rel}: not committed")
        elif path.suffix == ".png":
            if read_stamp(committed) != read_stamp(path):
                out.append(f"{rel}: drawn from other data or code (stamp differs)")
        elif committed.read_bytes() != path.read_bytes():
            out.append(f"{rel}: differs")
    produced = {p.resolve().relative_to(fresh_root.resolve()) for p in written}
    for committed in sorted((committed_root / "docs" / "results").glob("*")):
        if committed.relative_to(committed_root) not in produced:
            out.append(f"{committed.relative_to(committed_root)}: no generator writes it (stale)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="regenerate into a temporary copy and compare")
    args = parser.parse_args(argv)
    data_root = ROOT / "docs" / "data"
    if not args.check:
        for path in regenerate(ROOT, data_root):
            print(path.relative_to(ROOT))
        return 0
    with tempfile.TemporaryDirectory(prefix="regen-docs-") as tmp:
        fresh = Path(tmp)
        shutil.copytree(ROOT / "docs", fresh / "docs", ignore=shutil.ignore_patterns("_build"))
        shutil.copy2(ROOT / "README.md", fresh / "README.md")
        written = regenerate(fresh, data_root)
        problems = differences(fresh, written)
    if problems:
        print("regen_docs --check: generated files differ from docs/data; run python scripts/regen_docs.py")
        print("\n".join(f"  {p}" for p in problems))
        return 1
    print(f"regen_docs --check: {len(written)} generated files match docs/data")
    return 0


if __name__ == "__main__":
    sys.exit(main())
