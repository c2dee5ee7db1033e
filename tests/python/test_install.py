"""`pip install ./agent/python` into a fresh venv, offline, and what a user
then has: the package importable from the venv, its metadata, and type
hints that mypy reads (py.typed).

Usage: test_install.py PACKAGE_DIR VENV_DIR. The venv (with the system's
site packages, for scikit-learn) stays for python.sklearn_example.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

PACKAGE, VENV = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
PYTHON = os.path.join(VENV, "bin", "python")

# Any download pip attempts fails at once instead of reaching an index.
OFFLINE = dict(os.environ, PIP_INDEX_URL="http://127.0.0.1:9/simple",
               PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1",
               PIP_RETRIES="0", PIP_TIMEOUT="2")
OFFLINE.pop("PYTHONPATH", None)

GOOD_USE = """
from aims_client import AimsClient, MonitoredModel, Predicted
client = AimsClient("http://127.0.0.1:9465", token="t", headers={"X-A": "b"})
ok: bool = client.label("p-1", 1)
"""

BAD_USE = """
from aims_client import AimsClient
AimsClient("http://127.0.0.1:9465").label(["p-1"], 1)
"""


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", VENV],
                       check=True)
        cls.pip = subprocess.run([os.path.join(VENV, "bin", "pip"), "install", PACKAGE],
                                 env=OFFLINE, capture_output=True, text=True, timeout=120)

    def test_pip_install_works_offline(self) -> None:
        self.assertEqual(self.pip.returncode, 0, self.pip.stdout + self.pip.stderr)
        self.assertIn("Successfully installed aims-client", self.pip.stdout)

    def test_the_installed_package_imports_with_its_metadata(self) -> None:
        out = subprocess.run(
            [PYTHON, "-c", "import aims_client, importlib.metadata as m, os\n"
             "d = os.path.dirname(aims_client.__file__)\n"
             "print(d); print(m.version('aims-client'), aims_client.__version__)\n"
             "print(os.path.exists(os.path.join(d, 'py.typed')))"],
            cwd="/", env=OFFLINE, capture_output=True, text=True, check=True).stdout.split("\n")
        self.assertTrue(out[0].startswith(os.path.join(VENV, "lib")), out[0])
        version, own = out[1].split()
        self.assertEqual(version, own)
        self.assertEqual(out[2], "True")

    def test_mypy_reads_the_installed_type_hints(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            results = []
            for name, text in (("good.py", GOOD_USE), ("bad.py", BAD_USE)):
                path = os.path.join(tmp, name)
                with open(path, "w") as f:
                    f.write(text)
                results.append(subprocess.run(
                    ["mypy", "--strict", "--cache-dir", VENV + ".mypy_cache",
                     "--python-executable", PYTHON, path], cwd=tmp, env=OFFLINE, capture_output=True, text=True))
        good, bad = results
        self.assertEqual(good.returncode, 0, good.stdout)
        self.assertEqual(bad.returncode, 1, bad.stdout)
        self.assertIn('Argument 1 to "label" of "AimsClient" has incompatible type', bad.stdout)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
