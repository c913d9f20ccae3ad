"""The README stays true to the code: its commands and its Flask quick start (the settings table: test_config)."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadkit.testing.sandbox import SandboxNetwork
from support import KEY, SECRET

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_readme_opens_with_the_two_commands() -> None:
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in first_block.strip().splitlines()] == ["make demo", "make test"]


def test_flask_quick_start_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("flask", reason="Flask is not installed in this environment")
    code = README.split("**Flask**", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    with SandboxNetwork(keys=[KEY]) as sandbox:
        (tmp_path / "leadkit.toml").write_text(
            f'[network]\napi = "{sandbox.url}"\n[offer]\noffer = 217\nflow = 42\ncountry = "kz"\n')
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("LEADKIT_KEY", KEY)
        monkeypatch.setenv("LEADKIT_SECRET", SECRET)
        namespace: dict[str, object] = {"__name__": "landing"}
        exec(compile(code, "README-flask", "exec"), namespace)
        client = namespace["app"].test_client()  # type: ignore[attr-defined]
        page = client.get("/?utm_source=flask")
        assert 'name="utm_source" value="flask"' in page.get_data(as_text=True)
        response = client.post("/leadkit/order", data={"name": "A", "phone": "87001234567"},
                               headers={"Origin": "http://localhost"})
        assert response.status_code == 303
        assert sandbox.accepted()[0].fields["utm_source"] == "flask"
        namespace["app"].wsgi_app.close()  # type: ignore[attr-defined]  # the README's LeadKit: stop its relay
