"""tabpipe.core.threads: the CPUs a process may use (affinity, cgroup quota) and the pools."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import onnxruntime as ort
import pytest

from tabpipe.core import threads

ROOT = Path(__file__).resolve().parents[2]


def cgroups(tmp_path: Path, membership: str, files: dict[str, str]) -> tuple[Path, Path]:
    """A fake /sys/fs/cgroup tree and /proc/self/cgroup."""
    root = tmp_path / "cgroup"
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text + "\n")
    root.mkdir(exist_ok=True)
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text(membership + "\n")
    return root, proc


@pytest.mark.parametrize(
    ("membership", "files", "quota"),
    [
        # cgroup v2 in a container: the process sits at the root of its namespace
        ("0::/", {"cpu.max": "150000 100000"}, 1.5),
        ("0::/", {"cpu.max": "max 100000"}, None),
        # v2 on a host: the smallest limit on the way up applies
        (
            "0::/user.slice/job.scope",
            {
                "user.slice/job.scope/cpu.max": "max 100000",
                "user.slice/cpu.max": "100000 100000",
                "cpu.max": "400000 100000",
            },
            1.0,
        ),
        # v1, cpu and cpuacct mounted together
        (
            "4:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc",
            {"cpu,cpuacct/cpu.cfs_quota_us": "50000", "cpu,cpuacct/cpu.cfs_period_us": "100000"},
            0.5,
        ),
        ("1:cpu:/", {"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, None),
        # hybrid: a v2 line without cpu.max, the quota in the v1 cpu hierarchy
        (
            "0::/\n1:cpu:/",
            {"cpu/cpu.cfs_quota_us": "200000", "cpu/cpu.cfs_period_us": "100000"},
            2.0,
        ),
        ("0::/", {}, None),
        ("0::/", {"cpu.max": "garbage"}, None),
    ],
)
def test_the_cgroup_quota_is_read_from_v2_and_v1_files(tmp_path, membership, files, quota):
    root, proc = cgroups(tmp_path, membership, files)
    assert threads.cgroup_cpus(root, proc) == quota


@pytest.mark.parametrize(
    ("affinity", "cpu_max", "expected"),
    [
        (8, "150000 100000", 2),
        (8, "max 100000", 8),
        (1, "400000 100000", 1),
        (4, "10000 100000", 1),
    ],
)
def test_available_cpus_is_the_affinity_capped_by_the_quota_rounded_up(
    tmp_path, affinity, cpu_max, expected
):
    root, proc = cgroups(tmp_path, "0::/", {"cpu.max": cpu_max})
    assert threads.available_cpus(affinity, root, proc) == expected


def test_no_cgroup_files_leaves_the_affinity(tmp_path):
    assert threads.available_cpus(3, tmp_path / "absent", tmp_path / "absent-proc") == 3
    assert threads.affinity_cpus() >= 1


def test_configure_sets_the_pools_and_passive_waiting_but_keeps_what_the_user_set():
    env = {"MKL_NUM_THREADS": "7", "OMP_WAIT_POLICY": "ACTIVE"}
    assert threads.configure(env, cpus=3) == 3
    assert env == {
        "OMP_NUM_THREADS": "3",
        "OPENBLAS_NUM_THREADS": "3",
        "MKL_NUM_THREADS": "7",
        "OMP_WAIT_POLICY": "ACTIVE",
        threads.SET_BY_TABPIPE: "OMP_NUM_THREADS,OPENBLAS_NUM_THREADS",  # for its children
    }
    user = {"OMP_NUM_THREADS": "1"}
    assert threads.configure(user, cpus=4) == 1  # the user's choice is what pools get
    assert threads.user_set_threads(user)
    assert not threads.user_set_threads(env)


def test_a_child_process_knows_which_thread_counts_tabpipe_set():
    parent: dict[str, str] = {}
    threads.configure(parent, cpus=2)
    child = dict(parent)  # what a stage started by dvc inherits
    threads.configure(child, cpus=2)
    assert not threads.user_set_threads(child)
    assert threads.threads_for_rows(10, child) == 1


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (0, 1),
        (3_563, 1),
        (threads.ONE_THREAD_BELOW_ROWS - 1, 1),
        (threads.ONE_THREAD_BELOW_ROWS, 4),
    ],
)
def test_small_fits_run_on_one_thread_and_large_ones_on_the_pool(rows, expected):
    env: dict[str, str] = {}
    threads.configure(env, cpus=4)
    assert threads.threads_for_rows(rows, env) == expected


def test_a_thread_count_the_user_set_holds_for_every_size():
    user = {"OMP_NUM_THREADS": "2"}
    threads.configure(user, cpus=4)
    assert threads.threads_for_rows(10, user) == 2


def test_sized_for_limits_the_loaded_openmp_pool_inside_the_block_only(monkeypatch):
    import sklearn.ensemble  # noqa: F401  (loads scikit-learn's OpenMP runtime)
    from threadpoolctl import threadpool_info

    monkeypatch.setenv(threads.SET_BY_TABPIPE, "OMP_NUM_THREADS")  # whatever the shell set

    def openmp() -> set[int]:
        return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"}

    before = openmp()
    assert before, "scikit-learn's OpenMP runtime is loaded"
    with threads.sized_for(10) as inside:
        assert inside == 1
        assert openmp() == {1}
    assert openmp() == before


@pytest.mark.parametrize(("value", "expected"), [("4", 4), ("4,2", 4), ("", 9), ("x", 9)])
def test_pool_threads_reads_omp_num_threads(value, expected):
    assert threads.pool_threads({"OMP_NUM_THREADS": value}, default=9) == expected


def test_onnxruntime_sessions_get_one_pool_of_the_available_cpus_and_do_not_spin(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    options = threads.onnxruntime_options(ort.SessionOptions())
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (3, 1)
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


ENTRY_POINT = """
import json, os, sys
import {module}
from threadpoolctl import threadpool_info
pools = sorted({{p["user_api"]: p["num_threads"] for p in threadpool_info()}}.items())
print(json.dumps({{"env": {{k: os.environ.get(k) for k in {names}}}, "pools": pools}}))
"""


@pytest.mark.parametrize("module", ["tabpipe.pipeline.train", "tabpipe.serving.app"])
def test_an_entry_point_sizes_the_pools_before_numpy_loads(module):
    names = [*threads.POOL_VARIABLES, threads.WAIT_POLICY]
    env = {k: v for k, v in os.environ.items() if k not in names}
    done = subprocess.run(
        [sys.executable, "-c", ENTRY_POINT.format(module=module, names=names)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    seen = json.loads(done.stdout)
    cpus = str(threads.available_cpus())
    assert seen["env"] == {
        **dict.fromkeys(threads.POOL_VARIABLES, cpus),
        "OMP_WAIT_POLICY": "PASSIVE",
    }
    assert seen["pools"] and all(count == int(cpus) for _, count in seen["pools"]), seen


def test_the_module_imports_only_the_standard_library():
    """The serving image carries it without scikit-learn or numpy."""
    probe = (
        "import sys; before = set(sys.modules); import tabpipe.core.threads; "
        "print('\\n'.join(sorted(set(sys.modules) - before)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = {name.split(".")[0] for name in done.stdout.split()}
    assert loaded - sys.stdlib_module_names - {"tabpipe"} == set()
