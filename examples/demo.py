"""scratchgrad's demo: the chain rule worked by hand, then by the library.

z = (x² + y)² at x = 2, y = 3:
    z      = (4 + 3)²            = 49
    ∂z/∂x  = 2(x² + y) · 2x      = 2·7·4 = 56
    ∂z/∂y  = 2(x² + y)           = 14
"""
import scratchgrad as sg


def chain_rule_example():
    x = sg.tensor(2.0, requires_grad=True)
    y = sg.tensor(3.0, requires_grad=True)
    z = (x**2 + y) ** 2
    z.backward()
    print("z = (x**2 + y)**2 at x = 2, y = 3")
    print(f"  z     = {z.item():g}   (by hand: 49)")
    print(f"  dz/dx = {x.grad.item():g}   (by hand: 2(x² + y)·2x = 56)")
    print(f"  dz/dy = {y.grad.item():g}   (by hand: 2(x² + y) = 14)")
    print(f"  z is {z!r}")


if __name__ == "__main__":
    chain_rule_example()
