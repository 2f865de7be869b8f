"""Two LLVM intrinsics numba does not expose: a cache prefetch and float16 -> float64.

``prefetch(array, index)`` asks the CPU to start loading the cache line of
``array[index]`` (``llvm.prefetch``, read, keep in all levels): the loops call it for the
next document's forward-index row while they score the current one, so a random row costs
one overlapped miss instead of a stall. ``half_to_double(bits)`` reads a uint16 holding an
IEEE half (``np.float16(...).view(np.uint16)``): numba has no float16 arithmetic, LLVM's
``fpext`` from ``half`` does it in one instruction on F16C/AVX-512 CPUs.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def prefetch(typingctx, array, index):
    """Prefetch the cache line holding ``array[index]`` (no bounds check; a hint only)."""
    if not isinstance(array, types.Array) or not isinstance(index, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        arr = context.make_array(signature.args[0])(context, builder, args[0])
        pos = context.cast(builder, args[1], signature.args[1], types.intp)
        ptr = builder.bitcast(builder.gep(arr.data, [pos]), ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32]),
            "llvm.prefetch.p0i8")
        builder.call(fn, [ptr, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(array, index), codegen


@intrinsic
def half_to_double(typingctx, bits):
    """The float64 value of the IEEE half whose bits are ``bits`` (a uint16)."""
    if not isinstance(bits, types.Integer) or bits.bitwidth != 16:
        return None

    def codegen(context, builder, signature, args):
        half = builder.bitcast(args[0], ir.HalfType())
        return builder.fpext(half, ir.DoubleType())

    return types.float64(bits), codegen
