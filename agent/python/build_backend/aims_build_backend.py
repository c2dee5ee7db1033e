"""PEP 517 / PEP 660 build backend for aims-client, standard library only.

pip builds a package in an isolated environment into which it installs the
backend's `requires`; setuptools there means a download, which fails
offline. This backend needs nothing (`requires = []`), so
`pip install ./agent/python` works without an index. It packs `src/` into a
pure-Python wheel (py3-none-any) whose metadata comes from pyproject.toml's
[project] table; only the keys that file uses are supported.
"""

import base64
import csv
import hashlib
import io
import os
import re
import tarfile
import zipfile
from typing import Any, Dict, Iterator, List, Optional, Tuple

Config = Optional[Dict[str, Any]]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")


def _project() -> Dict[str, Any]:
    """The [project] table of pyproject.toml."""
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        raw = f.read()
    project: Dict[str, Any] = {}
    try:
        import tomllib  # Python 3.11+
        project = tomllib.loads(raw.decode())["project"]
        return project
    except ImportError:
        pass
    # Python 3.9/3.10: the `key = "string"` lines of [project] suffice.
    section = None
    for line in raw.decode().splitlines():
        header = re.match(r"^\[(.+)\]\s*$", line)
        if header:
            section = header.group(1)
            continue
        item = re.match(r'^([\w-]+)\s*=\s*"(.*)"\s*$', line)
        if section == "project" and item:
            project[item.group(1)] = item.group(2)
    return project


def _names() -> Tuple[Dict[str, Any], str, str]:
    project = _project()
    name = project["name"]
    return project, re.sub(r"[-_.]+", "_", name).lower(), project["version"]


def _metadata() -> str:
    project, _, version = _names()
    lines = ["Metadata-Version: 2.1", "Name: " + project["name"],
             "Version: " + version]
    if "description" in project:
        lines.append("Summary: " + project["description"])
    if "requires-python" in project:
        lines.append("Requires-Python: " + project["requires-python"])
    license_ = project.get("license")
    if isinstance(license_, dict) and "text" in license_:
        lines.append("License: " + license_["text"])
    body = ""
    readme = project.get("readme")
    if readme:
        lines.append("Description-Content-Type: text/markdown")
        with open(os.path.join(ROOT, readme), encoding="utf-8") as f:
            body = "\n" + f.read()
    return "\n".join(lines) + "\n" + body


_WHEEL = ("Wheel-Version: 1.0\nGenerator: aims_build_backend\n"
          "Root-Is-Purelib: true\nTag: py3-none-any\n")


def _package_files() -> Iterator[Tuple[str, str]]:
    """(archive name, path) of every file under src/, caches left out."""
    for folder, dirs, files in os.walk(SRC):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            path = os.path.join(folder, name)
            yield os.path.relpath(path, SRC).replace(os.sep, "/"), path


def _write_wheel(directory: str, contents: List[Tuple[str, bytes]]) -> str:
    """Writes a wheel of `contents` [(archive name, bytes)] plus metadata."""
    _, dist, version = _names()
    info = "%s-%s.dist-info" % (dist, version)
    contents = list(contents) + [(info + "/METADATA", _metadata().encode()),
                                 (info + "/WHEEL", _WHEEL.encode())]
    filename = "%s-%s-py3-none-any.whl" % (dist, version)
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    with zipfile.ZipFile(os.path.join(directory, filename), "w",
                         zipfile.ZIP_DEFLATED) as wheel:
        for name, data in contents:
            wheel.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
            writer.writerow([name, "sha256=" + digest.rstrip(b"=").decode(),
                             len(data)])
        writer.writerow([info + "/RECORD", "", ""])
        wheel.writestr(info + "/RECORD", record.getvalue())
    return filename


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


# PEP 517 hooks.

def get_requires_for_build_wheel(config_settings: Config = None) -> List[str]:
    return []


def get_requires_for_build_sdist(config_settings: Config = None) -> List[str]:
    return []


def get_requires_for_build_editable(config_settings: Config = None) -> List[str]:
    return []


def prepare_metadata_for_build_wheel(metadata_directory: str,
                                     config_settings: Config = None) -> str:
    _, dist, version = _names()
    info = "%s-%s.dist-info" % (dist, version)
    os.makedirs(os.path.join(metadata_directory, info), exist_ok=True)
    for name, text in (("METADATA", _metadata()), ("WHEEL", _WHEEL)):
        with open(os.path.join(metadata_directory, info, name), "w",
                  encoding="utf-8") as f:
            f.write(text)
    return info


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory: str, config_settings: Config = None,
                metadata_directory: Optional[str] = None) -> str:
    return _write_wheel(wheel_directory,
                        [(name, _read(path)) for name, path in _package_files()])


def build_editable(wheel_directory: str, config_settings: Config = None,
                   metadata_directory: Optional[str] = None) -> str:
    """PEP 660: a wheel whose .pth file puts this tree's src/ on sys.path."""
    _, dist, _ = _names()
    return _write_wheel(wheel_directory, [(dist + ".pth", (SRC + "\n").encode())])


def build_sdist(sdist_directory: str, config_settings: Config = None) -> str:
    _, dist, version = _names()
    base = "%s-%s" % (dist, version)
    filename = base + ".tar.gz"
    files = [("pyproject.toml", os.path.join(ROOT, "pyproject.toml")),
             ("README.md", os.path.join(ROOT, "README.md")),
             ("build_backend/aims_build_backend.py", os.path.abspath(__file__))]
    files += [("src/" + name, path) for name, path in _package_files()]
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz") as tar:
        for name, path in files:
            tar.add(path, arcname=base + "/" + name, recursive=False)
        pkg_info = _metadata().encode()
        member = tarfile.TarInfo(base + "/PKG-INFO")
        member.size = len(pkg_info)
        tar.addfile(member, io.BytesIO(pkg_info))
    return filename
