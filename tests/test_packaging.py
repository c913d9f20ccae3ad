"""The templates are found from an installed wheel, not only from the checkout.

Builds the wheel, installs it into a fresh virtual environment (dependencies
from the package index), and renders the form and the demo from there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RENDER = r"""
import pathlib, leadkit, leadkit.templating as r
from werkzeug.test import Client
from leadkit import LeadKit
assert "site-packages" in leadkit.__file__, leadkit.__file__
assert r.BUILTIN_TEMPLATES == pathlib.Path(leadkit.__file__).parent / "templates", r.BUILTIN_TEMPLATES
kit = LeadKit(lambda e, s: [], network={"api": "http://127.0.0.1:9/api", "key": "1-x"},
              offer={"offer": 217, "flow": 42, "country": "kz"}, site={"secret": "s" * 20})
html = Client(kit).get("/leadkit/form").get_data(as_text=True)
assert 'name="phone"' in html and 'action="/leadkit/order"' in html, html[:300]
assert '<html lang="ru"' in html and "Ваше имя" in html, "a Kazakh offer in Russian, from the wheel's catalogs"
assert (r.BUILTIN_TEMPLATES / "demo" / "index.html").is_file()
print("RENDERED-FROM-WHEEL")
"""


def test_wheel_carries_the_templates(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
                   check=True, capture_output=True, text=True, timeout=600)
    (wheel,) = dist.glob("leadkit-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], check=True, capture_output=True,
                   text=True, timeout=600)
    # The fresh environment alone: no PYTHONPATH pointing back at a checkout.
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([str(python), "-c", RENDER], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                            env=clean)
    assert "RENDERED-FROM-WHEEL" in result.stdout, result.stderr
    listing = subprocess.run([str(python), "-m", "zipfile", "-l", str(wheel)], capture_output=True, text=True)
    for name in ("leadkit/templates/form.html", "leadkit/templates/demo/index.html", "leadkit/py.typed",
                 "leadkit/locale/pl/LC_MESSAGES/leadkit.po", "leadkit/locale/ar/LC_MESSAGES/leadkit.po"):
        assert name in listing.stdout
