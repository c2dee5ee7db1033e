#!/usr/bin/env python3
"""Checks that #includes between aims' folders point one way.

Each folder of the tree is one library and may include only from the
folders listed for it below (and its own); docs/architecture.md shows the
same table. Tests, benchmarks and fuzz targets (tests/) may include anything.
Prints every include against the direction and exits 1 if there is one.

    python3 scripts/check-layers.py [ROOT]
"""
import os
import re
import sys

# folder -> folders it may include from, lowest layer first.
ALLOWED = {
    "common/base": [],
    "common/net": ["common/base"],
    "common/summary": ["common/base"],
    "common/rocks": ["common/base"],
    "common/intake": ["common/base", "common/summary"],
    "agent": ["common/base", "common/net", "common/summary", "common/rocks",
              "common/intake"],
    "collector/storage": ["common/base", "common/summary", "common/rocks"],
    "collector/plan": ["common/base", "common/summary"],
    "collector/auth": ["common/base", "common/net"],
    "collector/compliance": ["common/base", "common/summary", "common/rocks",
                             "collector/storage", "collector/plan"],
    "collector/notify": ["common/base", "common/net", "common/rocks",
                         "collector/storage", "collector/plan",
                         "collector/compliance"],
    "collector/evaluation": ["common/base", "common/summary",
                             "collector/storage", "collector/plan",
                             "collector/compliance", "collector/notify"],
    "collector/labels": ["common/base", "common/summary", "common/rocks",
                         "collector/storage"],
    "collector/ingest": ["common/base", "common/summary", "collector/storage",
                         "collector/auth", "collector/compliance",
                         "collector/labels"],
    "collector/api": ["common/base", "common/net", "common/summary",
                      "common/intake", "collector/storage", "collector/labels", "collector/plan", "collector/auth",
                      "collector/compliance", "collector/evaluation"],
    "collector/console": ["common/base", "common/net", "collector/auth"],
    "collector/fleet": ["common/base", "common/net", "common/summary", "collector/storage",
                        "collector/auth"],
    "collector": ["common/base", "common/net", "common/summary",
                  "common/rocks", "collector/storage", "collector/plan", "collector/auth",
                  "collector/compliance", "collector/notify",
                  "collector/evaluation", "collector/labels",
                  "collector/ingest", "collector/api",
                  "collector/console", "collector/fleet"],
    "ctl": ["common/base", "common/net", "common/summary", "common/intake",
            "collector/plan", "collector/auth"],
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def folder_of(path):
    """The most specific folder of ALLOWED that contains `path`."""
    best = None
    for folder in ALLOWED:
        if path.startswith(folder + "/") and (best is None or len(folder) > len(best)):
            best = folder
    return best


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..")
    os.chdir(root)
    bad = []
    checked = 0
    for top in ("common", "agent", "collector", "ctl"):
        for dirpath, _, files in os.walk(top):
            for name in files:
                if not name.endswith((".h", ".cc")):
                    continue
                path = os.path.join(dirpath, name)
                here = folder_of(path)
                if here is None:
                    bad.append(f"{path}: in no folder of the layer table")
                    continue
                checked += 1
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                for included in INCLUDE.findall(text):
                    there = folder_of(included)
                    if there is None or there == here:
                        continue  # generated protos, third parties, own folder
                    if there not in ALLOWED[here]:
                        bad.append(f"{path}: includes {included} "
                                   f"({here} may include only "
                                   f"{', '.join(ALLOWED[here]) or 'nothing'})")
    for line in bad:
        print(line)
    print(f"check-layers: {checked} files, {len(bad)} includes against the direction")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
