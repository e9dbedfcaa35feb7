"""PyTorch's named matrix products (mm, bmm, mv, dot, outer, addmm): matmul with the operand
ranks each name promises checked first, as PyTorch checks them, so a wrong rank is an error
naming the op rather than a product of another kind. Their derivatives are matmul's."""
from scratchgrad.core.errors import ShapeError, describe_shape
from scratchgrad.ops.elementwise import as_tensor, matmul, mul
from scratchgrad.ops.shapes import reshape

__all__ = ["addmm", "bmm", "dot", "mm", "mv", "outer"]


def _ranks(name, tensors, ranks):
    """The tensors, after checking each has the rank its op needs."""
    tensors = [as_tensor(t) for t in tensors]
    for position, (t, rank) in enumerate(zip(tensors, ranks)):
        if t.ndim != rank:
            kinds = {1: "a 1-D tensor (a vector)", 2: "a 2-D tensor (a matrix)",
                     3: "a 3-D tensor (a batch of matrices)"}
            raise ShapeError(f"{name}: argument {position + 1} must be {kinds[rank]}, got shape "
                             f"{describe_shape(t.shape)}")
    return tensors


def _lined_up(name, operands, ranks, inner):
    """The two operands, after checking their ranks and that dimension inner[0] of the first
    meets dimension inner[1] of the second."""
    a, b = _ranks(name, operands, ranks)
    if a.shape[inner[0]] != b.shape[inner[1]]:
        raise ShapeError(f"{name}: shapes {describe_shape(a.shape)} and {describe_shape(b.shape)} "
                         f"cannot be multiplied ({a.shape[inner[0]]} != {b.shape[inner[1]]})")
    return a, b


def mm(input, mat2):
    """The product of two matrices, (n, k) @ (k, m)."""
    return matmul(*_lined_up("mm", (input, mat2), (2, 2), (1, 0)))


def bmm(input, mat2):
    """Matrix products batch by batch, (B, n, k) @ (B, k, m), with no broadcasting."""
    a, b = _lined_up("bmm", (input, mat2), (3, 3), (2, 1))
    if a.shape[0] != b.shape[0]:
        raise ShapeError(f"bmm: batch sizes differ: {describe_shape(a.shape)} and "
                         f"{describe_shape(b.shape)}")
    return matmul(a, b)


def mv(input, vec):
    """A matrix times a vector, (n, k) @ (k,)."""
    return matmul(*_lined_up("mv", (input, vec), (2, 1), (1, 0)))


def dot(input, other):
    """The dot product of two vectors of one length, a 0-d tensor."""
    return matmul(*_lined_up("dot", (input, other), (1, 1), (0, 0)))


def outer(input, vec2):
    """The outer product of two vectors: out[i, j] = a[i]·b[j]."""
    a, b = _ranks("outer", (input, vec2), (1, 1))
    return mul(reshape(a, (-1, 1)), b)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta·input + alpha·(mat1 @ mat2), input broadcast to the product's shape."""
    product = mm(mat1, mat2)
    if alpha != 1:
        product = product * alpha
    return product + (input if beta == 1 else as_tensor(input) * beta)
