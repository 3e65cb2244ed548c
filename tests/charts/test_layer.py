"""`charts` is framework-free: importing every chart module loads neither Streamlit nor the engine nor the
dashboard, so the HTML report (engine) and the pages (dashboard) can both draw with it."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_chart_modules_import_no_streamlit_engine_or_dashboard():
    modules = sorted(f"charts.{path.stem}" for path in (ROOT / "charts").glob("*.py") if path.stem != "__init__")
    assert {"charts.compare", "charts.evaluation", "charts.training"} <= set(modules)
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "loaded = sorted({m.partition('.')[0] for m in sys.modules} & {'streamlit', 'engine', 'dashboard'})\n"
        "print(loaded); sys.exit(1 if loaded else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
