"""The autograd engine: primitives, graph nodes and the backward pass.

The engine knows no op by name. A `Primitive` is a NumPy forward plus one
derivative rule (a vector-Jacobian product, "vjp") per input; `apply` runs the
forward and, when an input requires grad, records a `Node`. `backward` walks
the nodes in reverse creation order, asks each rule for its inputs' gradients,
and undoes broadcasting in one place (`fit_gradient`).

Each rule is written once, over values with arithmetic operators and NumPy
functions. In an ordinary backward those values are raw NumPy arrays (fast).
Under `create_graph=True` they are Tensors: Tensor implements NumPy's
`__array_ufunc__`/`__array_function__`, so `np.cos(x)` inside a rule becomes
scratchgrad's `cos`, the rule records a graph, and gradients of gradients work.

Debugging tools (anomaly mode, sg.viz.trace, growth warnings) plug in through
core/hooks.py; with none on, the engine pays one truth test per op and per backward.
"""
import dis
import sys
import threading

import numpy as np

from scratchgrad.core import versions
from scratchgrad.core.errors import GraphError, InPlaceError, ShapeError, describe_shape
from scratchgrad.core.gradmode import grad_mode
from scratchgrad.core.hooks import (
    backward_listeners,
    backward_watchers,
    forward_checks,
    run_forward_checks,
    watchers_of_this_thread,
)
from scratchgrad.core.quiet import silenced
from scratchgrad.core.tensor import Tensor, retaining_grad

# ---------------------------------------------------------------- primitives and nodes

class Primitive:
    """An op: a NumPy forward and, per input, a rule g -> that input's gradient.

    A rule is called as rule(g, ans, *args, **params): g is the gradient of
    the output, ans the output, args the inputs. `saves=False` marks ops
    whose rules read none of these, so a second backward through them works
    without retain_graph, as in PyTorch.
    """
    __slots__ = ("doc", "forward", "function", "name", "reads", "saves", "vjps")

    def __init__(self, name, forward, *vjps, saves=True):
        self.name = name
        self.doc = None  # the public function's docstring, for ops made from a table of rows
        self.forward = forward
        # per_input(rule) stands for the rules of every input of a variadic op (cat)
        self.vjps = vjps[0] if len(vjps) == 1 and isinstance(vjps[0], per_input) else vjps
        # What each input's rule reads (input positions, ANS for the output), so backward can
        # check that none of it was modified in place since; an op with saves=False reads
        # only shapes, which in-place ops can't change.
        if not saves:
            self.reads = None
        elif isinstance(self.vjps, per_input):
            self.reads = SameForEvery(per_input_reads(self.vjps.rule))
        else:
            self.reads = tuple(rule_reads(rule) for rule in self.vjps)
        self.saves = saves

    def __repr__(self):
        return f"<primitive {self.name}>"


ANS = -1    # in Primitive.reads: the rule reads the op's output
EVERY = -2  # ... or every input (a per_input rule that reads its tuple of inputs)


class SameForEvery(tuple):
    """A per_input op's reads: the same positions whichever input the rule serves."""

    def __getitem__(self, i):
        return tuple(self)


def per_input_reads(rule):
    """What a per_input rule, rule(g, ans, inputs, ..., index), reads: the output and/or every
    input; or, for a rule that hands them to a vjp with one parameter per input (memoized), what
    that vjp reads."""
    vjp = getattr(rule, "vjp", None)
    if vjp is not None:
        return rule_reads(vjp)
    return tuple(EVERY if position == 0 else position for position in rule_reads(rule)
                 if position in (ANS, 0))


def rule_reads(rule):
    """The values a rule reads, from its code: input positions, and ANS if it reads the output.

    A rule is rule(g, ans, x, y, ..., **params); a parameter its code never loads is a value it
    doesn't need, so modifying that value in place after the forward is harmless."""
    code = getattr(rule, "__code__", None)
    if code is None:
        return ()
    loaded = set()
    for instruction in dis.get_instructions(code):
        if instruction.opname.startswith(("LOAD_FAST", "LOAD_DEREF", "LOAD_CLOSURE")):
            value = instruction.argval
            loaded.update(value if isinstance(value, tuple) else (value,))
    names = code.co_varnames[:code.co_argcount]
    return tuple(ANS if i == 1 else i - 2 for i, name in enumerate(names) if i >= 1 and name in loaded)


