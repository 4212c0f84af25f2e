"""The add-on catalogue is data (generator/addons.yaml), schema-checked once: a chart version
bump is a one-line change, and a broken catalogue is exit 2 with file:line."""
from __future__ import annotations

from pathlib import Path

import pytest

from generator.constructs import addons as construct_addons
from generator.errors import InputError
from generator.model import addons as model_addons
from generator.model import load_project
from generator.render import render_env

REPO = Path(__file__).resolve().parent.parent
PACKAGED = REPO / "generator" / "addons.yaml"


def _texts(rendered) -> dict[str, str]:
    return {f.path: f.text for f in rendered.files}


def test_catalogue_loads_and_every_addon_has_its_generated_values():
    cat = model_addons.catalogue()
    assert set(cat) == set(construct_addons.VALUES)
    for name, entry in cat.items():
        assert entry.repo.startswith("https://") and entry.chart and entry.namespace, name
    # the loader's list of known add-ons is the catalogue's
    from generator.model.loader import _addon_defaults
    assert set(_addon_defaults()) == set(cat)


def test_a_version_bump_is_one_line_of_data(tmp_path, monkeypatch):
    copy = tmp_path / "addons.yaml"
    text = PACKAGED.read_text()
    assert text.count("version: v1.16.2\n") == 1
    copy.write_text(text.replace("version: v1.16.2\n", "version: v1.17.0\n"))
    changed = [a for a, b in zip(text.splitlines(), copy.read_text().splitlines()) if a != b]
    assert changed == ["    version: v1.16.2"]

    platform = load_project(REPO)
    before = construct_addons.enabled_addons(platform.environments["prod"])
    after = construct_addons.enabled_addons(platform.environments["prod"], catalogue_path=copy)
    assert before["cert-manager"].version == "v1.16.2" and after["cert-manager"].version == "v1.17.0"

    # end to end: the rendered Application pins the new version, nothing else moves
    monkeypatch.setattr(model_addons, "default_path", lambda: copy)
    bumped = render_env(platform, "prod")
    monkeypatch.undo()
    base = render_env(platform, "prod")
    old, new = _texts(base), _texts(bumped)
    assert {f for f in set(old) | set(new) if old.get(f) != new.get(f)} == {"argocd/application-prod-cert-manager.yaml"}
    assert "targetRevision: v1.17.0" in new["argocd/application-prod-cert-manager.yaml"]


@pytest.mark.parametrize("old,new,message", [
    ("    version: v1.16.2\n", "    version: latest\n", "wrong form"),
    ("    needs: [jaeger]\n", "    needs: [jaegre]\n", "needs 'jaegre'"),
    ("    crds: true\n", "    crds: true\n    helmfile: x\n", "unknown key 'helmfile'"),
])
def test_a_broken_catalogue_is_an_input_error_with_the_line(tmp_path, old, new, message):
    copy = tmp_path / "addons.yaml"
    text = PACKAGED.read_text()
    copy.write_text(text.replace(old, new, 1))
    with pytest.raises(InputError) as exc:
        model_addons.catalogue(copy)
    problem = next(p for p in exc.value.problems if message in p.render())
    bad_line = copy.read_text().splitlines().index(new.splitlines()[-1]) + 1
    assert problem.file.endswith("addons.yaml") and problem.line == bad_line
