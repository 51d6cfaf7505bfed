"""Building the DAG imports no heavy library: every ``snakemake`` run and every stage ``dvc repro`` runs pays
for the Snakefile's imports (torch alone is ~1.7 s), so they are lvg.plan, lvg.layout and lvg.config only."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "pandas", "scipy", "matplotlib", "seaborn", "av", "cv2", "PIL", "numba")


def test_the_snakefile_imports_nothing_heavy() -> None:
    files = [REPO / "Snakefile", *sorted((REPO / "workflow/rules").glob("*.smk"))]
    lines = [m[0] for f in files for m in re.finditer(r"^(?:from lvg[\w.]* import .*|import lvg[\w.]*.*)$",
                                                       f.read_text(), flags=re.M)]
    assert any("lvg.plan" in line for line in lines), lines  # the parser found the imports
    code = "\n".join(["import sys", *lines, f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"])
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", (out.stdout, lines)
