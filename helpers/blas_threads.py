"""One BLAS thread per process, unless the user chose otherwise.

The series' matrices are small (at most 1,000 x 1,000, notebook 13), so extra BLAS threads
gain little on their own; and when processes share the cores (two notebooks tested at
once, a busy lab machine) they oversubscribe them, and a matrix product runs three to ten
times slower. The setting takes effect only where NumPy is not imported yet: a notebook's
first cell imports :mod:`helpers` first, which imports this module first.
"""

import os

for variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")
