"""Home's first render loads no TensorFlow, Keras or scikit-learn: each costs seconds the first page must not wait
for (bench/interactive_speed.py measures the render against `import tensorflow`)."""

import os
import subprocess
import sys
import textwrap

import pytest

from tests.test_import_graph import ROOT

HEAVY = ("tensorflow", "keras", "sklearn")


@pytest.mark.slow  # a fresh interpreter, so nothing imported by other tests counts
def test_home_renders_without_importing_tensorflow_keras_or_sklearn(tmp_path):
    code = textwrap.dedent(
        f"""
        import sys
        from streamlit.testing.v1 import AppTest
        app = AppTest.from_file("dashboard/Home.py", default_timeout=300)
        app.run()
        assert not app.exception, [e.message for e in app.exception]
        assert any("Stored runs" in s.value for s in app.subheader), "Home did not render to its end"
        print(sorted(name for name in {HEAVY!r} if name in sys.modules))
        """
    )
    env = {**os.environ, "DIGIT_LAB_CACHE": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]", f"Home imported {done.stdout.strip().splitlines()[-1]}"
