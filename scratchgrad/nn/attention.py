"""nn.MultiheadAttention, with PyTorch's arguments, parameter names, masks and outputs."""

from scratchgrad.core import dtypes
from scratchgrad.core.errors import (
    ArgumentError,
    ShapeError,
    ValueRangeError,
    describe_shape,
)
from scratchgrad.nn import functional as F
from scratchgrad.nn import init
from scratchgrad.nn.layers import Linear
from scratchgrad.nn.module import Module, check_device, new_parameter
from scratchgrad.ops import as_tensor


class MultiheadAttention(Module):
    """Attention over num_heads heads of embed_dim / num_heads features each:
    out_proj(concat_h softmax(Q_h K_hᵀ / √d + mask) V_h), Q, K, V projected by in_proj_weight
    (q_proj_weight, k_proj_weight, v_proj_weight when kdim or vdim differ from embed_dim)."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        check_device("MultiheadAttention", device)
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueRangeError(f"MultiheadAttention: embed_dim and num_heads must be greater "
                                  f"than 0, got embed_dim={embed_dim} and num_heads={num_heads}")
        if embed_dim % num_heads:  # PyTorch asserts this
            raise ArgumentError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible "
                                f"by num_heads ({num_heads})")
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not "
                                      "supported by scratchgrad")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first = dropout, batch_first
        self.head_dim = embed_dim // num_heads
        if self._qkv_same_embed_dim:
            self.in_proj_weight = new_parameter(3 * embed_dim, embed_dim, dtype=dtype)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = new_parameter(embed_dim, embed_dim, dtype=dtype)
            self.k_proj_weight = new_parameter(embed_dim, self.kdim, dtype=dtype)
            self.v_proj_weight = new_parameter(embed_dim, self.vdim, dtype=dtype)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = new_parameter(3 * embed_dim, dtype=dtype)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        self._reset_parameters()

    def _reset_parameters(self):
        """Xavier-uniform projections and zero biases; out_proj.weight keeps Linear's init."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    # ------------------------------------------------------------ checks
    def _inputs(self, query, key, value):
        """query, key, value as (N, length, features), and whether they came unbatched."""
        q, k, v = as_tensor(query), as_tensor(key), as_tensor(value)
        if q.ndim not in (2, 3):
            raise ShapeError(f"MultiheadAttention: query should be unbatched 2D or batched 3D, "
                             f"got shape {describe_shape(q.shape)}")
        if k.ndim != q.ndim or v.ndim != q.ndim:
            raise ShapeError(f"MultiheadAttention: key and value must have the query's rank "
                             f"({q.ndim}-D), got key {describe_shape(k.shape)} and value "
                             f"{describe_shape(v.shape)}")
        unbatched = q.ndim == 2
        if unbatched:
            q, k, v = q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0)
        elif not self.batch_first:
            q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)
        for name, t, size in (("query", q, self.embed_dim), ("key", k, self.kdim),
                              ("value", v, self.vdim)):
            if t.shape[-1] != size:
                raise ShapeError(f"MultiheadAttention: was expecting embedding dimension of "
                                 f"{size} for the {name}, but got {t.shape[-1]} (shape "
                                 f"{describe_shape(t.shape)})")
        if k.shape[:2] != v.shape[:2] or k.shape[0] != q.shape[0]:
            raise ShapeError(f"MultiheadAttention: key {describe_shape(k.shape)} and value "
                             f"{describe_shape(v.shape)} must have the same batch and length, "
                             f"and the query's batch ({q.shape[0]})")
        return q, k, v, unbatched

    def _masks(self, attn_mask, key_padding_mask, n, length, source, unbatched):
        """The two masks merged as (float bias or None, bool drop or None) over (N, H, L, S)."""
        bias, drop = None, None
        if attn_mask is not None:
            mask = as_tensor(attn_mask)
            heads = (n * self.num_heads, length, source)
            if mask.shape == (length, source):
                mask = mask.reshape(1, 1, length, source)
            elif mask.shape == heads:
                mask = mask.reshape(n, self.num_heads, length, source)
            else:
                raise ShapeError(f"MultiheadAttention: attn_mask should have shape "
                                 f"{describe_shape((length, source))} or "
                                 f"{describe_shape(heads)}, got {describe_shape(mask.shape)}")
            bias, drop = self._split_mask(mask)
        if key_padding_mask is not None:
            mask = as_tensor(key_padding_mask)
            expected = (source,) if unbatched else (n, source)
            if mask.shape != expected:
                raise ShapeError(f"MultiheadAttention: key_padding_mask should have shape "
                                 f"{describe_shape(expected)}, got {describe_shape(mask.shape)}")
            padding_bias, padding_drop = self._split_mask(mask.reshape(n, 1, 1, source))
            if padding_bias is not None:
                bias = padding_bias if bias is None else bias + padding_bias
            if padding_drop is not None:
                drop = padding_drop if drop is None else drop | padding_drop
        return bias, drop

    def _split_mask(self, mask):
        """True (bool) means 'don't attend' here, the opposite of scaled_dot_product_attention."""
        if mask.dtype == dtypes.bool_:
            return None, mask._data
        if mask.dtype.kind != "f":
            raise TypeError(f"MultiheadAttention: only bool and floating types of masks are "
                            f"supported, got {mask.dtype}")
        return mask.astype(self.out_proj.weight.dtype), None

    # ------------------------------------------------------------ forward
    def _project(self, q, k, v):
        e = self.embed_dim
        b = self.in_proj_bias
        b_q, b_k, b_v = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            if q is k and k is v:  # self-attention: one product for all three
                return _thirds(F.linear(q, w, b))
            w_q, w_k, w_v = w[:e], w[e:2 * e], w[2 * e:]
        else:
            w_q, w_k, w_v = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return F.linear(q, w_q, b_q), F.linear(k, w_k, b_k), F.linear(v, w_v, b_v)

    def _heads(self, x):
        """(N, L, E) -> (N, heads, L, head_dim)."""
        n, length, _ = x.shape
        return x.reshape(n, length, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        same = query is key and key is value
        q, k, v, unbatched = self._inputs(query, key, value)
        if same:
            k = v = q
        n, length, source = q.shape[0], q.shape[1], k.shape[1]
        if is_causal and attn_mask is None:
            raise RuntimeError("MultiheadAttention: Need attn_mask if specifying the is_causal "
                               "hint (is_causal says that attn_mask is the causal mask)")
        if is_causal and key_padding_mask is None and not need_weights:
            bias, drop = None, "causal"  # the hint: attn_mask is the causal mask
        else:
            bias, drop = self._masks(attn_mask, key_padding_mask, n, length, source, unbatched)
        q, k, v = (self._heads(t) for t in self._project(q, k, v))
        weights = F._attention_weights(q, k, None, bias, drop, masked_rows_nan=need_weights)
        if self.training and self.dropout > 0:
            weights = F.dropout(weights, self.dropout)
        out = (weights @ v).transpose(1, 2).reshape(n, length, self.embed_dim)
        out = self.out_proj(out)
        if unbatched:
            out = out.squeeze(0)
        elif not self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(1)
        return out, (weights.squeeze(0) if unbatched else weights)


def _thirds(x):
    e = x.shape[-1] // 3
    return x[..., :e], x[..., e:2 * e], x[..., 2 * e:]
