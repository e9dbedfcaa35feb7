"""The derivative rules as text, read from the rules themselves (for sg.viz.trace and learners).

There is no second copy of any formula: a rule written as a lambda is shown as its own body
(mul's first rule, `lambda g, ans, x, y: g * y`, reads "∂/∂x = g·y"), and a rule written as
a function by the first line of its docstring, which states its math.
"""
import ast
import functools
import inspect
import re

from scratchgrad.core.engine import per_input


def rule_formulas(op):
    """One line per input of op: '∂/∂x = g·y', or the rule's docstring, or why there is none."""
    rules = op.vjps
    if isinstance(rules, per_input):
        return [_per_input_text(op, rules, "i")]
    names = _input_names(rules)
    return [f"∂/∂{name} = {_rule_text(rule)}" if rule is not None else f"{name}: no gradient"
            for name, rule in zip(names, rules)]


def rule_formula(op, i):
    """The formula of op's rule for input i."""
    rules = op.vjps
    if isinstance(rules, per_input):
        return _per_input_text(op, rules, i)
    return rule_formulas(op)[i]


def _per_input_text(op, rules, i):
    """A variadic op's rule (cat), or a user's sg.Function, whose rule is its backward."""
    function = getattr(op, "function", None)
    if function is not None:
        doc = inspect.getdoc(function.backward)
        return f"∂/∂x_{i} from {function.__name__}.backward (your code)" + (
            f": {doc.splitlines()[0]}" if doc else "")
    return f"∂/∂x_{i} = {_rule_text(rules.rule)}"


def _input_names(rules):
    """The names the rules give the op's inputs (their parameters after g and ans)."""
    for rule in rules:
        code = getattr(rule, "__code__", None)
        if code is not None and code.co_argcount >= 2 + len(rules):
            return list(code.co_varnames[2:2 + len(rules)])
    return [f"x{i}" for i in range(len(rules))]


def _rule_text(rule):
    if isinstance(rule, functools.partial):
        rule = rule.func
    if rule.__name__ == "<lambda>":
        body = lambda_body(rule)
        if body is not None:
            return pretty(body)
    doc = inspect.getdoc(rule)
    if doc:
        return doc.splitlines()[0]
    return f"{rule.__qualname__} (no docstring)"


def pretty(expression):
    """Python arithmetic as it is written on paper: g * y -> g·y, np.cos(x) -> cos(x)."""
    expression = re.sub(r"\bcall\((\w+), ", r"\1(", expression)  # call(op, ...) runs op(...)
    return expression.replace(" * ", "·").replace("np.", "").replace("**", "^")


def lambda_body(fn):
    """The source of a lambda's body, found by parsing the file it was written in."""
    code = fn.__code__
    try:
        lambdas = _lambdas_in(inspect.getsourcefile(fn))
    except (OSError, TypeError, SyntaxError):
        return None
    params = code.co_varnames[:code.co_argcount]
    candidates = [node for node in lambdas.get(code.co_firstlineno, ())
                  if tuple(a.arg for a in node.args.args) == params]
    if len(candidates) > 1:  # several alike on one line: match the column where the code starts
        column = next((c for _, _, c, _ in code.co_positions() if c is not None), None)
        candidates = [n for n in candidates
                      if n.body.col_offset <= (column or 0) <= (n.body.end_col_offset or 0)] or candidates
    return ast.unparse(candidates[0].body) if candidates else None


@functools.cache
def _lambdas_in(path):
    """Every lambda in a source file, by the line it starts on."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Lambda):
            found.setdefault(node.lineno, []).append(node)
    return found
