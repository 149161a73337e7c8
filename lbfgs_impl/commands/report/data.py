"""The report's data model: one :class:`StageResult` per stage, gathered in :class:`ReportData`."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StageResult:
    name: str
    data: Any = None
    error: str = ""
    seconds: float = 0.0
    figure_error: str = ""  # a figure that could not be drawn; the stage's tables are still shown


@dataclass
class ReportData:
    plan: str
    meta: dict[str, Any]
    stages: dict[str, StageResult] = field(default_factory=dict)

    def ok(self, name: str) -> bool:
        stage = self.stages.get(name)
        return stage is not None and not stage.error and stage.data is not None


def run_stage(name: str, fn: Callable[[], Any], progress: Callable[[str], None]) -> StageResult:
    t0 = time.monotonic()
    try:
        data = fn()
        return StageResult(name, data, "", time.monotonic() - t0)
    except Exception as exc:  # a failed stage is recorded, the report goes on
        progress(f"stage {name} failed: {type(exc).__name__}: {exc}")
        detail = traceback.format_exc(limit=3).strip().splitlines()[-1]
        return StageResult(name, None, f"{type(exc).__name__}: {exc} ({detail})", time.monotonic() - t0)
