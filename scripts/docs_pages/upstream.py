"""The upstream history page: instruction counts of the seed case across Optax and JAX releases.

Data: ``docs/data/upstream/`` as ``lbfgs-bench history`` writes it: ``runs/<env>.json`` (one per
release environment, with the versions that ran it), ``envs.json`` (the series, why the fixed JAX,
disk use) and ``ab.json`` (the wall-time A/B run of two Optax releases). Writes
``docs/results/upstream.md`` and one figure per series, ``docs/figures/upstream_<series>.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _common import GENERATED_NOTE, load_json, write_text

from lbfgs_impl.commands.history import document as doc
from lbfgs_impl.commands.history.figure import series_figure
from lbfgs_impl.commands.history.plan import FIXED_JAX

PAGE = "upstream"
SOURCES = (
    "lbfgs_impl/commands/history/document.py",
    "lbfgs_impl/commands/history/steps.py",
    "lbfgs_impl/commands/history/figure.py",
)
TITLES = {"optax": f"Optax releases, JAX {FIXED_JAX}", "jax": "JAX releases, each with its newest Optax"}
AB_PAIR = ("0.2.4", "0.2.8")


def _gib(n: int | None) -> str:
    if n is None:
        return "-"
    unit = next((u for u in ("GiB", "MiB", "KiB") if n >= 2 ** {"GiB": 30, "MiB": 20, "KiB": 10}[u]), "B")
    return f"{n / 2 ** {'GiB': 30, 'MiB': 20, 'KiB': 10, 'B': 0}[unit]:.2f} {unit}"


def _machine(meta: dict[str, Any]) -> str:
    return f"{meta.get('cpu') or 'unknown CPU'} ({meta.get('cpu_count')} logical CPUs)"


def _intro(runs: dict[str, dict[str, Any]], envs: dict[str, Any]) -> list[str]:
    metas = [r["meta"] for r in runs.values() if "meta" in r]
    machines = sorted({_machine(m) for m in metas})
    valgrinds = sorted({str(m.get("valgrind")) for m in metas})
    pythons = sorted({str(m.get("python")) for m in metas})
    lines = [
        "Instruction counts do not depend on the machine's load, so one machine can measure every release "
        "once. For each release environment, `lbfgs-bench history` counts under callgrind the "
        "instructions of the first call's trace+lower+compile and of one steady solve of `optax_while` "
        "on the seed case, and reads the compiled iteration's static HLO figures (kernels per iteration, "
        "flops) and the iterations and evaluations of a native solve.",
        "",
        f"Measured on {', '.join(machines) or '-'}; {', '.join(valgrinds)}; Python {', '.join(pythons)}. "
        "Each callgrind process runs pinned to one CPU. Each row names the versions that ran it; "
        "`processes` is the number of callgrind processes per figure (the median is shown).",
        "",
    ]
    if envs.get("fixed_jax_reason"):
        lines += [f"The Optax series runs on JAX {FIXED_JAX}: {envs['fixed_jax_reason']}.", ""]
    if envs.get("jax_chain_rule"):
        lines += [f"The JAX series pairs {envs['jax_chain_rule']}.", ""]
    return lines


def _series(name: str, runs: dict[str, dict[str, Any]], docs_dir: Path) -> tuple[list[str], list[Path]]:
    points = doc.series_points(name, runs)
    lines = [f"## {TITLES[name]}", ""]
    if not points:
        return [*lines, "No release of this series measured yet.", ""], []
    steps = doc.steps_of(name, runs)
    path = series_figure(
        [p for _, p in points], steps, TITLES[name], docs_dir / "figures" / f"{PAGE}_{name}.png"
    )
    lines += [f"![{TITLES[name]}](../figures/{path.name})", "", *doc.series_table(name, runs), ""]
    skipped = doc.uncompiled(name, runs)
    if skipped:
        lines += [
            f"Steady solve counted, first call's compile not counted (`-`): {', '.join(skipped)}; a compile "
            "step beside them is named between the nearest releases whose compile was counted.",
            "",
        ]
    lines += ["### Steps", "", *doc.step_table(steps), ""]
    if steps:
        lines += ["What each step means for a choice of versions:", "", *doc.step_sentences(steps), ""]
    return lines, [path]


def _instructions_line(runs: dict[str, dict[str, Any]], jax: str) -> str | None:
    a, b = AB_PAIR
    ratio = doc.instruction_ratio(runs, f"jax-{jax}-optax-{a}", f"jax-{jax}-optax-{b}")
    if ratio is None:
        return None
    pa, pb = ratio["a"], ratio["b"]
    compile_ = "" if ratio["compile"] is None else f"; the first call's compile {ratio['compile']:.3f}x"
    return (
        f"- JAX {jax}: the steady solve of Optax {b} executes {ratio['solve']:.3f}x the instructions of "
        f"Optax {a} ({doc.verdict(ratio['solve'])} them), in {pb.n_iter} iterations against {pa.n_iter}; "
        f"per iteration {ratio['per_iteration']:.3f}x{compile_}."
    )


def _ab(runs: dict[str, dict[str, Any]], ab: dict[str, Any] | None) -> list[str]:
    a, b = AB_PAIR
    lines = [f"## Optax {a} against {b} on the seed case", ""]
    jaxes = sorted({n.split("-")[1] for n in runs if n.endswith((f"optax-{a}", f"optax-{b}"))}, key=_version)
    found = [line for line in (_instructions_line(runs, j) for j in jaxes) if line]
    lines += ["Instructions, counted under callgrind:", "", *found, ""] if found else ["Not counted yet.", ""]
    if ab is None:
        return [*lines, "No wall-time run recorded.", ""]
    s = doc.ab_summary(ab)
    q1, q2, q3 = s["round_ratio_quartiles"]
    lo, hi = s["round_ratio_range"]
    jax = ab["envs"][s["a"]]["meta"]["versions"]["jax"]
    lines += [
        f"Wall time on JAX {jax}, side by side in one run: {ab['rounds']} alternating rounds of "
        f"{ab['per_round']} steady solves in each environment ({s['samples']} per release), both workers "
        f"pinned to CPU {ab['cpu']}, AOT-compiled, zero compilations in every timed region. {s['b']} over "
        f"{s['a']}: ratio of medians {s['ratio_of_medians']:.3f} ({s['median_b'] * 1e3:.2f} ms against "
        f"{s['median_a'] * 1e3:.2f} ms), ratio of minima {s['ratio_of_minima']:.3f}; the per-round "
        f"ratios have median {q2:.3f}, quartiles {q1:.3f}-{q3:.3f} and range {lo:.3f}-{hi:.3f}.",
        "",
        f"Machine load during the run (1-, 5-, 15-minute load averages): "
        f"{', '.join(f'{x:.1f}' for x in ab['load_before'])} before, "
        f"{', '.join(f'{x:.1f}' for x in ab['load_after'])} after, on "
        f"{ab['envs'][s['a']]['meta'].get('cpu_count')} logical CPUs: the wall times carry that load's "
        "noise; the instruction counts do not.",
        "",
    ]
    same = doc.instruction_ratio(runs, f"jax-{jax}-optax-{a}", f"jax-{jax}-optax-{b}")
    wall = (
        f"takes {doc.verdict(q2)} Optax {a}'s wall time (the median of the per-round ratios: each round "
        "times both releases back to back, so the machine's drift cancels)"
    )
    if same is None:
        answer = f"Optax {b}'s steady solve {wall}; its instructions on this JAX are not counted yet."
    else:
        counted = doc.verdict(same["solve"])
        answer = f"Optax {b}'s steady solve executes {counted} Optax {a}'s instructions and {wall}."
    lines += [f"Answer, on JAX {jax}: {answer}", ""]
    return lines


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("."))


def _disk(envs: dict[str, Any]) -> list[str]:
    disk = envs.get("disk_bytes") or {}
    if not disk:
        return []
    total = sum(disk.values())
    return [
        "## Environments",
        "",
        f"{len(disk)} environments, {_gib(total)} on disk in all (largest {_gib(max(disk.values()))}); "
        f"the pip download cache they share: {_gib(envs.get('pip_cache_bytes'))}. Rebuild and re-count "
        "with `lbfgs-bench history OUTDIR --envs ENVS --pip-cache CACHE` (an environment already counted "
        "in OUTDIR is skipped).",
        "",
    ]


def generate(data_dir: Path, docs_dir: Path) -> list[Path]:
    runs = doc.load_runs(data_dir)
    envs = load_json(data_dir / "envs.json") if (data_dir / "envs.json").exists() else {}
    ab = load_json(data_dir / "ab.json") if (data_dir / "ab.json").exists() else None
    lines = [GENERATED_NOTE.format(page=PAGE) + "# L-BFGS across Optax and JAX releases", ""]
    lines += _intro(runs, envs)
    written: list[Path] = []
    for name in ("optax", "jax"):
        body, figures = _series(name, runs, docs_dir)
        lines += body
        written += figures
    lines += _ab(runs, ab)
    lines += _disk(envs)
    lines += [
        "The quick grid's other case is not counted across releases yet: every figure on this page is "
        "the seed case.",
        "",
    ]
    written.insert(0, write_text(docs_dir / "results" / f"{PAGE}.md", "\n".join(lines).rstrip("\n") + "\n"))
    return written
