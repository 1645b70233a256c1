"""A single-node SLURM cluster on loopback, for tests: its own munge key and socket, a minimal slurm.conf
without accounting storage, free ports, and slurmctld / slurmd in the foreground, stopped by PID.

Needs Debian's slurm-wlm daemons (slurmctld, slurmd, slurm-client), munge, root (SlurmUser=root) and
snakemake-executor-plugin-slurm; `missing()` names what is absent so the test can skip saying why.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

BINARIES = ("munged", "munge", "slurmctld", "slurmd", "sbatch", "srun", "squeue", "scancel", "sinfo")
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def which(name: str) -> str | None:
    return shutil.which(name, path=SEARCH_PATH)


def missing() -> str | None:
    """Why no loopback cluster can start here, or None."""
    absent = [name for name in BINARIES if which(name) is None]
    if absent:
        return f"not installed: {', '.join(absent)} (apt-get install slurmctld slurmd slurm-client munge)"
    if os.geteuid() != 0:
        return "the loopback cluster runs its daemons as root (SlurmUser=root)"
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm is not installed (pip install -e '.[slurm]')"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_mib() -> int:
    with open("/proc/meminfo") as f:
        total_kib = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
    return int(total_kib / 1024 * 0.8)


class LoopbackSlurm:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.node = socket.gethostname().split(".")[0]
        self.conf = self.folder / "slurm.conf"
        self.munge_socket = self.folder / "munge" / "munge.socket"
        self.processes: list[subprocess.Popen] = []

    @property
    def env(self) -> dict:
        path = os.pathsep.join([str(self.folder / "bin"), SEARCH_PATH])
        return {**os.environ, "SLURM_CONF": str(self.conf), "PATH": path}

    def _srun_wrapper(self) -> None:
        """Snakemake's job step drops every SLURM_* variable before its nested srun, SLURM_CONF included;
        an srun first on PATH that sets it points that srun at this cluster without writing /etc/slurm."""
        wrapper = self.folder / "bin" / "srun"
        wrapper.parent.mkdir()
        wrapper.write_text(f'#!/bin/sh\nSLURM_CONF="{self.conf}" exec "{which("srun")}" "$@"\n')
        wrapper.chmod(0o755)

    def __enter__(self) -> LoopbackSlurm:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _daemon(self, name: str, *args: str) -> None:
        log = open(self.folder / f"{name}.out", "wb")  # noqa: SIM115 (open while the daemon runs)
        self.processes.append(
            subprocess.Popen([which(name), *args], stdout=log, stderr=subprocess.STDOUT, env=self.env)
        )

    def start(self) -> None:
        munge_dir = self.munge_socket.parent
        munge_dir.mkdir(parents=True)
        munge_dir.chmod(0o755)
        key = munge_dir / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self._daemon(
            "munged",
            "--foreground",
            "--force",
            f"--key-file={key}",
            f"--socket={self.munge_socket}",
            f"--pid-file={munge_dir / 'munged.pid'}",
            f"--log-file={munge_dir / 'munged.log'}",
            f"--seed-file={munge_dir / 'munged.seed'}",
        )
        self._wait(lambda: self.munge_socket.exists(), "munged to create its socket", "munged.out")
        for sub in ("state", "spool"):
            (self.folder / sub).mkdir()
        self.conf.write_text(self._config())
        self._srun_wrapper()
        self._daemon("slurmctld", "-D", "-f", str(self.conf))
        self._daemon("slurmd", "-D", "-f", str(self.conf), "-N", self.node)
        self._wait(self._idle, "the node to become idle", "slurmctld.log")

    def _config(self) -> str:
        f = self.folder
        return "\n".join(
            [
                "ClusterName=loopback",
                f"SlurmctldHost={self.node}(127.0.0.1)",
                f"SlurmctldPort={free_port()}",
                f"SlurmdPort={free_port()}",
                "AuthType=auth/munge",
                "CredType=cred/munge",
                f"AuthInfo=socket={self.munge_socket}",
                "SlurmUser=root",
                "SlurmdUser=root",
                f"StateSaveLocation={f / 'state'}",
                f"SlurmdSpoolDir={f / 'spool'}",
                f"SlurmctldPidFile={f / 'slurmctld.pid'}",
                f"SlurmdPidFile={f / 'slurmd.pid'}",
                f"SlurmctldLogFile={f / 'slurmctld.log'}",
                f"SlurmdLogFile={f / 'slurmd.log'}",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "MpiDefault=none",
                "SchedulerType=sched/backfill",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_Core_Memory",
                "DefMemPerCPU=1000",
                "ReturnToService=2",
                "MinJobAge=300",  # squeue reports finished jobs this long: the status query without accounting
                "AccountingStorageType=accounting_storage/none",
                "JobCompType=jobcomp/none",
                "JobAcctGatherType=jobacct_gather/none",
                f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory={memory_mib()} "
                "State=UNKNOWN",
                f"PartitionName=debug Nodes={self.node} Default=YES MaxTime=INFINITE State=UP",
                "",
            ]
        )

    def _idle(self) -> bool:
        result = subprocess.run([which("sinfo"), "-h", "-o", "%T"], capture_output=True, text=True, env=self.env)
        return result.returncode == 0 and result.stdout.strip() == "idle"

    def _wait(self, ready, what: str, log: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            dead = [p.args[0] for p in self.processes if p.poll() is not None]
            if dead:
                break
            time.sleep(0.5)
        path = self.folder / log
        tail = path.read_text(errors="replace")[-2000:] if path.exists() else "(no log)"
        raise RuntimeError(f"loopback SLURM: gave up waiting for {what}; exited: {dead}; {log}:\n{tail}")

    def jobs(self) -> list[tuple[str, str, str]]:
        """(job id, state, comment) of every job squeue knows."""
        result = subprocess.run(
            [which("squeue"), "-h", "-o", "%i|%T|%k"], capture_output=True, text=True, env=self.env, check=True
        )
        return [tuple(line.split("|", 2)) for line in result.stdout.splitlines() if line.strip()]

    def cancel(self, job_id: str) -> None:
        subprocess.run([which("scancel"), job_id], env=self.env, check=True)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes.clear()
