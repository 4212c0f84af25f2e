"""JUnit XML for CI test-report viewers (GitHub test reporters, Jenkins, GitLab).

Layout: `<testsuites>` > one `<testsuite>` per rule id > one `<testcase>` per finding
(classname = the rendered file, name = resource). Blocking findings are `<failure>`,
waived ones `<skipped>`, findings below the threshold pass with their text in
`<system-out>`. A report without findings has one passing `drydock` testcase so
viewers show the gate ran.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from ...core import Finding, Report
from ._common import blocking_set, is_blocking, location, ordered, summary_line, waiver_text

# Characters XML 1.0 cannot hold at all, even escaped.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", str(text))


def _details(f: Finding) -> str:
    lines = [f"{f.severity.name} {f.rule_id}: {f.message}"]
    lines.append(f"resource: {f.resource.display()}")
    if location(f):
        lines.append(f"file: {location(f)}")
    if f.source:
        lines.append(f"source: {f.source.file}:{f.source.line}")
    if f.fix:
        lines.append(f"fix: {f.fix}")
    if f.url:
        lines.append(f"see: {f.url}")
    return _clean("\n".join(lines))


def _testcase(suite: ET.Element, f: Finding, blocking: frozenset) -> str:
    """Add one testcase; return 'failure', 'skipped' or 'passed'."""
    name = f.resource.display()
    if f.line:
        name += f" (line {f.line})"
    tc = ET.SubElement(
        suite,
        "testcase",
        {"classname": _clean(f.file or f.rule_id), "name": _clean(f"{f.rule_id} {name}"), "time": "0"},
    )
    if f.file:
        tc.set("file", _clean(f.file))
        if f.line:
            tc.set("line", str(f.line))
    if f.waived:
        sk = ET.SubElement(tc, "skipped", {"message": _clean(waiver_text(f))})
        sk.text = _details(f)
        return "skipped"
    if is_blocking(f, blocking):
        fl = ET.SubElement(tc, "failure", {"message": _clean(f.message), "type": f.severity.name})
        fl.text = _details(f)
        return "failure"
    out = ET.SubElement(tc, "system-out")
    out.text = _details(f)
    return "passed"


def render(report: Report, *, color: bool = False, rules: dict | None = None) -> str:
    findings = ordered(report)
    blocking = blocking_set(report)
    root = ET.Element("testsuites", {"name": "drydock"})
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    by_rule: dict[str, list[Finding]] = {}
    for f in findings:
        by_rule.setdefault(f.rule_id, []).append(f)
    if not by_rule:
        suite = ET.SubElement(root, "testsuite", {"name": "drydock", "tests": "1", "failures": "0",
                                                  "errors": "0", "skipped": "0", "time": "0"})
        tc = ET.SubElement(suite, "testcase", {"classname": "drydock", "name": "gate", "time": "0"})
        ET.SubElement(tc, "system-out").text = summary_line(report)
        totals["tests"] = 1
    for rule_id in sorted(by_rule):
        group = by_rule[rule_id]
        title = next((f.title for f in group if f.title), rule_id)
        suite = ET.SubElement(root, "testsuite", {"name": _clean(f"{rule_id} {title}")})
        counts = {"failure": 0, "skipped": 0, "passed": 0}
        for f in group:
            counts[_testcase(suite, f, blocking)] += 1
        suite.set("tests", str(len(group)))
        suite.set("failures", str(counts["failure"]))
        suite.set("errors", "0")
        suite.set("skipped", str(counts["skipped"]))
        suite.set("time", "0")
        totals["tests"] += len(group)
        totals["failures"] += counts["failure"]
        totals["skipped"] += counts["skipped"]
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", "0")
    root.set("skipped", str(totals["skipped"]))
    root.set("time", "0")
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