class Node:
    """How a tensor was made: the op, its inputs (Tensors or constants) and params."""
    __slots__ = ("__weakref__", "args", "inputs", "op", "params", "seq")

    def __init__(self, op, inputs, args, params):
        self.op = op
        self.inputs = inputs   # the Tensors and constants as given, for the graph's structure
        self.args = args       # their raw values, what the rules read; None once released
        self.params = params
        self.seq = next_seq()

    def name(self):
        return self.op.name

    @property
    def next_functions(self):
        """The nodes (or leaf tensors) this node's inputs came from, like PyTorch's."""
        return tuple(getattr(x, "grad_fn", None) or x for x in self.inputs
                     if getattr(x, "requires_grad", False))

    def __repr__(self):
        return f"<{self.op.name.title().replace('_', '')}Backward>"


# A node's inputs were always created before it, so sorting by this counter
# gives a topological order without any graph search (and without recursion).
next_seq = versions.next_seq
NO_PARAMS = {}
_new = object.__new__


def apply(op, inputs, args, params=NO_PARAMS):
    """Run op.forward on the raw args and record a node if any input requires grad."""
    return record(op, op.forward(*args, **params), inputs, args, params)


def record(op, data, inputs, args, params=NO_PARAMS):
    """Wrap op's forward result `data` in a Tensor, linked into the graph if an input requires grad."""
    if forward_checks:  # a debugging mode is on (core/hooks.py)
        run_forward_checks(op, data, args)
    out = _new(Tensor)
    out._data = data
    out._grad = None
    out._storage = out._view = None
    if grad_mode.enabled:
        for x in inputs:
            if isinstance(x, Tensor) and x.requires_grad:
                node = _new(Node)  # Node's fields set inline: this is the hottest line of a forward
                node.op = op
                node.inputs = inputs
                node.args = args
                node.params = params
                node.seq = next_seq()
                out.requires_grad = True
                out.grad_fn = node
                return out
    out.requires_grad = False
    out.grad_fn = None
    return out


class per_input:
    """The rules of an op with any number of inputs (cat): one rule told which input it serves."""
    __slots__ = ("rule",)

    def __init__(self, rule):
        self.rule = rule

    def __getitem__(self, index):
        """The rule for input `index`, called as the other ops' rules are: rule(g, ans, *args)."""
        rule = self.rule
        return lambda g, ans, *args, **params: rule(g, ans, args, index=index, **params)


def call(op, *args, **params):
    """Use a primitive inside a rule: arrays in, array out; Tensors in, a recorded Tensor out."""
    if any(isinstance(a, Tensor) for a in args):
        raw = tuple(a._data if isinstance(a, Tensor) else a for a in args)
        return apply(op, args, raw, params)
    return op.forward(*args, **params)


# ---------------------------------------------------------------- backward

def sum_to(g, shape):
    """Undo broadcasting: sum g over the axes that broadcasting added or stretched."""
    lead = g.ndim - len(shape)
    stretched = tuple(i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1)
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    return g.sum(axis=tuple(range(lead))) if lead else g


def fit_gradient(g, x):
    """Bring a rule's result to x's shape and dtype: the one place broadcasting is undone."""
    shape = x._data.shape
    if g.shape != shape:
        g = sum_to(g, shape)
    dtype = x._data.dtype
    if g.dtype is not dtype and g.dtype != dtype:
        g = g.astype(dtype)
    return g


