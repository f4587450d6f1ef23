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
