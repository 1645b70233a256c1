"""Faster computations of the method's mathematics on CPU, exact to float rounding, behind one switch
(`switch.plain_kernels`; docs/method.md §9)."""
