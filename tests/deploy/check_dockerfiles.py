#!/usr/bin/env python3
"""Offline lint of deploy/docker/Dockerfile.* (there is no Docker engine here,
so the images are NOT built). For each Dockerfile:

- two stages: FROM debian:bookworm AS build, then FROM debian:bookworm-slim;
- the build stage installs only packages of scripts/install-deps.sh, and all
  of the -dev packages the binaries link against;
- its `cmake --build --target` names are executables of the CMake tree, and
  the COPY'd sources are enough for CMake to configure (run for real, with
  the Dockerfile's cmake flags, on a copy of just those paths);
- every runtime package exists in Debian (`apt-cache show`), and the list is
  exactly the packages that own the shared libraries `ldd` shows for the
  binaries the image copies (mapped with `dpkg -S`; libc6 is in the base);
- USER 65532, the expected EXPOSE ports and an exec-form ENTRYPOINT naming a
  copied binary;
- the image's default command starts: the built binary runs with exactly the
  ENTRYPOINT + CMD arguments (plus, for the agent, the model flags its
  Dockerfile says to add), only the listen ports swapped for free ones and
  --data_dir for a temporary directory; it must answer /healthz and stop
  cleanly on SIGTERM;
- .dockerignore keeps build trees, var/ and node_modules out of the context.

Usage: check_dockerfiles.py SOURCE_DIR NAME=BINARY... (NAME: aims-collector,
aims-agent, aimsctl; BINARY: the built file to run ldd on).
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import socket
import tempfile
import time
import urllib.request

EXPECT = {
    "Dockerfile.collector": {"binaries": {"aims-collector", "aimsctl"}, "expose": {"4317", "9464"},
                             "entrypoint": "aims-collector", "run_with": []},
    # Its CMD comment: "add --model_name, --model_version, --task, --collector".
    "Dockerfile.agent": {"binaries": {"aims-agent"}, "expose": {"9465", "9466"},
                         "entrypoint": "aims-agent",
                         "run_with": ["--model_name=docker-check", "--model_version=1", "--task=binary",
                                      "--collector=127.0.0.1:{free}"]},
}
BASE_PACKAGES = {"libc6"}  # in every Debian image
# install-deps.sh packages a build stage needs not: tests, tools, demo, and
# lld (CMake links with it when present, with ld otherwise).
TEST_ONLY = {"git", "lld", "clang", "clang-format", "libclang-rt-dev", "libgtest-dev", "libgmock-dev",
             "libbenchmark-dev", "prometheus", "prometheus-alertmanager", "python3-numpy",
             "python3-scipy", "python3-sklearn", "curl", "procps", "openssl",
             "golang-go", "golang-github-masterminds-sprig-dev", "golang-k8s-sigs-yaml-dev",
             "python3-venv", "python3-pandas", "mypy", "chromium", "firefox-esr", "etcd-server"}

passed = 0
failed = 0


def check(name, errors):
    global passed, failed
    if errors:
        for e in errors:
            print(f"FAIL {name}: {e}")
        failed += 1
    else:
        print(f"ok   {name}")
        passed += 1


def instructions(text):
    """Dockerfile instructions as (KEYWORD, argument), continuations joined."""
    out = []
    current = ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        keyword, _, arg = current.strip().partition(" ")
        out.append((keyword.upper(), arg.strip()))
        current = ""
    return out


def apt_packages(run_arg):
    """Packages named by apt-get install in a RUN argument."""
    pkgs = []
    for command in re.split(r"&&|;", run_arg):
        words = shlex.split(command)
        while words and "=" in words[0]:  # VAR=value prefixes
            words.pop(0)
        if len(words) >= 2 and words[0] == "apt-get" and "install" in words:
            after = words[words.index("install") + 1:]
            pkgs += [w for w in after if not w.startswith("-")]
    return pkgs


def install_deps_packages(source_dir):
    text = open(os.path.join(source_dir, "scripts/install-deps.sh")).read()
    block = re.search(r"^packages=\((.*?)^\)", text, re.S | re.M).group(1)
    return set(re.sub(r"#.*", "", block).split())


# Sanitizer runtimes (gcc links them dynamically into -DAIMS_SANITIZE builds);
# no image ships a sanitized binary.
SANITIZER_RUNTIME = re.compile(r"/lib(asan|ubsan|tsan|lsan|hwasan)\.so")


def library_paths(binary):
    r = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True)
    return [m.group(1) for m in re.finditer(r"=>\s+(/\S+)", r.stdout)
            if not SANITIZER_RUNTIME.search(m.group(1))]


def owners(libs):
    """Debian package owning each shared library path (merged-/usr aware);
    one dpkg -S call for all of them (each call takes a third of a second)."""
    candidates = {}
    for lib in libs:
        forms = [lib, os.path.realpath(lib)]
        forms += [f[4:] if f.startswith("/usr/") else "/usr" + f for f in list(forms)]
        candidates[lib] = forms
    every = sorted({f for forms in candidates.values() for f in forms})
    r = subprocess.run(["dpkg", "-S"] + every, capture_output=True, text=True)
    found = {}
    for line in r.stdout.splitlines():
        pkg, _, path = line.partition(": ")
        found[path.strip()] = pkg.split(":")[0].strip()
    return {lib: next((found[f] for f in forms if f in found), None) for lib, forms in candidates.items()}


def cmake_targets(source_dir):
    targets = set()
    for root, _, files in os.walk(source_dir):
        if "/build" in root or "/." in root or "/tests" in root:
            continue
        if "CMakeLists.txt" in files:
            text = open(os.path.join(root, "CMakeLists.txt")).read()
            targets |= set(re.findall(r"add_executable\(\s*([\w-]+)", text))
    return targets


def configure(source_dir, copies, flags):
    """Runs CMake's configure step on a copy of just the COPY'd paths."""
    if flags is None:
        return ["no `cmake -S . -B DIR` line"]
    errors = []
    with tempfile.TemporaryDirectory() as ctx:
        for c in copies:
            *srcs, _dest = c
            for s in srcs:
                src = os.path.join(source_dir, s)
                dst = os.path.join(ctx, s)
                if os.path.isdir(src):
                    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
                elif os.path.exists(src):
                    shutil.copy(src, dst)
                else:
                    errors.append(f"COPY {s}: no such path")
        if not errors:
            r = subprocess.run(["cmake", "-S", ctx, "-B", os.path.join(ctx, "_build")] + flags,
                               capture_output=True, text=True)
            if r.returncode != 0:
                errors.append("cmake configure of the COPY'd sources failed:\n" + r.stderr[-2000:])
    return errors


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_default_command(binary, argv, extra):
    """Runs `binary` with the image's argv[1:] (ENTRYPOINT + CMD) and `extra`,
    ports and --data_dir swapped; errors, empty when it served /healthz and
    stopped cleanly on SIGTERM."""
    errors, args, health = [], [], None
    data_dir = tempfile.mkdtemp(prefix="aims-docker-cmd-")
    for a in argv[1:] + [e.replace("{free}", str(free_port())) for e in extra]:
        m = re.fullmatch(r"(--\w+_listen)=(.+):(\d+)", a)
        if m:
            port = free_port()
            host = m.group(2)
            a = f"{m.group(1)}={host}:{port}"
            if m.group(1) == "--http_listen":
                health = f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}/healthz"
        elif a.startswith("--data_dir="):
            a = "--data_dir=" + data_dir
        args.append(a)
    if health is None:
        return [f"no --http_listen=HOST:PORT in {argv}: nothing to probe"]
    print(f"     running {os.path.basename(binary)} {' '.join(args)}")
    # Output to a file: a pipe nobody reads while we poll could fill and block it.
    log = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen([binary] + args, stdout=log, stderr=subprocess.STDOUT, text=True)

    def output():
        log.seek(0)
        return log.read()[-2000:]
    try:
        deadline = time.monotonic() + 30
        served = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(health, timeout=1) as r:
                    served = r.status == 200
                if served:
                    break
            except OSError:
                time.sleep(0.1)
        if proc.poll() is not None:
            errors.append(f"exited {proc.returncode} with the image's default command:\n{output()}")
        elif not served:
            errors.append(f"{health} did not answer 200 within 30 s")
        if proc.poll() is None:
            proc.terminate()
            try:
                code = proc.wait(timeout=30)
                if code != 0 and not errors:
                    errors.append(f"exit code {code} after SIGTERM:\n{output()}")
            except subprocess.TimeoutExpired:
                errors.append("did not stop within 30 s of SIGTERM")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(data_dir, ignore_errors=True)
        log.close()
    return errors


def main():
    source_dir = os.path.abspath(sys.argv[1])
    binaries = dict(a.split("=", 1) for a in sys.argv[2:])
    deps = install_deps_packages(source_dir)
    build_needed = deps - TEST_ONLY
    targets = cmake_targets(source_dir)
    available = {}  # apt-cache show results
    owner = {}  # library path -> package
    configured = {}  # (COPY set, cmake flags) -> errors

    for name, want in EXPECT.items():
        path = os.path.join(source_dir, "deploy/docker", name)
        ins = instructions(open(path).read())
        stages = []
        for keyword, arg in ins:
            if keyword == "FROM":
                stages.append({"from": arg, "ins": []})
            elif stages:
                stages[-1]["ins"].append((keyword, arg))
        errors = []
        if len(stages) != 2:
            check(f"{name}: two stages", [f"{len(stages)} FROM lines"])
            continue
        build, runtime = stages
        if build["from"].lower() != "debian:bookworm as build":
            errors.append(f"build stage FROM {build['from']}, want debian:bookworm AS build")
        if runtime["from"] != "debian:bookworm-slim":
            errors.append(f"runtime stage FROM {runtime['from']}, want debian:bookworm-slim")
        check(f"{name}: stages debian:bookworm -> debian:bookworm-slim", errors)

        # Build stage.
        build_pkgs = [p for k, a in build["ins"] if k == "RUN" for p in apt_packages(a)]
        errors = [f"{p} is not in scripts/install-deps.sh" for p in build_pkgs if p not in deps]
        errors += [f"missing {p} (scripts/install-deps.sh)" for p in sorted(build_needed - set(build_pkgs))
                   if p != "build-essential" or "build-essential" not in build_pkgs]
        check(f"{name}: build packages match scripts/install-deps.sh ({len(build_pkgs)})", errors)

        runs = " ".join(a for k, a in build["ins"] if k == "RUN")
        built = set(re.findall(r"--target\s+([\w\s-]+?)(?:\s*&&|$)", runs)[0].split()) if "--target" in runs else set()
        errors = [f"target {t} is not an executable of the CMake tree" for t in sorted(built - targets)]
        errors += [f"{b} is not built" for b in sorted(want["binaries"] - built)]
        check(f"{name}: builds {' '.join(sorted(built))}", errors)

        copies = [shlex.split(a) for k, a in build["ins"] if k == "COPY"]
        cmake_line = re.search(r"cmake -S \. -B \S+ (.*?)(?:&&|$)", runs)
        flags = shlex.split(cmake_line.group(1)) if cmake_line else None
        key = json.dumps([copies, flags])
        if key not in configured:
            configured[key] = configure(source_dir, copies, flags)
        errors = configured[key]
        check(f"{name}: COPY'd sources configure with CMake", errors)

        # Runtime stage.
        runtime_pkgs = [p for k, a in runtime["ins"] if k == "RUN" for p in apt_packages(a)]
        errors = []
        unknown = [p for p in runtime_pkgs if p not in available]
        if unknown:  # one apt-cache call for all (each takes about a second)
            r = subprocess.run(["apt-cache", "show", "--no-all-versions"] + unknown,
                               capture_output=True, text=True)
            shown = set(re.findall(r"^Package: (\S+)", r.stdout, re.M))
            available.update({p: p in shown for p in unknown})
        for p in runtime_pkgs:
            if not available[p]:
                errors.append(f"apt-cache show {p}: no such package")
        check(f"{name}: {len(runtime_pkgs)} runtime packages exist in Debian", errors)

        copied = set()
        for k, a in runtime["ins"]:
            if k == "COPY" and a.startswith("--from=build"):
                *srcs, _dest = shlex.split(a)[1:]
                copied |= {os.path.basename(s) for s in srcs}
        needed, errors = {}, []
        for b in sorted(copied):
            if b not in binaries:
                errors.append(f"no built binary given for {b}")
                continue
            for lib in library_paths(binaries[b]):
                if lib not in owner:
                    owner.update(owners([lib] + [l for bb in binaries.values() for l in library_paths(bb)]))
                if owner[lib] is None:
                    errors.append(f"{b}: no package owns {lib}")
                else:
                    needed.setdefault(owner[lib], set()).add(os.path.basename(lib))
        missing = sorted(set(needed) - set(runtime_pkgs) - BASE_PACKAGES)
        extra = sorted(set(runtime_pkgs) - set(needed))
        errors += [f"missing runtime package {p} (for {', '.join(sorted(needed[p]))})" for p in missing]
        errors += [f"runtime package {p} is not needed by {', '.join(sorted(copied))}" for p in extra]
        check(f"{name}: runtime packages = ldd of {' '.join(sorted(copied))} ({len(needed)} packages)", errors)
        if copied != want["binaries"]:
            check(f"{name}: copies {sorted(want['binaries'])}", [f"copies {sorted(copied)}"])

        errors = []
        users = [a for k, a in runtime["ins"] if k == "USER"]
        if not users or users[-1].split(":")[0] != "65532":
            errors.append(f"USER {users[-1] if users else '(none)'}, want 65532")
        exposed = {p.split("/")[0] for k, a in runtime["ins"] if k == "EXPOSE" for p in a.split()}
        if exposed != want["expose"]:
            errors.append(f"EXPOSE {sorted(exposed)}, want {sorted(want['expose'])}")
        entry = [a for k, a in runtime["ins"] if k == "ENTRYPOINT"]
        try:
            argv = json.loads(entry[-1]) if entry else None
        except json.JSONDecodeError:
            argv = None
        if not argv or os.path.basename(argv[0]) != want["entrypoint"]:
            errors.append(f"ENTRYPOINT {entry}, want exec form [\".../{want['entrypoint']}\"]")
        for k, a in build["ins"] + runtime["ins"]:
            if k == "ADD":
                errors.append(f"ADD {a}: use COPY")
        check(f"{name}: USER 65532, EXPOSE {' '.join(sorted(want['expose']))}, ENTRYPOINT {want['entrypoint']}",
              errors)

        cmd = [a for k, a in runtime["ins"] if k == "CMD"]
        try:
            cmd_argv = json.loads(cmd[-1]) if cmd else []
        except json.JSONDecodeError:
            cmd_argv = None
        if argv is None or cmd_argv is None:
            check(f"{name}: default command starts", ["ENTRYPOINT and CMD must be exec form (JSON)"])
        elif want["entrypoint"] not in binaries:
            check(f"{name}: default command starts", [f"no built binary given for {want['entrypoint']}"])
        else:
            check(f"{name}: default command {' '.join(argv + cmd_argv)} starts and serves /healthz",
                  run_default_command(binaries[want["entrypoint"]], argv + cmd_argv, want["run_with"]))

    ignore = open(os.path.join(source_dir, ".dockerignore")).read().split()
    errors = []
    if "*" not in ignore:
        for pattern in ["build*", "var", "**/node_modules"]:
            if pattern not in ignore:
                errors.append(f".dockerignore lacks {pattern}")
    else:
        allowed = [p[1:] for p in ignore if p.startswith("!")]
        errors += [f".dockerignore lets {p} in" for p in allowed
                   if p.rstrip("/").startswith(("build", "var", "tests", "node_modules"))]
    check(".dockerignore keeps build trees and data out", errors)

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
