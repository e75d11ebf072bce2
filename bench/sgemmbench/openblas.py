"""OpenBLAS SGEMM timing server for sgemmbench (embedded in its binary).

Reads one JSON request per line on stdin:
  {"name", "transA", "transB", "m", "n", "k", "seconds"}
times cblas_sgemm (row-major, alpha 1, beta 0) of Debian's libblas.so.3 on
that shape for about `seconds`, and answers one JSON line {"gflops": ...}.
The first line it prints describes the library. The thread count comes from
OPENBLAS_NUM_THREADS in the environment.
"""
import ctypes, json, os, sys, time

import numpy as np

lib = ctypes.CDLL('libblas.so.3')
info = dict(OPENBLAS_NUM_THREADS=os.environ.get('OPENBLAS_NUM_THREADS'))
try:
    lib.openblas_get_corename.restype = ctypes.c_char_p
    info.update(lib='OpenBLAS', corename=lib.openblas_get_corename().decode(),
                threads=lib.openblas_get_num_threads())
except AttributeError:
    info.update(lib='libblas.so.3 is not OpenBLAS (apt-get install libopenblas0-pthread)')
sgemm = lib.cblas_sgemm
fp = ctypes.POINTER(ctypes.c_float)
sgemm.argtypes = [ctypes.c_int] * 6 + [ctypes.c_float, fp, ctypes.c_int, fp, ctypes.c_int,
                                       ctypes.c_float, fp, ctypes.c_int]
sgemm.restype = None
ROW, NOTRANS, TRANS = 101, 111, 112
print(json.dumps(info), flush=True)

rng = np.random.default_rng(0)
cache = {}
for line in sys.stdin:
    s = json.loads(line)
    key = (s['transA'], s['transB'], s['m'], s['n'], s['k'])
    if key not in cache:
        m, n, k, ta, tb = s['m'], s['n'], s['k'], s['transA'], s['transB']
        a = rng.standard_normal((k, m) if ta else (m, k), dtype=np.float32)
        b = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32)
        c = np.zeros((m, n), dtype=np.float32)
        args = (ROW, TRANS if ta else NOTRANS, TRANS if tb else NOTRANS, m, n, k, 1.0,
                a.ctypes.data_as(fp), a.shape[1], b.ctypes.data_as(fp), b.shape[1], 0.0,
                c.ctypes.data_as(fp), n)
        cache = {key: (args, (a, b, c))}  # keep one shape's arrays alive
        sgemm(*args)  # warm-up
    args = cache[key][0]
    flop = 2.0 * s['m'] * s['n'] * s['k']
    iters, elapsed = 0, 0.0
    t0 = time.perf_counter()
    while elapsed < s['seconds']:
        sgemm(*args)
        iters += 1
        elapsed = time.perf_counter() - t0
    print(json.dumps(dict(gflops=flop * iters / elapsed / 1e9, iters=iters)), flush=True)
