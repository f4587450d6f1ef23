"""`import gdlab` gives JAX a CPU device per core, and leaves any choice already made alone."""

import os
import subprocess
import sys

import pytest

from gdlab.engine.devices import usable_cores, use_cpu_cores

SHOW = "import gdlab, jax; print(len(jax.devices('cpu')), gdlab.use_cpu_cores())"


def devices_in_fresh_process(code=SHOW, args=(), **env):
    full = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "GDLAB_CPU_DEVICES")}
    full.update(env)
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=full, timeout=120)
    return out.returncode, out.stdout.split(), out.stderr


def test_one_cpu_device_per_usable_core_by_default():
    rc, out, err = devices_in_fresh_process()
    assert rc == 0, err
    # the count is set at import; a second call finds JAX started and changes nothing
    assert out == [str(usable_cores()), "None"]
    assert usable_cores() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("env, expect", [
    ({"GDLAB_CPU_DEVICES": "1"}, "1"),                                       # JAX's own default
    ({"GDLAB_CPU_DEVICES": "3"}, "3"),                                       # asked for
    ({"XLA_FLAGS": "--xla_force_host_platform_device_count=3"}, "3"),       # the caller's choice kept
])
def test_a_chosen_count_is_kept(env, expect):
    rc, out, err = devices_in_fresh_process(**env)
    assert rc == 0, err
    assert out[0] == expect


def test_jax_num_cpu_devices_set_before_import_is_kept():
    code = "import jax; jax.config.update('jax_num_cpu_devices', 3); " + SHOW
    rc, out, err = devices_in_fresh_process(code)
    assert rc == 0, err
    assert out[0] == "3"


@pytest.mark.parametrize("bad", ["two", "0", "-1"])
def test_a_bad_count_is_refused_by_name(bad):
    rc, out, err = devices_in_fresh_process(GDLAB_CPU_DEVICES=bad)
    assert rc != 0
    assert "GDLAB_CPU_DEVICES must be a whole number of devices ≥ 1" in err and repr(bad) in err


def test_once_jax_has_run_the_count_stays():
    import jax
    jax.numpy.zeros(1).block_until_ready()
    before = len(jax.devices("cpu"))
    assert use_cpu_cores(before + 1) is None
    assert len(jax.devices("cpu")) == before


FAULTS = """
import resource, sys, numpy as np
import gdlab
from gdlab.engine import devices
if sys.argv[1] == "batch":
    gdlab.run_batch(gdlab.get_problem("himmelblau"), "gd", np.zeros((1, 2)), 0.01)
    print(devices._kept == [(devices.MMAP_THRESHOLD, devices.TRIM_THRESHOLD)])     # set by the batch
for _ in range(3):                      # a 20 MB buffer allocated, touched and freed, three times
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    np.ones(5 << 20, np.float32)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults_in_fresh_process(batch: bool, **env):
    rc, out, err = devices_in_fresh_process(FAULTS, ["batch" if batch else "import"], **env)
    assert rc == 0, err
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_after_a_batch_freed_buffers_are_reused_not_faulted_in_again():
    # glibc's own malloc: the second buffer is mapped anew (the threshold adapts only after it)
    assert int(faults_in_fresh_process(False)[1]) > 0         # importing gdlab changes nothing
    # after the engine's first batch the first buffer may take pages from the system; the next reuse them
    out = faults_in_fresh_process(True)
    assert out[0] == "True" and out[2:] == ["0", "0"]
    # glibc's malloc set by the caller is kept, and then each buffer is mapped anew
    out = faults_in_fresh_process(True, MALLOC_MMAP_THRESHOLD_="131072")
    assert out[0] == "False" and all(int(n) > 0 for n in out[1:])


def test_cpu_compiler_options_ask_for_512_bit_vectors_only_on_avx512(monkeypatch):
    from gdlab.engine import devices
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    monkeypatch.setattr(devices, "cpu_info", lambda: ("a CPU", frozenset({"avx2", "avx512f", "fma"})))
    assert devices.cpu_compiler_options() == {"xla_cpu_prefer_vector_width": 512}
    monkeypatch.setattr(devices, "cpu_info", lambda: ("a CPU", frozenset({"avx2", "fma"})))
    assert devices.cpu_compiler_options() is None
    # the caller's own choice in XLA_FLAGS is kept
    monkeypatch.setattr(devices, "cpu_info", lambda: ("a CPU", frozenset({"avx512f"})))
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_prefer_vector_width=256")
    assert devices.cpu_compiler_options() is None


def test_cpu_info_reads_the_model_and_the_flags():
    from gdlab.engine.devices import cpu_info
    model, flags = cpu_info()
    assert model
    if os.path.exists("/proc/cpuinfo"):
        text = open("/proc/cpuinfo").read()
        assert model in text and flags and all(f" {f}" in text for f in list(flags)[:20])
