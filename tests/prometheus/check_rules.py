#!/usr/bin/python3
"""Checks deploy/prometheus's rule files beyond what promtool does.

The rule files are those aims-rules.test.yml tests (its rule_files:
aims-rules.yml and aims-fleet-rules.yml); each passes `promtool check rules`.
Every alert has a runbook_url naming a file of the source tree and a heading
of that file (GitHub's anchor of it), and aims-rules.test.yml tests it at
least once firing (exp_alerts not empty) and once not firing (empty).

Usage: check_rules.py SOURCE_DIR
"""
import os
import re
import subprocess
import sys

import yaml


def anchors(markdown):
    """GitHub's anchors of the headings of a Markdown text."""
    out = set()
    for line in markdown.splitlines():
        m = re.match(r"#{1,6}\s+(.*)", line)
        if m:
            text = re.sub(r"[`*_]", "", m.group(1).strip().lower())
            text = re.sub(r"[^\w\- ]", "", text)
            out.add(text.replace(" ", "-"))
    return out


def main(source_dir):
    rules_dir = os.path.join(source_dir, "deploy", "prometheus")
    with open(os.path.join(rules_dir, "aims-rules.test.yml")) as f:
        tests = yaml.safe_load(f)
    errors = []
    alerts = []
    files = tests["rule_files"]
    if "aims-rules.yml" not in files:
        errors.append(f"aims-rules.test.yml tests {files}, not aims-rules.yml")
    for name in files:
        path = os.path.join(rules_dir, name)
        check = subprocess.run(["promtool", "check", "rules", path],
                               capture_output=True, text=True)
        if check.returncode != 0:
            errors.append(f"promtool check rules {name}: {check.stdout}{check.stderr}")
        with open(path) as f:
            rules = yaml.safe_load(f)
        alerts += [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    names = [r["alert"] for r in alerts]
    for name in sorted({n for n in names if names.count(n) > 1}):
        errors.append(f"{name}: defined more than once")
    for rule in alerts:
        name = rule["alert"]
        url = rule.get("annotations", {}).get("runbook_url", "")
        path, _, anchor = url.partition("#")
        full = os.path.join(source_dir, path)
        if not path or not anchor or not os.path.isfile(full):
            errors.append(f"{name}: runbook_url '{url}' names no file#anchor")
        else:
            with open(full) as f:
                if anchor not in anchors(f.read()):
                    errors.append(f"{name}: no heading for #{anchor} in {path}")
    cases = {}
    for group in tests["tests"]:
        for case in group.get("alert_rule_test", []):
            fired = bool(case.get("exp_alerts"))
            cases.setdefault(case["alertname"], set()).add(fired)
    for rule in alerts:
        got = cases.get(rule["alert"], set())
        for fired, what in ((True, "firing"), (False, "not firing")):
            if fired not in got:
                errors.append(f"{rule['alert']}: no promtool case {what}")
    for name in sorted(set(cases) - {r["alert"] for r in alerts}):
        errors.append(f"{name}: tested but not a rule")
    for e in errors:
        print(e)
    print(f"{len(alerts)} alerts in {', '.join(files)}, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
