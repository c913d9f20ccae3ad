"""The README stays true to the code: its settings table, its commands, its Flask quick start."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from leadkit.config import _SCHEMA
from leadkit.testing.sandbox import SandboxNetwork
from support import KEY, SECRET

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_readme_opens_with_the_two_commands() -> None:
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in first_block.strip().splitlines()] == ["make demo", "make test"]


def test_settings_table_lists_every_key_and_only_those() -> None:
    documented = set(re.findall(r"^\| `(\w+\.\w+)` \|", README, flags=re.M))
    assert documented == {f"{section}.{key}" for section, keys in _SCHEMA.items() for key in keys}


def test_settings_table_defaults_match_the_code() -> None:
    for section, keys in _SCHEMA.items():
        for key, default in keys.items():
            if isinstance(default, (int, str)) and default not in ("",):
                row = re.search(rf"^\| `{section}\.{key}` \| (.+?) \|", README, flags=re.M)
                assert row, f"{section}.{key}"
                shown = row.group(1).strip("`")
                if isinstance(default, bool):
                    assert shown == str(default).lower(), (section, key)
                else:
                    assert shown == (f'"{default}"' if isinstance(default, str) else str(default)), (section, key)


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
