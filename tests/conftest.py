import os

# Tests that check sharding ask for two CPU devices; it must be set before JAX starts.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

# Compiled kernels go to one throw-away cache for the whole session (and the gdlab commands tests start),
# never to the user's ~/.cache.
import tempfile  # noqa: E402

os.environ.setdefault("GDLAB_CACHE_DIR", os.path.join(tempfile.gettempdir(), "gdlab-test-jax-cache"))

from gdlab.engine.compile_cache import enable_compile_cache  # noqa: E402

enable_compile_cache()

import jax  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _x64_as_it_was():
    """Each test starts with JAX's 64-bit mode as the session began: importing all of sif2jax (as
    ``pytest.importorskip("sif2jax")`` does) turns it on for the whole process, and a later test that
    checks float64 is refused without it then passed or failed by the order the tests ran in."""
    before = jax.config.jax_enable_x64
    yield
    jax.config.update("jax_enable_x64", before)
