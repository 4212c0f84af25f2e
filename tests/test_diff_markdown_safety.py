"""The markdown diff is safe to post whatever the input (issue 15): every part is shorter than
the limit, code fences stay closed and short, and no value becomes HTML, a comment or a link."""
from __future__ import annotations

import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.diff import DiffResult, Highlight, ResourceChange, ResourceKey, diff_refs, render_diff

from .test_diff import commit, deployment, dump, repo, write  # noqa: F401 (repo is a fixture)

HOSTILE = ["`", "``", "`" * 40, "<!--", "-->", "<script>alert(1)</script>", "</details>", "<details>", "|",
           "[x](https://evil.example)", "![t](https://evil.example/p.png)", "@org/team", "\n", "\r", "```diff",
           "~~~", "**", "&amp;", "<!-- drydock diff: next part -->"]

hostile_text = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12)), max_size=12).map("".join)
long_text = st.one_of(hostile_text, st.integers(0, 30_000).map(lambda n: ("`" * 7 + "<!--x") * (n // 12)),
                      st.integers(0, 3000).map(lambda n: "`" * n))


@st.composite
def change(draw) -> ResourceChange:
    key = ResourceKey(draw(hostile_text), "v1", draw(hostile_text), draw(hostile_text), draw(long_text))
    status = draw(st.sampled_from(["added", "removed", "changed", "moved"]))
    lines = draw(st.lists(st.one_of(hostile_text, long_text).map(lambda s: "+" + s.replace("\n", " ")), max_size=30))
    hl = [Highlight(draw(st.sampled_from(["image", "rbac", "secret"])), key.env, key.display(), draw(long_text))
          for _ in range(draw(st.integers(0, 2)))]
    return ResourceChange(key, status, draw(hostile_text), draw(hostile_text) or None, draw(long_text) or "p",
                          diff=[] if status == "moved" else lines, highlights=hl)


def _outside_code(part: str) -> str:
    """The part without fenced blocks and code spans: what GitHub interprets as markdown/HTML."""
    no_fences = re.sub(r"^(`{3,})[^\n]*\n.*?^\1\s*$", "", part, flags=re.S | re.M)
    out, pos = [], 0
    while True:
        m = re.compile(r"(?<!\\)`+").search(no_fences, pos)
        if not m:
            out.append(no_fences[pos:])
            return "".join(out)
        close = re.compile(r"(?<!`)%s(?!`)" % m.group()).search(no_fences, m.end())
        out.append(no_fences[pos:m.start()])
        pos = close.end() if close else m.end()


def _check(part: str, limit: int) -> None:
    assert len(part) < limit
    fence = None
    for line in part.splitlines():
        m = re.match(r"^(`{3,})(.*)$", line)
        if m and fence is None:
            fence = m.group(1)
        elif m and m.group(1) == fence and not m.group(2).strip():
            fence = None
    assert fence is None, "unclosed code fence"
    opened = 0
    for m in re.finditer(r"</?details>", _outside_code(part)):
        opened += 1 if m.group() == "<details>" else -1
        assert 0 <= opened <= 1
    assert opened == 0


@pytest.mark.slow  # hypothesis property: its 10-example sample at the end of this file runs in the inner loop
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(change(), max_size=6), st.lists(long_text, max_size=3), st.sampled_from([2000, 3000, 9000, 65536]),
       hostile_text, hostile_text)
def test_every_part_is_under_the_limit_and_nothing_escapes_code(changes, warnings, limit, base, head):
    res = DiffResult(base or "b", head or "h", "0" * 40, "1" * 40, changes=changes, warnings=warnings)
    parts = render_diff(res, "markdown", max_chars=limit)
    for part in parts:
        _check(part, limit)
        assert max((len(m) for m in re.findall(r"^`{3,}", part, flags=re.M)), default=0) <= 31
        outside = _outside_code(part)
        # our own markup only: <details>/<summary>/<b>; no value turns into HTML, a comment or a link
        assert "<!--" not in outside.replace("<!-- drydock diff: next part -->", "")
        assert not re.search(r"<(?!/?(details|summary|b)>)[A-Za-z/!]", outside)
        assert not re.search(r"(?<!\\)\]\(", outside)
        assert "@org" not in outside


def test_a_hostile_value_in_a_real_diff_is_shown_as_code(repo):
    commit(repo, "empty")
    obj = deployment("evil", "registry.example.com/x:`` <!-- hidden --> [a](b)")
    write(repo, {"rendered/prod/a/d.yaml": dump(obj)})
    commit(repo, "add")
    md = render_diff(diff_refs(repo, "HEAD~1"))[0]
    assert "<!-- hidden -->" not in _outside_code(md)
    assert "hidden" in md  # shown, as code


# -- working tree reads -------------------------------------------------------------------------

def test_worktree_never_follows_a_symlink_or_reads_a_fifo(repo, tmp_path):
    write(repo, {"rendered/dev/a/d.yaml": dump(deployment("a", "r/a:1"))})
    commit(repo, "base")
    outside = tmp_path / "outside.yaml"
    outside.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stolen}\ndata: {k: OUTSIDE-SECRET-MARKER}\n")
    os.symlink(outside, repo / "rendered/dev/a/link.yaml")
    os.symlink(tmp_path, repo / "rendered/dev/linked-folder")
    os.mkfifo(repo / "rendered/dev/a/pipe.yaml")  # a read would block forever
    res = diff_refs(repo, "HEAD", worktree=True)
    out = "".join("".join(render_diff(res, f)) for f in ("markdown", "text", "json"))
    assert "OUTSIDE-SECRET-MARKER" not in out and "stolen" not in out
    assert any("link.yaml" in w and "not read" in w for w in res.warnings)
    assert any("pipe.yaml" in w and "not read" in w for w in res.warnings)
    assert any("linked-folder" in w for w in res.warnings)


