"""Real aims binaries on free loopback ports for the Python tests: each
writes the ports it bound to a --ports_file, as tests/integration does."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import List, Optional


class Process:
    """A started binary; `stop()` sends SIGTERM (a clean stop: an agent
    closes its window and drains its spool) and waits."""

    def __init__(self, argv: List[str], directory: str, name: str) -> None:
        self.name = name
        self.log = os.path.join(directory, name + ".log")
        self.ports_file = os.path.join(directory, name + ".ports")
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                argv + ["--data_dir=" + os.path.join(directory, name),
                        "--ports_file=" + self.ports_file], stderr=log)

    def port(self, kind: str, timeout: float = 20.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if os.path.exists(self.ports_file):
                with open(self.ports_file) as f:
                    for line in f:
                        parts = line.split()
                        if len(parts) == 2 and parts[0] == kind:
                            return int(parts[1])
            time.sleep(0.02)
        raise RuntimeError("%s listed no %s port; its log:\n%s"
                           % (self.name, kind, self.read_log()))

    def read_log(self) -> str:
        with open(self.log, errors="replace") as f:
            return f.read()

    def stop(self, timeout: float = 30.0) -> Optional[int]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


def start_agent(directory: str, name: str, *flags: str) -> Process:
    return Process([os.environ["AIMS_AGENT_BIN"], "--http_listen=127.0.0.1:0",
                    "--grpc_listen="] + list(flags),
                   directory, name)


def start_collector(directory: str, *flags: str) -> Process:
    return Process([os.environ["AIMS_COLLECTOR_BIN"], "--grpc_listen=127.0.0.1:0",
                    "--http_listen=127.0.0.1:0"] + list(flags), directory, "collector")
