"""The issue-26 promise: a scikit-learn model integrated with delayed labels
in under 15 lines of aims-specific code. Runs
agent/python/examples/sklearn_wrapper.py with the venv's python (where
python.install put the package; AIMS_PYTHON_VENV) against a real
aims-collector and a binary aims-agent that requires a token, then asks the
collector (aimsctl) for the model's accuracy: sufficient, over the 200
labelled predictions, and equal to scikit-learn's on the same rows."""

import ast
import hashlib
import json
import os
import re
import subprocess
import tempfile
import time
import unittest
from typing import Any, Dict, List

from aims_processes import start_agent, start_collector

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                        "agent", "python", "examples")
EXAMPLE = os.path.join(EXAMPLES, "sklearn_wrapper.py")
DOCS = os.path.join(EXAMPLES, "..", "..", "..", "docs", "python.md")
PYTHON = os.environ["AIMS_PYTHON_VENV"]
TOKEN = "aims_example-token"


def aims_specific_lines(text: str, inside: bool = False) -> Dict[int, str]:
    """Code lines (by number) between the `# aims: begin` / `# aims: end`
    markers, plus lines marked `# aims:`."""
    lines = {}
    for number, line in enumerate(text.splitlines(), 1):
        code = line.split("#")[0].strip()
        if line.strip() == "# aims: begin":
            inside = True
        elif line.strip() == "# aims: end":
            inside = False
        elif code and (inside or line.rstrip().endswith("# aims:")):
            lines[number] = code
    return lines


class SklearnExampleTest(unittest.TestCase):
    def test_aims_specific_code_is_under_15_lines(self) -> None:
        with open(EXAMPLE) as f:
            text = f.read()
        counted = aims_specific_lines(text)
        self.assertLess(len(counted), 15, counted)
        # Every use of aims in the code is on a counted line.
        uses = [node.lineno for node in ast.walk(ast.parse(text))
                if isinstance(node, ast.Name) and node.id in ("aims_client", "client", "monitored")
                or isinstance(node, ast.Import) and node.names[0].name == "aims_client"]
        self.assertGreater(len(uses), 5)
        for line in uses:
            self.assertIn(line, counted)
        self.assertNotIn("sys.path", text)
        # docs/python.md shows the same lines, in order.
        with open(DOCS) as f:
            docs = f.read()
        shown = re.search(r"```python\n(import aims_client\n.*?)```", docs, re.S)
        assert shown is not None, "docs/python.md lost the example"
        self.assertEqual(list(aims_specific_lines(shown.group(1) + "# aims: end\n",
                                                  inside=True).values()),
                         list(counted.values()))

    def test_delayed_labels_make_accuracy_sufficient_at_the_collector(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            collector = start_collector(tmp)
            try:
                grpc = "127.0.0.1:%d" % collector.port("grpc")
                self.run_example(tmp, grpc)
                accuracy = self.wait_for_accuracy(grpc)
                groups = self.metrics(grpc, "selection_rate")
            finally:
                collector.stop()
        self.assertEqual(accuracy["state"], "EVIDENCE_STATE_OK", accuracy)
        self.assertEqual(int(accuracy["sample_size"]), 200)
        self.assertAlmostEqual(accuracy["value"], self.sklearn_accuracy(), places=12)
        self.assertEqual(sorted((g["group"], int(g["sample_size"])) for g in groups),
                         [("north", 100), ("south", 100)])

    def run_example(self, tmp: str, grpc: str) -> None:
        digest = hashlib.sha256(TOKEN.encode()).hexdigest()
        agent = start_agent(tmp, "agent", "--model_name=cancer", "--model_version=v1",
                            "--task=binary", "--window=1s", "--collector=" + grpc,
                            "--intake_token_sha256=" + digest)
        try:
            url = "http://127.0.0.1:%d" % agent.port("http")
            env = dict(os.environ, AIMS_INTAKE_TOKEN=TOKEN)
            env.pop("PYTHONPATH", None)  # the installed package, not the tree
            run = subprocess.run([PYTHON, EXAMPLE, "--agent", url, "--label_delay", "1"],
                                 env=env, capture_output=True, text=True, timeout=120)
            self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
            self.assertIn("'accepted': 200, 'rejected': 0", run.stdout)
        finally:
            # A clean stop closes the open window and drains the spool.
            self.assertEqual(agent.stop(), 0, agent.read_log())

    def metrics(self, grpc: str, name: str) -> List[Dict[str, Any]]:
        out = subprocess.run(
            [os.environ["AIMS_CTL_BIN"], "--collector=" + grpc, "--json", "metrics",
             "--model=cancer", "--version=v1", "--since=1h", "--metric=" + name],
            capture_output=True, text=True, check=True).stdout
        points = json.loads(out).get("points", [])
        return points[0]["values"] if points else []

    def wait_for_accuracy(self, grpc: str) -> Dict[str, Any]:
        # The agent acknowledged its last window before it exited; the
        # collector's query may lag its write by an instant.
        deadline = time.monotonic() + 20
        while True:
            values = self.metrics(grpc, "accuracy")
            if (values and int(values[0]["sample_size"]) >= 200) or time.monotonic() > deadline:
                return values[0] if values else {}
            time.sleep(0.2)

    def sklearn_accuracy(self) -> float:
        code = ("import sklearn_wrapper as e, sklearn.metrics as m\n"
                "model, X, y, _ = e.train()\n"
                "print(repr(m.accuracy_score(y, model.predict(X))))")
        out = subprocess.run([PYTHON, "-c", code], env=dict(os.environ, PYTHONPATH=EXAMPLES),
                             capture_output=True, text=True, check=True).stdout
        return float(out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