def test_rendered_itself_a_symlink_is_not_read(repo, tmp_path):
    commit(repo, "base")
    elsewhere = tmp_path / "elsewhere" / "dev" / "a"
    elsewhere.mkdir(parents=True)
    (elsewhere / "x.yaml").write_text(dump(deployment("x", "r/x:1")))
    os.symlink(tmp_path / "elsewhere", repo / "rendered")
    res = diff_refs(repo, "HEAD", worktree=True)
    assert res.changes == [] and any("rendered: a symbolic link" in w for w in res.warnings)


def test_committed_symlink_is_skipped(repo):
    write(repo, {"rendered/dev/a/d.yaml": dump(deployment("a", "r/a:1"))})
    commit(repo, "base")
    os.symlink("/etc/hostname", repo / "rendered/dev/a/host.yaml")
    commit(repo, "link")
    assert diff_refs(repo, "HEAD~1").changes == []


# -- no arguments: HEAD against the working tree (issue 17.3) ----------------------------------

def test_no_base_compares_head_with_the_working_tree(repo):
    write(repo, {"rendered/dev/a/d.yaml": dump(deployment("a", "r/a:1"))})
    commit(repo, "base")
    write(repo, {"rendered/dev/a/d.yaml": dump(deployment("a", "r/a:2"))})
    res = diff_refs(repo)
    assert res.head == "working tree" and res.base == "HEAD"
    assert [c.status for c in res.changes] == ["changed"]


def test_base_without_worktree_lists_what_it_leaves_out(repo):
    write(repo, {"rendered/dev/a/d.yaml": dump(deployment("a", "r/a:1"))})
    commit(repo, "base")
    commit(repo, "second")
    write(repo, {"rendered/dev/a/d.yaml": dump(deployment("a", "r/a:2")), "rendered/dev/b/new.yaml": dump(deployment("b", "r/b:1"))})
    res = diff_refs(repo, "HEAD~1")
    assert res.changes == [] and res.uncommitted == ["rendered/dev/a/d.yaml", "rendered/dev/b/new.yaml"]
    assert diff_refs(repo, "HEAD~1", worktree=True).uncommitted == []


def test_cli_no_arguments_and_the_uncommitted_warning(repo):
    from .conftest import run_drydock

    write(repo, {"rendered/dev/a/d.yaml": dump(deployment("a", "r/a:1"))})
    commit(repo, "base")
    write(repo, {"rendered/dev/a/d.yaml": dump(deployment("a", "r/a:2"))})
    r = run_drydock("diff", "--format", "text", "--no-policy", cwd=repo)
    assert r.code == 0, r.err
    assert "HEAD" in r.out and "working tree" in r.out and "r/a:2" in r.out
    r = run_drydock("diff", "--base", "HEAD", "--format", "text", "--no-policy", cwd=repo)
    assert r.code == 0 and "no changes" in r.out
    assert "uncommitted changes are not included" in r.err and "--worktree" in r.err
    r = run_drydock("diff", "--head", "HEAD", cwd=repo)
    assert r.code == 2 and "--head needs --base" in r.err


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(change(), max_size=6), st.lists(long_text, max_size=3), st.sampled_from([2000, 3000, 9000, 65536]),
       hostile_text, hostile_text)
def test_every_part_is_under_the_limit_quick(changes, warnings, limit, base, head):
    """The inner loop's sample of the property above (same body, fewer examples)."""
    test_every_part_is_under_the_limit_and_nothing_escapes_code.hypothesis.inner_test(changes, warnings, limit, base, head)