def graph_in_reverse_order(roots, freed_ok=False, seen_inputs=None):
    """Every non-leaf tensor that leads to the roots, newest first (consumers before producers).

    A graph whose saved values an earlier backward freed is an error, unless freed_ok (sg.viz
    only reads its structure). Where an in-place op has since rebound an input (see
    versions.rebind), the walk follows what the input was when the node was made, and fills
    seen_inputs (a dict, if given) with node.seq -> the inputs as that node saw them."""
    found = {}
    rebound = versions.rewrites
    stack = [r for r in roots if r.grad_fn is not None]
    while stack:
        t = stack.pop()
        node = t.grad_fn
        if node.seq in found:
            continue
        if node.args is None and not freed_ok:
            raise GraphError(
                f"backward: the graph through {node!r} was already freed by an earlier "
                "backward. If a tensor carries over from an earlier step (an RNN's hidden "
                "state, say), detach it at the step boundary: `h = h.detach()`. To go through "
                "the same graph twice on purpose, pass retain_graph=True to the first backward()")
        found[node.seq] = t
        inputs = node.inputs
        if rebound:
            inputs = tuple(versions.as_seen_by(x, node.seq, _stand_in) if id(x) in rebound else x
                           for x in inputs)
            if seen_inputs is not None:
                seen_inputs[node.seq] = inputs
        for x in inputs:
            if isinstance(x, Tensor) and x.grad_fn is not None:
                stack.append(x)
    return [found[seq] for seq in sorted(found, reverse=True)]


def _stand_in(x, grad_fn, requires_grad):
    """A tensor for x as it was before an in-place op rebound it: same memory, old history."""
    t = Tensor._wrap(x._data)
    t._storage = x._storage
    t.grad_fn = grad_fn
    t.requires_grad = requires_grad
    return t


