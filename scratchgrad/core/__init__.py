"""The core: the Tensor, the autograd engine, and what both rest on (dtypes, devices, errors,
grad mode, version counters, the hook registry). It names no op and holds no debugging tool."""
