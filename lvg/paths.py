"""Where the repository's own files are.

lvg is a workflow repository first: the package is installed in editable mode from the checkout (README),
and the schemas live in ``workflow/schemas`` where Snakemake's ``validate`` also reads them. One copy, two
readers.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(os.environ.get("LVG_REPO_ROOT", Path(__file__).resolve().parents[1]))
SCHEMA_DIR = REPO_ROOT / "workflow" / "schemas"