def check_saved_values(node, out, inputs):
    """Raise if a value node's rules will read was modified in place after node was made."""
    reads = node.op.reads
    if reads is None:
        return
    for i, x in enumerate(inputs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        positions = reads[i]
        if EVERY in positions:
            positions = (*range(len(inputs)), *(p for p in positions if p == ANS))
        for position in positions:
            if position == ANS:
                value, storage = out, versions.output_storage.get(node) or out._storage
            elif position < len(inputs):
                value = inputs[position]
                storage = getattr(value, "_storage", None)
            else:  # a parameter (axis, scale, ...) the rule's signature names after the inputs
                continue
            write = storage and storage.written_after(node.seq)
            if write:
                raise _modified_error(node, position, value, storage, write)


def _modified_error(node, position, value, storage, write):
    _, version_after, where = write
    which = "its output" if position == ANS else f"its input {position}"
    return InPlaceError(
        f"backward: one of the variables needed for gradient computation has been modified by "
        f"an inplace operation: {node.op.name} saved {which} (shape "
        f"{describe_shape(value.shape)}, dtype {value.dtype}) at version {version_after - 1}, "
        f"and it is now at version {storage.version}. The modification: "
        f"{versions.describe_line(where)}. Modify a copy instead (x = x.clone()), or do the "
        f"in-place op after backward()")


def run_backward(roots, root_grads, retain_graph, create_graph, capture=None):
    """Propagate root_grads back through the graph.

    Without `capture`, leaves accumulate into `.grad`. With `capture` (a dict
    id(tensor) -> None, from `sg.grad`), the gradients of those tensors are
    collected into it instead and no `.grad` is touched.
    """
    seen_inputs = {}
    order = graph_in_reverse_order(roots, seen_inputs=seen_inputs)
    # Saved values need checking only if something was written in place since the oldest node.
    check_after = versions.last_write if order and versions.last_write > order[-1].grad_fn.seq else 0
    grads = {}  # node -> the gradient of its output, summed over the consumers seen so far
    # ids of arrays that someone else may hold: the caller's gradients, and those already
    # stored as a leaf's .grad (a rule like add's hands the same g to both its inputs).
    shared = {id(g) for g in root_grads}
    for listener in backward_listeners:
        listener(roots, order)
    for root, g in zip(roots, root_grads):
        _deliver(root, g, grads, capture, shared)
    watchers = watchers_of_this_thread() if backward_watchers else ()
    watched = capture is not None or len(retaining_grad) > 0 or len(watchers) > 0
    for watcher in watchers:
        watcher.begin(order)
    # Rules record a graph only for create_graph (set directly: this runs once per backward).
    previous_mode, grad_mode.enabled = grad_mode.enabled, bool(create_graph)
    try:
        _propagate(order, grads, seen_inputs, check_after, watched, capture, shared, watchers,
                   retain_graph, create_graph)
    finally:
        grad_mode.enabled = previous_mode


def _propagate(order, grads, seen_inputs, check_after, watched, capture, shared, watchers,
               retain_graph, create_graph):
    """The backward pass proper: each node's rules, newest node first."""
    for t in order:
        node = t.grad_fn
        g = grads.pop(node, None)
        if g is None:
            continue
        inputs = seen_inputs.get(node.seq, node.inputs) if seen_inputs else node.inputs
        if node.seq < check_after:
            check_saved_values(node, t, inputs)
        rules = node.op.vjps
        if watched:
            rules = _watch(t, g, rules, capture, shared, watchers)
        if create_graph:
            values, ans = inputs, t
        else:
            values, ans = node.args, t._data
        params = node.params
        for i, x in enumerate(inputs):
            if not isinstance(x, Tensor) or not x.requires_grad:
                continue
            # Spelled out by arity: a call with *values costs more than most rules' arithmetic.
            if params:
                if type(rules) is per_input:  # cat's: all inputs as one tuple, since spreading
                    gx = rules.rule(g, ans, values, index=i, **params)  # n into n calls is n²
                else:
                    gx = rules[i](g, ans, *values, **params)
            elif len(values) == 2:
                gx = rules[i](g, ans, values[0], values[1])
            elif len(values) == 1:
                gx = rules[i](g, ans, values[0])
            else:
                gx = rules[i](g, ans, *values)
            if gx is None:
                continue
            xd = x._data
            if gx.shape != xd.shape or gx.dtype is not xd.dtype:
                gx = fit_gradient(gx, x)
            producer = x.grad_fn
            if producer is None:
                _deliver(x, gx, grads, capture, shared)
            else:
                previous = grads.get(producer)
                if previous is None:
                    grads[producer] = gx
                elif sys.getrefcount(previous) == ONLY_PENDING and _own_memory(previous):
                    np.add(previous, gx, out=previous)  # see ONLY_PENDING
                else:
                    grads[producer] = previous + gx
        if not retain_graph and node.op.saves:
            node.args = None


def _own_memory(array):
    return type(array) is np.ndarray and array.base is None and array.flags.writeable


def _references_of_a_pending_gradient():
    pending = {0: np.empty(1)}
    previous = pending.get(0)
    return sys.getrefcount(previous)


# How many references _propagate counts on a pending gradient that nothing else refers to (the
# dict, its local name, getrefcount's argument: 3 on CPython 3.11, measured here, not assumed).
# Such an array (a rule's fresh result: not g handed on as it is, a view, or an array a watcher
# kept) takes the next term in place, as PyTorch's engine does when it holds the only reference:
# one fresh array fewer per extra consumer (a GPT's q, k, v split, its residual stream).
ONLY_PENDING = _references_of_a_pending_gradient()


def _watch(t, g, rules, capture, shared, watchers):
    """A non-leaf tensor's total gradient is known: give it to sg.grad, retain_grad and the
    watchers; returns the rules to run (wrapped so that watchers see what each returns)."""
    if capture is not None:
        if id(t) in capture:
            capture[id(t)] = g
    elif id(t) in retaining_grad:
        _accumulate(t, g, shared)
    if not watchers:
        return rules
    for watcher in watchers:
        watcher.node(t, g)
    return [_watched_rule(rules[i], t, i, watchers) for i in range(len(t.grad_fn.inputs))]


def _watched_rule(rule, t, i, watchers):
    """rule, reporting its result for input i, fitted to that input, to every watcher."""
    x = t.grad_fn.inputs[i]

    def watched(*args, **params):
        raw = rule(*args, **params)
        if raw is None:
            return None
        gx = fit_gradient(raw, x)
        for watcher in watchers:
            watcher.edge(t, i, raw, gx)
        return gx

    return watched


def _deliver(x, g, grads, capture, shared):
    """Hand g to tensor x: sum into the pending gradients, or into a leaf's .grad."""
    node = x.grad_fn
    if node is not None:
        previous = grads.get(node)
        grads[node] = g if previous is None else previous + g
    elif capture is not None:
        key = id(x)
        if key in capture:
            capture[key] = g if capture[key] is None else capture[key] + g
    else:
        _accumulate(x, g, shared)


# Leaves shared by threads that run backward at once: their .grad += g must not lose a term.
_accumulating = threading.Lock()


def _accumulate(x, g, shared):
    """Leaf accumulation: .grad += g, in place (so `g = w.grad` sees later backwards, as in
    PyTorch), never leaving .grad an alias of another array.

    A rule's fresh result is stored as it is; anything that may be held elsewhere (a view,
    the caller's gradient, an array already stored in another .grad) is copied first.
    """
    with _accumulating:
        if isinstance(g, Tensor):  # create_graph: keep the gradient's own graph
            x._grad = g if x._grad is None else x._grad + g
        elif x._grad is None:
            if (type(g) is not np.ndarray or g.base is not None or not g.flags.writeable
                    or id(g) in shared):
                g = np.array(g, dtype=x.dtype, copy=True)
            shared.add(id(g))
            x._grad = Tensor._wrap(g)
        else:
            grad = x._grad
            total = grad._data
            if (type(total) is np.ndarray and total.flags.writeable and id(total) not in shared
                    and total.shape == np.shape(g)):
                np.add(total, g, out=total, casting="unsafe")
            else:  # stored by this backward (a pending gradient may be the same array), or read-only
                grad._data = np.asarray(total + g, dtype=x.dtype)


def check_gradient(op, output, gradient):
    """A gradient passed to backward/grad must match the output's shape."""
    if gradient is None:
        if output._data.size != 1:
            raise GraphError(
                f"{op}: gradient can be omitted only for a one-element tensor, but the output "
                f"has shape {describe_shape(output.shape)}; pass gradient= of that shape")
        return np.ones(output.shape, dtype=output.dtype)
    data = gradient._data if isinstance(gradient, Tensor) else np.asarray(gradient, dtype=output.dtype)
    if data.shape != output.shape:
        raise ShapeError(f"{op}: gradient has shape {describe_shape(data.shape)} but the output "
                         f"has shape {describe_shape(output.shape)}")
    return data


def backward(tensor, gradient=None, retain_graph=None, create_graph=False):
    """Tensor.backward: accumulate d tensor / d leaf into every leaf's .grad."""
    if not tensor.requires_grad:
        raise GraphError("backward: this tensor does not require grad and has no grad_fn; "
                         "set requires_grad=True on the inputs you want gradients for")
    g = check_gradient("backward", tensor, gradient)
    if create_graph:
        g = gradient if isinstance(gradient, Tensor) else Tensor._wrap(g)
    if retain_graph is None:
        retain_graph = create_graph
    run_backward([tensor], [g], retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """sg.grad: the gradients of outputs w.r.t. inputs, returned as a tuple; .grad is untouched."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    for x in inputs:
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise GraphError("grad: every input must be a Tensor that requires grad")
    for y in outputs:
        if not y.requires_grad:
            raise GraphError("grad: an output does not require grad and has no grad_fn")
    root_grads = []
    for y, g in zip(outputs, grad_outputs):
        data = check_gradient("grad", y, g)
        root_grads.append((g if isinstance(g, Tensor) else Tensor._wrap(data)) if create_graph else data)
    if retain_graph is None:
        retain_graph = create_graph
    capture = {id(x): None for x in inputs}
    with silenced():  # no NumPy warning from the rules at inf or nan: see core/quiet.py
        run_backward(outputs, root_grads, retain_graph, create_graph, capture)
    results = []
    for i, x in enumerate(inputs):
        g = capture[id(x)]
        if g is None and not allow_unused:
            raise GraphError(f"grad: input {i} was not used to compute the outputs; "
                             "pass allow_unused=True to get None for it")
        results.append(g if g is None or isinstance(g, Tensor) else Tensor._wrap(np.array(g, copy=True)))
    return tuple(results)
