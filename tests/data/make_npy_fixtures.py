"""Writes the .npy fixtures of tests/test_npy.cpp with NumPy (run with a Python that has NumPy >= 1.23;
these were made with NumPy 1.24.2). test_npy.cpp checks that trident reads them and that trident writes the
same tensors byte for byte as NumPy did."""
import os

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))


def save(name, array, **kwargs):
    path = os.path.join(here, name)
    if kwargs:
        with open(path, "wb") as f:
            np.lib.format.write_array(f, array, **kwargs)
    else:
        np.save(path, array)


# Supported dtypes and shapes: trident writes these byte for byte.
save("f32_2x3.npy", np.array([[1.5, -2.25, 3.0], [0.0, 1e-3, -7.5]], np.float32))
save("f64_scalar.npy", np.array(3.25, np.float64))
save("i64_5.npy", np.array([0, -1, 2**40, -2**62, 7], np.int64))
save("bool_2x2.npy", np.array([[True, False], [False, True]]))
save("f32_empty_0x3.npy", np.zeros((0, 3), np.float32))
save("f64_100.npy", np.arange(100, dtype=np.float64) / 8)
# Read-only cases.
save("f32_v2.npy", np.array([[1.0, 2.0], [3.0, 4.0]], np.float32), version=(2, 0))
save("f64_fortran.npy", np.asfortranarray(np.arange(6.0).reshape(2, 3)))
save("i32.npy", np.array([1, 2, 3], np.int32))
save("f4_big_endian.npy", np.array([1.0, 2.0], ">f4"))
