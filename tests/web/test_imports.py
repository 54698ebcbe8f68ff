"""`signalering serve` starts without what only some pages need: spaCy (extraction, for
scrubbing campaign texts) and scipy (linking, for a post's network) load on first use."""

from __future__ import annotations

import json
import subprocess
import sys


def test_the_review_app_loads_without_spacy_scipy_or_scikit_learn() -> None:
    script = (
        "import json, sys; import signalering.web.app; "
        "print(json.dumps([m for m in ('spacy', 'scipy', 'sklearn', 'torch') "
        "if m in sys.modules]))"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    assert json.loads(run.stdout) == []
